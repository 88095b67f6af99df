"""The invariant catalogue: every invariant `verify` checks and `recompute` repairs registers here.

An app adds its invariants in a module `<app>/invariants.py` (imported by ReconcileConfig.ready):

    from stockledger.reconcile.registry import Drift, Invariant, Partition, register

    SALES = Partition("sales", "sales.Transaction")          # chunk by transaction id instead of item id

    def check_totals(chunk):                               # -> iterable of Drift, no writes, no locks
        ...

    def repair_totals(chunk, run):                         # inside a transaction recompute opened
        ...                                                # lock, re-aggregate, write, run.audit(...)
        return Repaired(rows=n, changed={"I7": n})

    register(Invariant("I7", "transaction total = Σ line items", check_totals, repair_totals, partition=SALES))

Work is cut into chunks: id ranges of a partition's model (items by default), so one chunk's
aggregates and locks stay bounded. Invariants that repair the same rows share one repair function:
recompute calls it once per chunk with the drift rows of all of them (one audit row per changed row).
"""

from collections.abc import Callable, Iterable, Iterator
from dataclasses import dataclass, field
from decimal import Decimal
from typing import Any

from django.apps import apps

from stockledger.core.errors import ValidationError


def _number(v) -> bool:
    return isinstance(v, Decimal | int) and not isinstance(v, bool)


@dataclass(frozen=True)
class Drift:
    """One stored value that is not what its detail says (or a rule a stored row breaks).

    `object_id` None means the row is missing; `derived` None means there is no derivation (a rule such
    as "≥ 0" is broken); `difference` is stored − derived (a missing row counts as 0).
    """

    invariant: str
    object_type: str
    object_id: int | None
    key: str
    field: str
    stored: Any
    derived: Any
    note: str = ""
    repairable: bool = True

    @property
    def difference(self) -> Decimal | int | None:
        if _number(self.derived) and (self.stored is None or _number(self.stored)):
            return (self.stored if self.stored is not None else 0 * self.derived) - self.derived
        return None

    def as_dict(self) -> dict:
        def out(v):
            return str(v) if _number(v) else v

        return {
            "invariant": self.invariant,
            "object_type": self.object_type,
            "object_id": self.object_id,
            "key": self.key,
            "field": self.field,
            "stored": out(self.stored),
            "derived": out(self.derived),
            "difference": out(self.difference),
            "note": self.note,
            "repairable": self.repairable,
        }


@dataclass(frozen=True)
class Partition:
    """How work is cut: consecutive pk ranges of `model` ("app_label.Model"), `size` ids per chunk."""

    name: str
    model: str

    def _model(self):
        return apps.get_model(self.model)

    def count(self) -> int:
        return self._model()._default_manager.count()

    def chunks(self, *, size: int, after: int | None = None) -> Iterator["Chunk"]:
        """Contiguous ranges [lo, hi] covering every existing id > after, each holding `size` ids."""
        manager = self._model()._default_manager
        last = after or 0
        while True:
            ids = list(manager.filter(pk__gt=last).order_by("pk").values_list("pk", flat=True)[:size])
            if not ids:
                return
            yield Chunk(self, last + 1, ids[-1], len(ids))
            last = ids[-1]


ITEMS = Partition("items", "catalog.Item")


@dataclass
class Chunk:
    """One range [lo, hi] of a partition's ids. Checks share work through `memo` (one aggregate pass)."""

    partition: Partition
    lo: int
    hi: int
    size: int = 0
    cache: dict = field(default_factory=dict)
    checked: dict[str, int] = field(default_factory=dict)

    def memo(self, name: str, compute: Callable[[], Any]) -> Any:
        if name not in self.cache:
            self.cache[name] = compute()
        return self.cache[name]

    def examined(self, object_type: str, n: int) -> None:
        """Record how many rows of a type were checked (several invariants may look at the same rows)."""
        self.checked[object_type] = max(self.checked.get(object_type, 0), n)


@dataclass
class Repaired:
    """What one repair call changed: distinct rows (= audit rows), per invariant, and refusals."""

    rows: int = 0
    changed: dict[str, int] = field(default_factory=dict)
    skipped: list[dict] = field(default_factory=list)


@dataclass(frozen=True)
class Invariant:
    id: str
    description: str
    check: Callable[[Chunk], Iterable[Drift]]
    repair: Callable[[Chunk, Any], Repaired] | None = None
    partition: Partition = ITEMS

    @property
    def report_only(self) -> bool:
        return self.repair is None


_REGISTRY: dict[str, Invariant] = {}


def _order(inv_id: str):
    digits = "".join(c for c in inv_id if c in "0123456789")  # not isdigit(): "²" is a digit int() refuses
    return (inv_id.rstrip("0123456789"), int(digits) if digits else 0, inv_id)


def register(invariant: Invariant) -> Invariant:
    """Add (or, on a module reload, replace) an invariant. Ids are unique across apps."""
    current = _REGISTRY.get(invariant.id)
    if current is not None and current.check.__qualname__ != invariant.check.__qualname__:
        raise ValueError(f"invariant {invariant.id} is already registered by {current.check.__module__}")
    _REGISTRY[invariant.id] = invariant
    return invariant


def unregister(inv_id: str) -> None:
    _REGISTRY.pop(inv_id, None)


def get(inv_id: str) -> Invariant:
    return _REGISTRY[inv_id]


def all_invariants() -> list[Invariant]:
    return [_REGISTRY[k] for k in sorted(_REGISTRY, key=_order)]


def parse_scope(scope) -> list[str] | None:
    """None / "" / [] -> None (everything); "I1,I4" or ["I1", "I4"] -> ["I1", "I4"] (upper-cased)."""
    if scope is None:
        return None
    if isinstance(scope, str):
        scope = scope.split(",")
    if not isinstance(scope, list | tuple | set | frozenset):
        raise ValidationError("scope must be a list of invariant ids.", fields={"scope": ["a list such as I1,I4"]})
    ids = [str(s).strip().upper() for s in scope if str(s).strip()]
    return ids or None


def select(scope=None) -> list[Invariant]:
    """The invariants named by `scope` (all when None), in catalogue order; unknown ids -> 400."""
    ids = parse_scope(scope)
    if ids is None:
        return all_invariants()
    unknown = sorted(set(ids) - set(_REGISTRY), key=_order)
    if unknown:
        known = ", ".join(i.id for i in all_invariants())
        raise ValidationError(
            f"Unknown invariant {', '.join(unknown)}; known: {known}.",
            code="unknown_invariant",
            fields={"scope": [f"unknown: {', '.join(unknown)}"]},
        )
    return [inv for inv in all_invariants() if inv.id in set(ids)]


def by_partition(invariants: list[Invariant]) -> list[tuple[Partition, list[Invariant]]]:
    out: dict[Partition, list[Invariant]] = {}
    for inv in invariants:
        out.setdefault(inv.partition, []).append(inv)
    return list(out.items())
