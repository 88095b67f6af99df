"""recompute: repair drift chunk by chunk under a database-wide run lock, audited and idempotent.

For each chunk (a range of item ids): the invariants' checks find the drifted rows without locks
(one aggregate pass); then each repair function runs in its own transaction, locks exactly those rows
in the engine's order, re-aggregates the ledger for them under the locks and writes only what
differs (see invariants/stock_repair.py). A chunk is one transaction: its repairs and the run's
checkpoint commit together, so a run killed at any moment has either done a chunk completely (and
recorded it) or not at all. `resume` continues such a run after its last committed chunk, under the
same run record and audit job id; the result is the same as a fresh run's. A second run finds nothing
and writes nothing but its run record.
"""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.contrib.auth import get_user_model
from django.db import transaction
from django.utils import timezone

from stockledger.core import audit, context
from stockledger.core.errors import Conflict, NotFound, ValidationError
from stockledger.core.roles import authorize

from . import registry, runlock
from .models import RecomputeRun
from .registry import ITEMS, Chunk, Drift, Invariant
from .sql import consistent_read
from .verify import DEFAULT_CHUNK_SIZE, SCOPE

SYSTEM_USERNAME = "system"
KEEP = 200  # skipped / planned rows kept in the summary


@dataclass
class RunContext:
    """What a repair function gets besides its chunk."""

    record: RecomputeRun
    actor: object
    invariants: frozenset[str]  # the ids in scope that share this repair function
    drift: list[Drift]  # their repairable drift rows in this chunk, found without locks
    now: datetime = field(default_factory=timezone.now)

    @property
    def id(self) -> int:
        return self.record.pk

    def audit(self, changes: list[audit.Change]) -> int:
        """One audit row per change, bulk-inserted, job_id = this run."""
        with context.bound(context.job_id, self.record.job_id):
            return audit.record_many(self.actor, changes)


def system_user():
    """The named user recompute acts as when nobody is named (cron, CLI without --user). No password."""
    user, created = get_user_model().objects.get_or_create(username=SYSTEM_USERNAME)
    if created:
        user.set_unusable_password()
        user.save(update_fields=["password"])
    return user


def _repair_groups(group: list[Invariant]) -> list[tuple[Callable, frozenset[str]]]:
    out: dict[Callable, set[str]] = {}
    for inv in group:
        if inv.repair is not None:
            out.setdefault(inv.repair, set()).add(inv.id)
    return [(fn, frozenset(ids)) for fn, ids in out.items()]


INTERRUPTED = "interrupted: the process stopped before the run finished (resume it with --resume)"


class NothingToResume(Conflict):
    code = "nothing_to_resume"
    default_message = "There is no unfinished recompute run to resume."


def recompute(
    *,
    dry_run: bool = False,
    scope=None,
    actor=None,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[Chunk], None] | None = None,
    resume: int | bool | None = None,
) -> RecomputeRun:
    """Set every stored total in scope from its detail (the ledger wins). Returns the finished run.

    actor None = the "system" user (trusted callers: CLI, cron); a named user needs reconcile.run.
    resume: True = continue the latest run if it did not finish (killed or failed), or a run id; the
    run keeps its scope and chunk size (dry_run/scope/chunk_size are then ignored).
    Raises RecomputeRunning (409) when another run holds the lock, NothingToResume (409) when the run
    to resume finished, NotFound when its id does not exist.
    """
    if resume in (None, False):
        invariants = registry.select(scope)
    if not isinstance(chunk_size, int) or isinstance(chunk_size, bool) or chunk_size < 1:
        raise ValidationError("chunk_size must be a positive integer.", fields={"chunk_size": ["≥ 1"]})
    if actor is None:
        actor = system_user()
    else:
        authorize(actor, "reconcile.run")
    with runlock.exclusive("recompute"):
        # Holding the lock, no other run is alive: one still marked running was killed.
        stale = RecomputeRun.objects.filter(status=RecomputeRun.Status.RUNNING)
        stale.update(status=RecomputeRun.Status.FAILED, error=INTERRUPTED)
        if resume in (None, False):
            run = RecomputeRun.objects.create(
                actor=actor if getattr(actor, "pk", None) else None,
                actor_name=getattr(actor, "username", "") or SYSTEM_USERNAME,
                dry_run=dry_run,
                scope=[inv.id for inv in invariants] if registry.parse_scope(scope) else [],
                chunk_size=chunk_size,
                summary=_empty_summary(invariants),
            )
        else:
            run, invariants = _reopen(resume)
        run.planned = []
        done = run.summary.setdefault("partitions_done", [])
        try:
            for partition, group in registry.by_partition(invariants):
                if partition.name in done:
                    continue
                after = run.summary.get("checkpoints", {}).get(partition.name)
                for chunk in partition.chunks(size=run.chunk_size, after=after):
                    _chunk(run, chunk, group, actor, run.dry_run)
                    if progress:
                        progress(chunk)
                done.append(partition.name)
        except Exception as exc:
            run.refresh_from_db(fields=["rows_checked", "rows_changed", "checkpoint", "summary"])
            run.status, run.finished_at, run.error = RecomputeRun.Status.FAILED, timezone.now(), repr(exc)[:4000]
            run.save(update_fields=["status", "finished_at", "error"])
            raise
        run.status, run.finished_at = RecomputeRun.Status.DONE, timezone.now()
        run.save(update_fields=["status", "finished_at", "summary"])
    return run


def _reopen(resume: int | bool) -> tuple[RecomputeRun, list[Invariant]]:
    """The run to continue (latest, or by id) if it did not finish, marked running again."""
    if resume is True:
        run = RecomputeRun.objects.order_by("-pk").first()
        if run is None:
            raise NothingToResume("There is no recompute run yet; start one without --resume.")
    else:
        if not isinstance(resume, int) or isinstance(resume, bool) or resume < 1:
            raise ValidationError("resume must be true or a run id.", fields={"resume": ["true or a run id"]})
        run = RecomputeRun.objects.filter(pk=resume).first()
        if run is None:
            raise NotFound(f"Recompute run {resume} does not exist.")
    if run.status == RecomputeRun.Status.DONE:
        raise NothingToResume(f"Recompute run {run.pk} finished; there is nothing to resume.")
    if run.dry_run:
        raise NothingToResume(f"Recompute run {run.pk} is a dry run: run it again instead of resuming it.")
    invariants = registry.select(run.scope or None)
    for inv in invariants:  # an invariant registered since the run started gets its counters
        run.summary["invariants"].setdefault(inv.id, _empty_summary([inv])["invariants"][inv.id])
    run.summary.setdefault("resumed", []).append(timezone.now().isoformat())
    run.status, run.finished_at, run.error = RecomputeRun.Status.RUNNING, None, ""
    run.save(update_fields=["status", "finished_at", "error", "summary"])
    return run, invariants


def _empty_summary(invariants: list[Invariant]) -> dict:
    return {
        "invariants": {
            inv.id: {"report_only": inv.report_only, "drift": 0, "changed": 0, "skipped": 0} for inv in invariants
        },
        "skipped": [],
    }


def _chunk(run: RecomputeRun, chunk: Chunk, group: list[Invariant], actor, dry_run: bool) -> None:
    """Check one chunk without locks, then repair it and record the checkpoint in one transaction."""
    per = run.summary["invariants"]
    chunk.cache[SCOPE] = frozenset(inv.id for inv in group)  # checks may skip work only out-of-scope ids need
    with consistent_read():  # one moment for the whole check, as verify's (no false drift counted)
        drift = [row for inv in group for row in inv.check(chunk)]
    with transaction.atomic():
        for d in drift:
            per[d.invariant]["drift"] += 1
        for fn, ids in _repair_groups(group):
            rows = [d for d in drift if d.invariant in ids and d.repairable]
            if not rows:
                continue
            if dry_run:
                _plan(run, rows)
                continue
            with transaction.atomic():
                result = fn(chunk, RunContext(run, actor, ids, rows))
            run.rows_changed += result.rows
            for inv_id, n in result.changed.items():
                per[inv_id]["changed"] += n
            for s in result.skipped:
                hit = {d.invariant for d in rows if (d.object_type, d.object_id) == (s["object_type"], s["object_id"])}
                for inv_id in hit or ids:
                    per[inv_id]["skipped"] += 1
            run.summary["skipped"] = (run.summary["skipped"] + result.skipped)[:KEEP]
        run.rows_checked += sum(chunk.checked.values())
        run.summary.setdefault("checkpoints", {})[chunk.partition.name] = chunk.hi
        if chunk.partition == ITEMS:
            run.checkpoint = chunk.hi
        run.save(update_fields=["rows_checked", "rows_changed", "checkpoint", "summary"])


def _plan(run: RecomputeRun, rows: list[Drift]) -> None:
    """Dry run: what would change, counted (distinct rows) and sampled into the summary; no other write."""
    per = run.summary["invariants"]
    run.planned.extend(rows)
    for d in rows:
        per[d.invariant]["would_change"] = per[d.invariant].get("would_change", 0) + 1
    distinct = len({(d.object_type, d.object_id, d.key) for d in rows})  # chunks never share a row
    run.summary["would_change_rows"] = run.summary.get("would_change_rows", 0) + distinct
    planned = run.summary.setdefault("planned", [])
    planned.extend(d.as_dict() for d in rows[: max(0, KEEP - len(planned))])
