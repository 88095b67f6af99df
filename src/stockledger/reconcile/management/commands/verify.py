import json

from django.core.management.base import BaseCommand, CommandError

from stockledger.core.errors import DomainError
from stockledger.reconcile.progress import bar
from stockledger.reconcile.verify import DEFAULT_CHUNK_SIZE, verify


class Command(BaseCommand):
    help = "Check the invariants (DESIGN §1) and print every drift row; exit status 1 when anything drifted."

    def add_arguments(self, parser):
        parser.add_argument("--scope", default=None, help="invariant ids, comma-separated (e.g. I1,I4); default all")
        parser.add_argument("--json", action="store_true", dest="as_json", help="print the report as JSON")
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="items per chunk")

    def handle(self, *args, scope=None, as_json=False, chunk_size=DEFAULT_CHUNK_SIZE, **opts):
        try:
            with bar(self.stdout, scope, "verify") as progress:
                report = verify(scope, chunk_size=chunk_size, progress=progress)
        except DomainError as e:
            raise CommandError(e.message) from None
        if as_json:
            self.stdout.write(json.dumps(report.as_dict(), indent=2))
        else:
            self.stdout.write(report.summary_line())
            for inv_id, n in report.counts["drift"].items():
                self.stdout.write(f"  {inv_id}: {'ok' if not n else f'{n} drift row(s)'}")
            if not report.ok:
                self.stdout.write("")
                self.stdout.write(report.table())
        if not report.ok:
            raise CommandError(f"{len(report.drift)} drift row(s) found", returncode=1)
