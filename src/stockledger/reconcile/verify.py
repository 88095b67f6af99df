"""verify: run the registered invariants chunk by chunk and report every drift row. Reads only."""

from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime

from django.utils import timezone

from . import registry
from .registry import Chunk, Drift
from .sql import consistent_read

DEFAULT_CHUNK_SIZE = 200  # items per chunk
SCOPE = "reconcile.scope"  # chunk.cache entry set by verify: the ids of the invariants checked on the chunk


def in_scope(chunk: Chunk, inv_id: str) -> bool:
    """Whether `inv_id` is checked on this chunk (True when the caller did not say, as recompute does):
    checks that share one query can leave out the part only an invariant out of scope needs."""
    ids = chunk.cache.get(SCOPE)
    return ids is None or inv_id in ids


@dataclass
class Report:
    invariants: list[str]
    drift: list[Drift] = field(default_factory=list)
    checked: dict[str, int] = field(default_factory=dict)  # rows examined per object type
    started_at: datetime = field(default_factory=timezone.now)
    finished_at: datetime | None = None

    @property
    def ok(self) -> bool:
        return not self.drift

    @property
    def counts(self) -> dict:
        per = {inv: 0 for inv in self.invariants}
        for d in self.drift:
            per[d.invariant] = per.get(d.invariant, 0) + 1
        return {"checked": dict(self.checked), "drift": per, "drift_total": len(self.drift)}

    def add_chunk(self, chunk: Chunk) -> None:
        for object_type, n in chunk.checked.items():
            self.checked[object_type] = self.checked.get(object_type, 0) + n

    def as_dict(self) -> dict:
        return {
            "ok": self.ok,
            "invariants": self.invariants,
            "counts": self.counts,
            "drift": [d.as_dict() for d in self.drift],
            "started_at": self.started_at.isoformat(),
            "finished_at": self.finished_at.isoformat() if self.finished_at else None,
        }

    def table(self, limit: int | None = None) -> str:
        return format_table(self.drift, limit=limit)

    def summary_line(self) -> str:
        checked = ", ".join(f"{n} {t}" for t, n in sorted(self.checked.items())) or "nothing"
        state = "OK" if self.ok else f"{len(self.drift)} drift row(s)"
        return f"verify {','.join(self.invariants)}: checked {checked}: {state}"


COLUMNS = ("invariant", "object_type", "object_id", "key", "field", "stored", "derived", "difference", "note")


def format_table(rows: list[Drift], limit: int | None = None) -> str:
    """A plain-text table of drift rows (what assert_invariants and the CLI print)."""
    if not rows:
        return "(no drift)"
    shown = rows if limit is None else rows[:limit]
    cells = [[("-" if v is None else str(v)) for v in (d.as_dict()[c] for c in COLUMNS)] for d in shown]
    widths = [min(max(len(c), *(len(r[i]) for r in cells)), 48) for i, c in enumerate(COLUMNS)]

    def line(values):
        return "  ".join(v[:w].ljust(w) for v, w in zip(values, widths, strict=True)).rstrip()

    out = [line(COLUMNS), line(["-" * w for w in widths]), *(line(r) for r in cells)]
    if len(shown) < len(rows):
        out.append(f"... and {len(rows) - len(shown)} more")
    return "\n".join(out)


def verify(
    scope=None,
    *,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    progress: Callable[[Chunk], None] | None = None,
) -> Report:
    """Check the invariants named by `scope` (all registered ones when None); no locks, no writes.

    Each chunk is checked in one snapshot (sql.consistent_read): while other transactions write, a check
    made of several statements (I8: the heads, then the chains) still compares one moment with itself.
    """
    invariants = registry.select(scope)
    report = Report([inv.id for inv in invariants])
    for partition, group in registry.by_partition(invariants):
        for chunk in partition.chunks(size=chunk_size):
            chunk.cache[SCOPE] = frozenset(inv.id for inv in group)
            with consistent_read():
                for inv in group:
                    report.drift.extend(inv.check(chunk))
            report.add_chunk(chunk)
            if progress:
                progress(chunk)
    report.finished_at = timezone.now()
    return report
