"""I1–I4: batch and inventory totals against the ledger (and reservations), one aggregate pass each.

Per chunk of items, one query reads every batch with its ledger and reservation sums and one query
reads every (item, warehouse, holder) key from the ledger and the inventory together, so missing and
orphan inventory rows show up in the same pass as wrong totals. Only the rows that break something
leave the database; the four checks share both results through `chunk.memo`.

The key query groups the ledger on its raw columns, the order of the ledger's (item, warehouse,
holder, qty_delta, reserved_delta) index: PostgreSQL reads that index alone, already sorted, and sums
without a sort or a hash table, the work of a bare `SELECT … SUM … GROUP BY`. Each ledger group then
meets its inventory row by the row's unique `key` (built from the group), in a FULL OUTER JOIN on
PostgreSQL and SQLite, or in a UNION ALL grouped once more on MariaDB, which has no FULL JOIN. The
reserved sums (I2 only) are left out when the caller says I2 is not checked (verify's scope).
"""

from decimal import Decimal
from typing import NamedTuple

from django.db import connection

from stockledger.stock.models import Batch, Inventory, LedgerEntry, Reservation, inventory_key

from ..registry import Chunk, Drift
from ..sql import concat, dec, fetchall, has_full_join, rnd
from ..verify import in_scope

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
    in_ledger: bool  # False: an inventory row whose key has no ledger entries
    ledger_qty: Decimal
    ledger_reserved: Decimal  # 0 when the query was made without the reserved sums
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


def _ledger_keys_sql(reserved: bool) -> str:
    """Σ ledger per key of the chunk's items, grouped in the ledger index's order (params: lo, hi)."""
    key = concat("item_id", "':'", "COALESCE(warehouse_id, 0)", "':'", "COALESCE(holder_id, 0)")
    lr = rnd("SUM(reserved_delta)") if reserved else "0"
    return f"""SELECT item_id, COALESCE(warehouse_id, 0) AS wh, COALESCE(holder_id, 0) AS ho, {key} AS k,
                   {rnd("SUM(qty_delta)")} AS lq, {lr} AS lr
            FROM {LEDGER} WHERE item_id BETWEEN %s AND %s
            GROUP BY item_id, warehouse_id, holder_id"""


def _key_sql(reserved: bool) -> str:
    """Every key of the chunk that breaks I1, I2 (only with `reserved`) or I3, missing and orphan rows
    included. Columns: item, warehouse or 0, holder or 0, inventory id (NULL: missing), 1 if the ledger
    has the key, ledger Σ qty, ledger Σ reserved, stored usable, stored reserved. Params: lo, hi twice."""
    su, sr, key = rnd("i.usable_qty"), rnd("i.reserved_qty"), connection.ops.quote_name("key")
    if has_full_join():
        lq, lr = "COALESCE(l.lq, 0)", "COALESCE(l.lr, 0)"
        return f"""
        SELECT COALESCE(l.item_id, i.item_id), COALESCE(l.wh, COALESCE(i.warehouse_id, 0)),
               COALESCE(l.ho, COALESCE(i.holder_id, 0)), i.id, CASE WHEN l.k IS NULL THEN 0 ELSE 1 END,
               {lq}, {lr}, COALESCE(i.usable_qty, 0), COALESCE(i.reserved_qty, 0)
        FROM ({_ledger_keys_sql(reserved)}) l
        FULL JOIN (
            SELECT id, {key} AS k, item_id, warehouse_id, holder_id, usable_qty, reserved_qty
            FROM {INVENTORY} WHERE item_id BETWEEN %s AND %s
        ) i ON i.k = l.k
        WHERE i.id IS NULL OR {lq} <> {su} {f"OR {lr} <> {sr}" if reserved else ""}
           OR i.usable_qty < 0 OR i.reserved_qty < 0 OR i.reserved_qty > i.usable_qty
        ORDER BY 1, 2, 3"""
    lq, lr, su, sr = (rnd(f"SUM(u.{c})") for c in ("lq", "lr", "su", "sr"))
    return f"""
        SELECT u.item_id, u.wh, u.ho, MAX(u.inv_id), MAX(u.in_ledger), {lq}, {lr}, {su}, {sr}
        FROM (
            SELECT item_id, wh, ho, NULL AS inv_id, 1 AS in_ledger, lq, lr, 0 AS su, 0 AS sr
            FROM ({_ledger_keys_sql(reserved)}) l
            UNION ALL
            SELECT item_id, COALESCE(warehouse_id, 0), COALESCE(holder_id, 0), id, 0, 0, 0, usable_qty, reserved_qty
            FROM {INVENTORY} WHERE item_id BETWEEN %s AND %s
        ) u
        GROUP BY u.item_id, u.wh, u.ho
        HAVING MAX(u.inv_id) IS NULL OR {lq} <> {su} {f"OR {lr} <> {sr}" if reserved else ""}
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


def keys(chunk: Chunk, reserved: bool | None = None) -> list[KeyRow]:
    """Every inventory key of the chunk that breaks I1, I2 or I3, missing rows included (one query).

    `reserved` None: with the reserved sums when I2 is checked on this chunk (or nobody said); the
    checks of one chunk share one query either way."""
    if reserved is None:
        reserved = in_scope(chunk, "I2")

    def compute():
        rng = [chunk.lo, chunk.hi]
        rows = fetchall(_key_sql(reserved), rng * 2)
        chunk.examined("inventory", Inventory.objects.filter(item_id__gte=rng[0], item_id__lte=rng[1]).count())
        return [KeyRow(int(r[0]), int(r[1]), int(r[2]), r[3], bool(r[4]), *(dec(v) for v in r[5:])) for r in rows]

    return chunk.memo("stock.keys+reserved" if reserved else "stock.keys", compute)


def check_i1(chunk: Chunk):
    """inventory.usable_qty = Σ ledger qty_delta of its (item, warehouse, holder)."""
    for k in keys(chunk):
        if k.inventory_id is None:
            yield Drift("I1", "inventory", None, k.key, "usable_qty", None, k.ledger_qty, "missing row")
        elif k.usable != k.ledger_qty:
            note = "" if k.in_ledger else "orphan row: no ledger entries"
            yield Drift("I1", "inventory", k.inventory_id, k.key, "usable_qty", k.usable, k.ledger_qty, note)


def check_i2(chunk: Chunk):
    """reserved_qty = Σ ledger reserved_delta (inventory key, batch); batch reserved = Σ reservations."""
    for k in keys(chunk, reserved=True):
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
