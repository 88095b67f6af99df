"""`stockledger export batches|inventory|ledger`: CSV to stdout or a file, streamed; see docs/import-export.md."""

import os
import sys
from pathlib import Path

from django.core.management.base import BaseCommand, CommandError

from stockledger.core.errors import DomainError
from stockledger.stock.csvio import KINDS, csv_export


class Command(BaseCommand):
    help = "Export batches, inventory rows or the ledger as CSV (the columns `import` reads, plus a few of its own)."

    def add_arguments(self, parser):
        parser.add_argument("kind", choices=KINDS)
        parser.add_argument("--output", "-o", metavar="FILE", help="write to this file (default: stdout)")
        parser.add_argument("--item", metavar="SKU", help="only this item")
        parser.add_argument("--warehouse", metavar="CODE", help="only this warehouse")
        parser.add_argument(
            "--include-empty",
            action="store_true",
            help="batches: also batches with nothing left (qty 0: such lines do not re-import)",
        )
        parser.add_argument(
            "--non-batched",
            action="store_true",
            help="ledger: only rows of non-batched items (what `import ledger` reads)",
        )

    def handle(self, kind, output, item, warehouse, include_empty, non_batched, **opts):
        options = {"kind": kind, "item": item, "warehouse": warehouse}
        options.update(include_empty=include_empty, non_batched=non_batched)
        try:
            if output is None:
                n = csv_export(out=self.stdout, **options)
                self.stderr.write(f"Exported {rows(n)} of {kind}.", style_func=str)  # stdout carries the CSV
                return
            path = Path(output)
            tmp = path.with_name(f".{path.name}.{os.getpid()}.tmp")
            try:
                with tmp.open("w", newline="", encoding="utf-8") as f:
                    n = csv_export(out=f, **options)
                os.replace(tmp, path)  # a failed export leaves no half-written file behind
            finally:
                tmp.unlink(missing_ok=True)
        except DomainError as e:
            raise CommandError(e.message) from None
        except BrokenPipeError:  # `stockledger export ledger | head`: the reader has gone, and so do we, quietly
            os.dup2(os.open(os.devnull, os.O_WRONLY), sys.stdout.fileno())
            return
        self.stdout.write(f"Exported {rows(n)} of {kind} to {output}.")


def rows(n: int) -> str:
    return f"{n} row{'' if n == 1 else 's'}"
