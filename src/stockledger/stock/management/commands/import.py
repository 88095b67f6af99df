"""`stockledger import batches|ledger FILE.csv`: opening balances and ledger postings from CSV.

Columns, examples and behaviour on errors: docs/import-export.md. Exit code 1 (and nothing imported)
when any line is bad; every bad line is printed with its line number on stderr.
"""

import time

from django.core.management.base import BaseCommand, CommandError
from tqdm import tqdm

from stockledger.core import context
from stockledger.core.errors import DomainError
from stockledger.stock.csvio import ImportRejected, batches_import, import_actor, ledger_import
from stockledger.stock.csvio.common import no_progress


class Command(BaseCommand):
    help = (
        "Import CSV: `batches` (opening balances: one new batch per line) or `ledger` (postings of "
        "non-batched items). All lines are checked first; any bad line: exit 1, nothing imported."
    )

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=["batches", "ledger"], help="what the file holds")
        parser.add_argument("file", help="the CSV file (UTF-8, header line first)")
        parser.add_argument("--user", help="act as this user (ADMIN or LOGISTICS_MANAGER); default: the system user")
        parser.add_argument(
            "--dry-run", action="store_true", help="check and import in a transaction, then roll it back"
        )
        parser.add_argument(
            "--chunk-size", type=int, default=5000, help="ledger: lines per read chunk and per bulk insert"
        )

    def handle(self, kind, file, user, dry_run, chunk_size, **opts):
        started = time.monotonic()
        try:
            actor = import_actor(user, create=not dry_run)
            with context.bound(context.job_id, context.new_id()) as job:
                if kind == "batches":
                    result = batches_import(path=file, actor=actor, dry_run=dry_run, progress=self._progress())
                else:
                    result = ledger_import(
                        path=file, actor=actor, dry_run=dry_run, chunk_size=chunk_size, progress=self._progress()
                    )
        except ImportRejected as e:
            for entry in e.extra["lines"]:
                self.stderr.write(f"line {entry['line']}: {'; '.join(entry['problems'])}")
            if (more := e.extra["bad_lines"] - e.extra["listed"]) > 0:
                self.stderr.write(f"... and {plural(more, 'more bad line', 'more bad lines')} (not listed)")
            raise CommandError(e.message) from None
        except DomainError as e:
            raise CommandError(e.message) from None
        self.stdout.write(self._summary(kind, file, result, actor, job, time.monotonic() - started))

    def _progress(self):
        """A tqdm bar on an interactive terminal; nothing in a pipe, a log or a test."""
        if not self.stdout.isatty():
            return no_progress
        stream = getattr(self.stdout, "_out", self.stdout)

        def bar(iterable, *, total=None, desc="", unit="line"):
            return tqdm(iterable, total=total, desc=desc, unit=unit, file=stream, dynamic_ncols=True)

        return bar

    @staticmethod
    def _summary(kind, file, r, actor, job, seconds) -> str:
        if kind == "batches":
            what = plural(r["batches"], "batch", "batches")
        else:
            what = plural(r["entries"], "ledger entry", "ledger entries")
        rows = plural(r["inventory_rows"], "inventory row", "inventory rows")
        tail = f"as {actor.username}, job {job}, {seconds:.1f}s"
        if r["dry_run"]:
            return f"Dry run: {file} is valid; {what} into {rows} would be imported ({tail}); nothing was written."
        lines = plural(r["lines"], "line", "lines")
        return f"Imported {what} from {file} ({lines}) into {rows}: document #{r['document_id']} ({tail})."


def plural(n: int, one: str, many: str) -> str:
    return f"{n} {one if n == 1 else many}"
