"""The engine's one write path: apply quantity deltas to locked batches and inventory rows and append
the ledger, inside the caller's transaction.

Order inside every service (STYLE.md): lock (pk order: batches, then inventory rows) → check every
rule, collect every problem → write with F() → append ledger rows → audit. Callers (the services of
this app and of pieces/relief/sales) own the transaction; nothing here commits.
"""

from collections import defaultdict
from collections.abc import Iterable
from dataclasses import dataclass, field
from decimal import Decimal

from django.db import transaction
from django.db.models import Case, F, OuterRef, Subquery, Sum, Value, When
from django.db.models.functions import Coalesce, Round
from django.utils import timezone

from stockledger.core import audit
from stockledger.core.errors import InsufficientStock
from stockledger.core.locking import lock

from .chain import entry_hash
from .models import QTY, ZERO, Batch, Inventory, LedgerEntry, inventory_key

DEC = {"output_field": Batch._meta.get_field("usable_qty")}


@dataclass
class Delta:
    """A change to one batch (or, with batch None, to one inventory key of a non-batched item)."""

    qty: Decimal = ZERO
    reserved: Decimal = ZERO
    kind: str = LedgerEntry.Kind.ISSUE
    batch: Batch | None = None
    item_id: int | None = None
    warehouse_id: int | None = None
    holder_id: int | None = None
    reverts_id: int | None = None

    @property
    def key(self) -> str:
        if self.batch is not None:
            return inventory_key(self.batch.item_id, self.batch.warehouse_id, None)
        return inventory_key(self.item_id, self.warehouse_id, self.holder_id)


@dataclass
class Posting:
    """Where the ledger rows of one call come from."""

    actor: object
    doc_type: str
    doc_id: str
    idempotency_key: str = ""
    reason: str = ""
    audit_action: str = ""
    now: object = field(default_factory=timezone.now)


def lock_batches(ids: Iterable[int]) -> dict[int, Batch]:
    return lock(Batch, ids)


def lock_inventory(keys: dict[str, tuple[int, int | None, int | None]]) -> dict[str, Inventory]:
    """Lock the inventory rows of these keys, creating the missing ones first (race-safe)."""
    if not keys:
        return {}
    found = _lock_inventory_rows(keys)
    missing = [k for k in keys if k not in found]
    if missing:
        Inventory.objects.bulk_create(
            [Inventory(key=k, item_id=keys[k][0], warehouse_id=keys[k][1], holder_id=keys[k][2]) for k in missing],
            # An upsert, not INSERT IGNORE: on InnoDB racing IGNOREs each take a shared lock on the
            # duplicate key and then deadlock asking for the exclusive one; an upsert queues them.
            update_conflicts=True,
            update_fields=["key"],
            **({} if transaction.get_connection().vendor == "mysql" else {"unique_fields": ["key"]}),
        )
        # Lock again, in pk order, now that every row exists.
        found = _lock_inventory_rows(keys)
    return found


def _lock_inventory_rows(keys) -> dict[str, Inventory]:
    """FOR UPDATE by primary key only, in pk order (one statement: the ids come from a subquery, which
    takes no lock; a row's key never changes). Locking through the `key` index as well lets InnoDB take
    one row's index-entry lock and its clustered-row lock in opposite orders in two transactions whose
    plans differ (a scan for several keys, the index for one): a deadlock on MariaDB."""
    ids = Inventory.objects.filter(key__in=sorted(keys)).values("pk")
    return {r.key: r for r in Inventory.objects.select_for_update().filter(pk__in=ids).order_by("pk")}


def _case(pk_values: dict[int, object], default):
    return Case(*[When(pk=pk, then=Value(v)) for pk, v in pk_values.items()], default=default)


def _plus(column: str, delta):
    """column + delta, rounded to the column's scale: SQLite keeps decimals as REAL, where 100 − 68.432
    is 31.567999…, and a later − 31.568 would break the ≥ 0 CHECK (exact elsewhere, so a no-op there)."""
    return Round(F(column) + delta, QTY["decimal_places"], **DEC)


def _dec_case(pk_values: dict[int, Decimal]):
    return Case(*[When(pk=pk, then=Value(v, **DEC)) for pk, v in pk_values.items()], default=Value(ZERO, **DEC), **DEC)


def check_result(batches: dict[int, tuple[Decimal, Decimal]], labels: dict[int, str]) -> None:
    """Refuse, listing every bad line, any result that would be negative or over-reserved."""
    short = []
    for pk, (usable, reserved) in batches.items():
        if usable < 0 or reserved < 0 or reserved > usable:
            short.append(
                {"batch": labels.get(pk, str(pk)), "usable_after": str(usable), "reserved_after": str(reserved)}
            )
    if short:
        raise InsufficientStock("Not enough stock: " + ", ".join(s["batch"] for s in short), extra={"lines": short})


def apply(deltas: list[Delta], posting: Posting, *, inventory_from_batches: bool = False) -> list[LedgerEntry]:
    """Write the deltas: batches, inventory rows, ledger rows (hash-chained), one audit row per row changed.

    Batches in `deltas` must already be locked by the caller (lock_batches), which has validated the
    business rules; this function re-checks non-negativity and reserved ≤ usable, then writes.
    With `inventory_from_batches`, the touched inventory rows are set to Σ of their batches (seed 000)
    instead of being moved by the same deltas.
    """
    assert transaction.get_connection().in_atomic_block
    per_batch: dict[int, list[Delta]] = defaultdict(list)
    key_parts: dict[str, tuple[int, int | None, int | None]] = {}
    for d in deltas:
        if d.batch is not None:
            per_batch[d.batch.pk].append(d)
            key_parts[d.key] = (d.batch.item_id, d.batch.warehouse_id, None)
        else:
            key_parts[d.key] = (d.item_id, d.warehouse_id, d.holder_id)

    batches = {pk: ds[0].batch for pk, ds in per_batch.items()}
    after = {
        pk: (b.usable_qty + sum(d.qty for d in per_batch[pk]), b.reserved_qty + sum(d.reserved for d in per_batch[pk]))
        for pk, b in batches.items()
    }
    check_result(after, {pk: f"#{b.batch_no}" for pk, b in batches.items()})

    inventories = lock_inventory(key_parts)
    entries: list[LedgerEntry] = []
    heads = {f"b{pk}": b.ledger_head for pk, b in batches.items()}
    heads.update({f"k{k}": inv.ledger_head for k, inv in inventories.items()})
    for d in deltas:
        chain = f"b{d.batch.pk}" if d.batch is not None else f"k{d.key}"
        item_id, warehouse_id, holder_id = key_parts[d.key]
        e = LedgerEntry(
            created_at=posting.now,
            item_id=item_id,
            warehouse_id=warehouse_id,
            holder_id=holder_id,
            batch_id=d.batch.pk if d.batch is not None else None,
            qty_delta=_q(d.qty),
            reserved_delta=_q(d.reserved),
            kind=d.kind,
            doc_type=posting.doc_type,
            doc_id=str(posting.doc_id),
            idempotency_key=posting.idempotency_key or "",
            reason=posting.reason[:300],
            actor_id=getattr(posting.actor, "pk", None),
            reverts_id=d.reverts_id,
            prev_hash=heads[chain],
        )
        e.hash = entry_hash(e.prev_hash, e)
        heads[chain] = e.hash
        entries.append(e)

    changes: list[audit.Change] = []
    if batches:
        Batch.objects.filter(pk__in=batches).update(
            usable_qty=_plus("usable_qty", _dec_case({pk: after[pk][0] - b.usable_qty for pk, b in batches.items()})),
            reserved_qty=_plus(
                "reserved_qty", _dec_case({pk: after[pk][1] - b.reserved_qty for pk, b in batches.items()})
            ),
            ledger_head=_case({pk: heads[f"b{pk}"] for pk in batches}, F("ledger_head")),
            version=F("version") + 1,
        )
        for pk, b in batches.items():
            changes.append(
                audit.Change(
                    posting.audit_action or f"batch.{posting.doc_type}",
                    "batch",
                    pk,
                    {"usable_qty": b.usable_qty, "reserved_qty": b.reserved_qty, "version": b.version},
                    {
                        "usable_qty": after[pk][0],
                        "reserved_qty": after[pk][1],
                        "version": b.version + 1,
                        "doc": f"{posting.doc_type}#{posting.doc_id}",
                    },
                )
            )
            b.usable_qty, b.reserved_qty, b.version, b.ledger_head = (
                after[pk][0],
                after[pk][1],
                b.version + 1,
                heads[f"b{pk}"],
            )

    inv_delta: dict[int, list[Decimal]] = {}
    for d in deltas:
        inv = inventories[d.key]
        acc = inv_delta.setdefault(inv.pk, [ZERO, ZERO])
        acc[0] += d.qty
        acc[1] += d.reserved
    by_pk = {inv.pk: inv for inv in inventories.values()}
    predicted = {
        pk: (inv.usable_qty + inv_delta[pk][0], inv.reserved_qty + inv_delta[pk][1]) for pk, inv in by_pk.items()
    }
    bad = {pk for pk, (u, r) in predicted.items() if u < 0 or r < 0 or r > u}
    batched = {inventories[d.key].pk for d in deltas if d.batch is not None}
    if bad - batched:
        rows = [by_pk[pk] for pk in sorted(bad - batched)]
        raise InsufficientStock(
            "Not enough stock: " + ", ".join(f"item {r.item_id} at {r.warehouse_id or r.holder_id}" for r in rows),
            extra={"lines": [{"inventory": r.pk, "usable_after": str(predicted[r.pk][0])} for r in rows]},
        )
    # A batched row whose stored total had drifted (changed outside the system) is not moved by the
    # delta but set to Σ of its batches, with a drift_repair audit row: drift is never carried forward.
    from_batches = set(by_pk) if inventory_from_batches else bad
    delta_rows = [pk for pk in by_pk if pk not in from_batches]
    sums = dict(predicted)
    if delta_rows:
        Inventory.objects.filter(pk__in=delta_rows).update(
            usable_qty=_plus("usable_qty", _dec_case({pk: inv_delta[pk][0] for pk in delta_rows})),
            reserved_qty=_plus("reserved_qty", _dec_case({pk: inv_delta[pk][1] for pk in delta_rows})),
            ledger_head=_case(
                {inv.pk: heads[f"k{k}"] for k, inv in inventories.items() if inv.pk in delta_rows}, F("ledger_head")
            ),
            version=F("version") + 1,
            last_updated=Value(posting.now),
        )
    if from_batches:
        sums.update(_set_inventory_from_batches(sorted(from_batches)))
        for pk in sorted(from_batches):
            if sums[pk] != predicted[pk]:
                changes.append(
                    audit.Change(
                        "inventory.drift_repair",
                        "inventory",
                        pk,
                        {
                            "usable_qty": predicted[pk][0],
                            "reserved_qty": predicted[pk][1],
                            "note": "stored total + delta",
                        },
                        {"usable_qty": sums[pk][0], "reserved_qty": sums[pk][1], "note": "sum of batches"},
                    )
                )
    for pk, inv in by_pk.items():
        changes.append(
            audit.Change(
                posting.audit_action or f"inventory.{posting.doc_type}",
                "inventory",
                pk,
                {"usable_qty": inv.usable_qty, "reserved_qty": inv.reserved_qty},
                {"usable_qty": sums[pk][0], "reserved_qty": sums[pk][1], "doc": f"{posting.doc_type}#{posting.doc_id}"},
            )
        )
        inv.usable_qty, inv.reserved_qty = sums[pk]
        inv.version += 1

    LedgerEntry.objects.bulk_create(entries)
    audit.record_many(posting.actor, changes)
    return entries


def _q(value: Decimal) -> Decimal:
    return Decimal(value).quantize(Decimal(1).scaleb(-QTY["decimal_places"]))


def _set_inventory_from_batches(inventory_ids: list[int]) -> dict[int, tuple[Decimal, Decimal]]:
    """inventory.usable_qty / reserved_qty := Σ of the batches of the same item + warehouse."""
    per = Batch.objects.filter(item_id=OuterRef("item_id"), warehouse_id=OuterRef("warehouse_id")).order_by()
    per = per.values("item_id", "warehouse_id")
    Inventory.objects.filter(pk__in=inventory_ids).update(
        # Rounded to the column's scale: SQLite sums its decimals as floating point.
        usable_qty=Round(
            Coalesce(Subquery(per.annotate(s=Sum("usable_qty")).values("s")[:1]), Value(ZERO, **DEC)), 3, **DEC
        ),
        reserved_qty=Round(
            Coalesce(Subquery(per.annotate(s=Sum("reserved_qty")).values("s")[:1]), Value(ZERO, **DEC)), 3, **DEC
        ),
        version=F("version") + 1,
        last_updated=Value(timezone.now()),
    )
    return {
        r["pk"]: (r["usable_qty"], r["reserved_qty"])
        for r in Inventory.objects.filter(pk__in=inventory_ids).values("pk", "usable_qty", "reserved_qty")
    }
