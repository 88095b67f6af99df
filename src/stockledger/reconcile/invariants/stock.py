"""I1–I4: batch and inventory totals against the ledger (and reservations), one aggregate pass each.

Per chunk of items, one query reads every batch with its ledger and reservation sums and one query
reads every (item, warehouse, holder) key from the ledger and the inventory together (a UNION ALL
grouped once: the FULL OUTER JOIN that MariaDB lacks), so missing and orphan inventory rows show up
in the same pass as wrong totals. Only the rows that break something leave the database; the four
checks share both results through `chunk.memo`.
"""

from decimal import Decimal
from typing import NamedTuple

from stockledger.stock.models import Batch, Inventory, LedgerEntry, Reservation, inventory_key

from ..registry import Chunk, Drift
from ..sql import dec, fetchall, rnd

BATCH = Batch._meta.db_table
INVENTORY = Inventory._meta.db_table
LEDGER = LedgerEntry._meta.db_table
RESERVATION = Reservation._meta.db_table
ZERO = Decimal("0.000")


class BatchRow(NamedTuple):
    id: int
    batch_no: str
    usable: Decimal
    reserved: Decimal
    initial: Decimal
    ledger_qty: Decimal
    ledger_reserved: Decimal
    reservations: Decimal


class KeyRow(NamedTuple):
    item_id: int
    warehouse: int  # 0 = NULL
    holder: int  # 0 = NULL
    inventory_id: int | None  # None: no inventory row for a key the ledger has
    ledger_rows: int
    ledger_qty: Decimal
    ledger_reserved: Decimal
    usable: Decimal
    reserved: Decimal

    @property
    def key(self) -> str:
        return inventory_key(self.item_id, self.warehouse or None, self.holder or None)


def _batch_sql() -> str:
    u, r = rnd("b.usable_qty"), rnd("b.reserved_qty")
    q, lr, rs = rnd("COALESCE(l.q, 0)"), rnd("COALESCE(l.r, 0)"), rnd("COALESCE(rv.s, 0)")
    return f"""
        SELECT b.id, b.batch_no, b.usable_qty, b.reserved_qty, b.initial_qty, {q}, {lr}, {rs}
        FROM {BATCH} b
        LEFT JOIN (
            SELECT batch_id, SUM(qty_delta) AS q, SUM(reserved_delta) AS r
            FROM {LEDGER} WHERE batch_id IS NOT NULL AND item_id BETWEEN %s AND %s
            GROUP BY batch_id
        ) l ON l.batch_id = b.id
        LEFT JOIN (
            SELECT rs.batch_id, SUM(rs.qty) AS s
            FROM {RESERVATION} rs JOIN {BATCH} rb ON rb.id = rs.batch_id
            WHERE rb.item_id BETWEEN %s AND %s
            GROUP BY rs.batch_id
        ) rv ON rv.batch_id = b.id
        WHERE b.item_id BETWEEN %s AND %s
          AND ({u} <> {q} OR {r} <> {lr} OR {r} <> {rs} OR b.initial_qty <= 0
               OR b.usable_qty < 0 OR b.reserved_qty < 0 OR b.reserved_qty > b.usable_qty)
        ORDER BY b.id"""


def _key_sql() -> str:
    lq, lr, su, sr = (rnd(f"SUM(u.{c})") for c in ("lq", "lr", "su", "sr"))
    return f"""
        SELECT u.item_id, u.wh, u.ho, MAX(u.inv_id), COUNT(*) - COUNT(u.inv_id), {lq}, {lr}, {su}, {sr}
        FROM (
            SELECT item_id, COALESCE(warehouse_id, 0) AS wh, COALESCE(holder_id, 0) AS ho, NULL AS inv_id,
                   qty_delta AS lq, reserved_delta AS lr, 0 AS su, 0 AS sr
            FROM {LEDGER} WHERE item_id BETWEEN %s AND %s
            UNION ALL
            SELECT item_id, COALESCE(warehouse_id, 0), COALESCE(holder_id, 0), id, 0, 0, usable_qty, reserved_qty
            FROM {INVENTORY} WHERE item_id BETWEEN %s AND %s
        ) u
        GROUP BY u.item_id, u.wh, u.ho
        HAVING MAX(u.inv_id) IS NULL OR {lq} <> {su} OR {lr} <> {sr}
            OR SUM(u.su) < 0 OR SUM(u.sr) < 0 OR SUM(u.sr) > SUM(u.su)
        ORDER BY u.item_id, u.wh, u.ho"""


def batches(chunk: Chunk) -> list[BatchRow]:
    """Every batch of the chunk that breaks I2, I3 or I4 (one query, shared by the checks)."""

    def compute():
        rng = [chunk.lo, chunk.hi]
        rows = fetchall(_batch_sql(), rng * 3)
        chunk.examined("batch", Batch.objects.filter(item_id__gte=rng[0], item_id__lte=rng[1]).count())
        return [BatchRow(r[0], r[1], *(dec(v) for v in r[2:])) for r in rows]

    return chunk.memo("stock.batches", compute)


def keys(chunk: Chunk) -> list[KeyRow]:
    """Every inventory key of the chunk that breaks I1, I2 or I3, missing rows included (one query)."""

    def compute():
        rng = [chunk.lo, chunk.hi]
        rows = fetchall(_key_sql(), rng * 2)
        chunk.examined("inventory", Inventory.objects.filter(item_id__gte=rng[0], item_id__lte=rng[1]).count())
        return [KeyRow(int(r[0]), int(r[1]), int(r[2]), r[3], int(r[4]), *(dec(v) for v in r[5:])) for r in rows]

    return chunk.memo("stock.keys", compute)


def check_i1(chunk: Chunk):
    """inventory.usable_qty = Σ ledger qty_delta of its (item, warehouse, holder)."""
    for k in keys(chunk):
        if k.inventory_id is None:
            yield Drift("I1", "inventory", None, k.key, "usable_qty", None, k.ledger_qty, "missing row")
        elif k.usable != k.ledger_qty:
            note = "orphan row: no ledger entries" if k.ledger_rows == 0 else ""
            yield Drift("I1", "inventory", k.inventory_id, k.key, "usable_qty", k.usable, k.ledger_qty, note)


def check_i2(chunk: Chunk):
    """reserved_qty = Σ ledger reserved_delta (inventory key, batch); batch reserved = Σ reservations."""
    for k in keys(chunk):
        if k.inventory_id is None:
            if k.ledger_reserved != ZERO:
                yield Drift("I2", "inventory", None, k.key, "reserved_qty", None, k.ledger_reserved, "missing row")
        elif k.reserved != k.ledger_reserved:
            yield Drift("I2", "inventory", k.inventory_id, k.key, "reserved_qty", k.reserved, k.ledger_reserved)
    for b in batches(chunk):
        label = f"#{b.batch_no}"
        if b.reserved != b.ledger_reserved:
            yield Drift("I2", "batch", b.id, label, "reserved_qty", b.reserved, b.ledger_reserved)
        if b.reserved != b.reservations:
            yield Drift(
                "I2",
                "batch",
                b.id,
                label,
                "reserved_qty",
                b.reserved,
                b.reservations,
                "Σ reservations (report only: the ledger wins)",
                repairable=False,
            )


def _bounds(object_type: str, object_id: int, label: str, usable: Decimal, reserved: Decimal):
    if usable < 0:
        yield Drift("I3", object_type, object_id, label, "usable_qty", usable, None, "negative", False)
    if reserved < 0:
        yield Drift("I3", object_type, object_id, label, "reserved_qty", reserved, None, "negative", False)
    if reserved > usable:
        yield Drift("I3", object_type, object_id, label, "reserved_qty", reserved, usable, "reserved > usable", False)


def check_i3(chunk: Chunk):
    """0 ≤ reserved_qty ≤ usable_qty on every batch and inventory row (report only: CHECKs enforce it)."""
    for b in batches(chunk):
        yield from _bounds("batch", b.id, f"#{b.batch_no}", b.usable, b.reserved)
    for k in keys(chunk):
        if k.inventory_id is not None:
            yield from _bounds("inventory", k.inventory_id, k.key, k.usable, k.reserved)


def check_i4(chunk: Chunk):
    """batch.usable_qty = Σ ledger qty_delta of the batch; initial_qty > 0."""
    for b in batches(chunk):
        if b.usable != b.ledger_qty:
            yield Drift("I4", "batch", b.id, f"#{b.batch_no}", "usable_qty", b.usable, b.ledger_qty)
        if b.initial <= 0:
            yield Drift("I4", "batch", b.id, f"#{b.batch_no}", "initial_qty", b.initial, None, "must be > 0", False)
