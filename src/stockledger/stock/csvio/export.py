"""`export batches|inventory|ledger`: CSV, streamed row by row, in the import's columns.

Quantities are plain decimals (no exponent, no trailing zeros), dates ISO 8601, times ISO 8601 in UTC
with microseconds (so an exported ledger row keeps its exact time through a re-import).
"""

import csv
from collections.abc import Iterator

from django.db import connection

from stockledger.catalog.models import Item, Warehouse
from stockledger.core.errors import NotFound

from ..models import Batch, Inventory, LedgerEntry
from .batches import BATCH_COLUMNS
from .common import iso, plain
from .ledger import LEDGER_COLUMNS

CHUNK = 2000
INVENTORY_COLUMNS = (
    "item_sku",
    "warehouse_code",
    "holder_code",
    "usable_qty",
    "reserved_qty",
    "reorder_qty",
    "last_updated",
)
KINDS = ("batches", "inventory", "ledger")

# export column -> (ORM path, formatter); in the order of the columns of each kind
_BATCH = {
    "item_sku": ("item__sku", str),
    "warehouse_code": ("warehouse__code", str),
    "qty": ("usable_qty", plain),  # what a re-import opens: the batch's current quantity
    "batch_no": ("batch_no", str),
    "batch_code": ("batch_code", str),
    "origin": ("origin", str),
    "batch_date": ("batch_date", iso),
    "expiry_date": ("expiry_date", iso),
    "usable_qty": ("usable_qty", plain),
    "reserved_qty": ("reserved_qty", plain),
    "status": ("status", str),
    "id": ("id", str),
}
_INVENTORY = {
    "item_sku": ("item__sku", str),
    "warehouse_code": ("warehouse__code", str),
    "holder_code": ("holder__code", str),
    "usable_qty": ("usable_qty", plain),
    "reserved_qty": ("reserved_qty", plain),
    "reorder_qty": ("reorder_qty", plain),
    "last_updated": ("last_updated", iso),
}
_LEDGER = {
    "item_sku": ("item__sku", str),
    "warehouse_code": ("warehouse__code", str),
    "holder_code": ("holder__code", str),
    "qty_delta": ("qty_delta", plain),
    "kind": ("kind", str),
    "reason": ("reason", str),
    "created_at": ("created_at", iso),
    "reference": ("doc_id", str),  # a re-import stores it as doc_id again
    "id": ("id", str),
    "batch_no": ("batch__batch_no", str),
    "reserved_delta": ("reserved_delta", plain),
    "doc_type": ("doc_type", str),
    "doc_id": ("doc_id", str),
    "actor": ("actor__username", str),
    "hash": ("hash", str),
    "prev_hash": ("prev_hash", str),
}
assert tuple(_BATCH) == BATCH_COLUMNS.export and tuple(_LEDGER) == LEDGER_COLUMNS.export
assert tuple(_INVENTORY) == INVENTORY_COLUMNS


def csv_export(
    *,
    kind: str,
    out,
    item: str | None = None,
    warehouse: str | None = None,
    include_empty: bool = False,
    non_batched: bool = False,
) -> int:
    """Write the rows of `kind` as CSV to `out` (header first); return the number of data rows.

    batches: only batches holding stock (usable_qty > 0) unless include_empty, since `qty` is what a
    re-import opens; ledger: every row in id order (chain order), or only non-batched ones.
    """
    columns = {"batches": _BATCH, "inventory": _INVENTORY, "ledger": _LEDGER}[kind]
    qs = {"batches": Batch.objects, "inventory": Inventory.objects, "ledger": LedgerEntry.objects}[kind].all()
    if item is not None:
        if not Item.objects.filter(sku=item).exists():
            raise NotFound(f"No item with SKU {item!r}.")
        qs = qs.filter(item__sku=item)
    if warehouse is not None:
        if not Warehouse.objects.filter(code=warehouse).exists():
            raise NotFound(f"No warehouse with code {warehouse!r}.")
        qs = qs.filter(warehouse__code=warehouse)
    if kind == "batches" and not include_empty:
        qs = qs.filter(usable_qty__gt=0)
    if kind == "ledger" and non_batched:
        qs = qs.filter(batch__isnull=True)
    paths = [path for path, _ in columns.values()]
    formats = [fmt for _, fmt in columns.values()]
    writer = csv.writer(out, lineterminator="\n")
    writer.writerow(columns)
    n = 0
    for row in _stream(qs, paths):
        writer.writerow(["" if v is None else fmt(v) for fmt, v in zip(formats, row, strict=True)])
        n += 1
    return n


def _stream(qs, paths: list[str]) -> Iterator[tuple]:
    """Rows in pk order, never the whole result in memory.

    PostgreSQL (server-side cursor) and SQLite stream one query with .iterator(); mysqlclient would
    buffer the whole result of one query client-side, so on MariaDB/MySQL the rows are read in
    keyset pages of CHUNK rows instead.
    """
    if connection.vendor != "mysql":
        yield from qs.order_by("pk").values_list(*paths).iterator(chunk_size=CHUNK)
        return
    last = None
    while True:
        page = qs.order_by("pk") if last is None else qs.filter(pk__gt=last).order_by("pk")
        rows = list(page.values_list("pk", *paths)[:CHUNK].iterator(chunk_size=CHUNK))
        for row in rows:
            yield row[1:]
        if len(rows) < CHUNK:
            return
        last = rows[-1][0]
