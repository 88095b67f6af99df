import argparse

from django.contrib.auth import get_user_model
from django.core.management.base import BaseCommand, CommandError

from stockledger.core.errors import DomainError
from stockledger.reconcile.progress import bar
from stockledger.reconcile.recompute import SYSTEM_USERNAME, recompute
from stockledger.reconcile.runlock import RecomputeRunning
from stockledger.reconcile.verify import DEFAULT_CHUNK_SIZE, format_table


def _run_id(value: str) -> int:
    if not value.isdigit() or int(value) < 1:
        raise argparse.ArgumentTypeError(f"not a run id: {value!r}")
    return int(value)


class Command(BaseCommand):
    help = (
        "Set batch and inventory totals from the ledger where they drifted (audited, idempotent). "
        "Exit status 2 when another run holds the lock."
    )

    def add_arguments(self, parser):
        parser.add_argument("--dry-run", action="store_true", help="report what would change; write only the run")
        parser.add_argument("--scope", default=None, help="invariant ids, comma-separated (e.g. I1,I4); default all")
        parser.add_argument("--user", default=None, help="act as this user (LM or ADMIN); default: the system user")
        parser.add_argument("--chunk-size", type=int, default=DEFAULT_CHUNK_SIZE, help="items per chunk/transaction")
        parser.add_argument(
            "--resume",
            nargs="?",
            const=True,
            type=_run_id,
            default=None,
            metavar="RUN_ID",
            help="continue the latest run (or RUN_ID) after its last committed chunk, if it did not finish",
        )

    def handle(self, *args, dry_run=False, scope=None, user=None, chunk_size=DEFAULT_CHUNK_SIZE, resume=None, **opts):
        if resume is not None and (dry_run or scope):
            raise CommandError("--resume continues a run with its own scope; it takes no --dry-run or --scope.")
        actor = None
        if user and user != SYSTEM_USERNAME:  # the scheduler's named system user is the default actor
            actor = get_user_model().objects.filter(username=user).first()
            if actor is None:
                raise CommandError(f"Unknown user {user}.")
        try:
            with bar(self.stdout, scope, "recompute") as progress:
                run = recompute(
                    dry_run=dry_run, scope=scope, actor=actor, chunk_size=chunk_size, progress=progress, resume=resume
                )
        except RecomputeRunning as e:
            raise CommandError(e.message, returncode=2) from None
        except DomainError as e:
            raise CommandError(e.message) from None
        self.stdout.write(
            f"recompute run {run.pk}{' (dry run)' if run.dry_run else ''} {run.status} (by {run.actor_name}): "
            f"{run.rows_checked} rows checked, {run.rows_changed} changed"
            + (f" (resumed {len(run.summary['resumed'])}×)" if run.summary.get("resumed") else "")
        )
        for inv_id, s in run.summary["invariants"].items():
            parts = [f"drift {s['drift']}"]
            if s["report_only"]:
                parts.append("report only")
            elif run.dry_run:
                parts.append(f"would change {s.get('would_change', 0)}")
            else:
                parts += [f"changed {s['changed']}", f"skipped {s['skipped']}"]
            self.stdout.write(f"  {inv_id}: " + ", ".join(parts))
        if run.dry_run and run.planned:
            self.stdout.write("")
            self.stdout.write(format_table(run.planned))
        elif run.rows_changed:
            self.stdout.write(f"audit rows: action=recompute.repair job_id={run.job_id}")
