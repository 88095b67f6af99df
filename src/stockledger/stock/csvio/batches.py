"""`import batches`: opening balances, one new batch per line, through the engine's receive().

Every line is checked first and every bad line is reported with its line number; only a clean file
is imported, all of it in one transaction (or none of it).
"""

from dataclasses import dataclass
from datetime import date

from django.db import transaction
from django.utils import timezone

from stockledger.catalog.models import Item, Warehouse
from stockledger.core import audit
from stockledger.core.errors import DomainError
from stockledger.core.errors import ValidationError as DomainValidationError

from ..engine import Posting
from ..models import Batch, StockDocument, inventory_key
from ..services.common import new_document
from ..services.movements import receive
from ..validation import quantity
from .common import (
    IN_CHUNK,
    MAX_QTY,
    Catalog,
    Columns,
    CsvSource,
    ItemRef,
    LineErrors,
    Progress,
    authorize_import,
    chunked,
    lock_keys,
    no_progress,
    parse_date,
    reject,
    same_code,
)

BATCH_COLUMNS = Columns(
    known=("item_sku", "warehouse_code", "qty", "batch_no", "batch_code", "origin", "batch_date", "expiry_date"),
    required=frozenset({"item_sku", "warehouse_code", "qty"}),
    export_only=("usable_qty", "reserved_qty", "status", "id"),
)
ORIGINS = {o.value for o in Batch.Origin}
MAX_TEXT = {"batch_no": 64, "batch_code": 64}


@dataclass
class BatchLine:
    line: int
    item: ItemRef
    warehouse_id: int
    qty: object
    batch_no: str
    batch_code: str
    origin: str
    batch_date: date
    expiry_date: date | None


def batches_import(*, path, actor, dry_run: bool = False, progress: Progress = no_progress) -> dict:
    """Check every line of the file, then create all its batches in one transaction (nothing on any error)."""
    authorize_import(actor)
    source = CsvSource(path, BATCH_COLUMNS)
    rows = list(source.rows())
    catalog = Catalog()
    catalog.load(
        skus=(v["item_sku"] for _, v, _ in rows if v), warehouses=(v["warehouse_code"] for _, v, _ in rows if v)
    )
    errors, lines = LineErrors(), []
    today = timezone.localdate()
    for line, values, shape in progress(rows, total=len(rows), desc="checking", unit="line"):
        if shape:
            errors.add(line, shape)
            continue
        parsed, problems = _parse(line, values, catalog, today)
        if problems:
            errors.add(line, *problems)
        else:
            lines.append(parsed)
    _check_duplicates(lines, errors)
    errors.listed.sort()
    errors.raise_if_any(source.name)
    if not lines:
        raise reject(source.name, 1, "no lines to import")
    authorize_import(actor, {ln.warehouse_id for ln in lines})

    result = {"file": source.name, "lines": len(lines), "dry_run": dry_run}
    try:
        with transaction.atomic():
            result.update(_write(lines, actor, source.name, progress))
            if dry_run:
                raise _DryRun
    except _DryRun:
        result["document_id"] = None
    return result


class _DryRun(Exception):
    """Raised inside the transaction of a dry run, so everything it wrote is rolled back."""


def _parse(line: int, v: dict[str, str], catalog: Catalog, today: date) -> tuple[BatchLine | None, list[str]]:
    problems = []
    get = v.get
    item = catalog.items.get(get("item_sku", ""))
    if not get("item_sku"):
        problems.append("item_sku: required")
    elif item is None:
        problems.append(f"item_sku: unknown item {v['item_sku']!r}")
    elif not item.batch_tracked:
        problems.append(f"item_sku: {item.sku} is not batch-tracked; import it with `import ledger`")
    warehouse_id = catalog.warehouses.get(get("warehouse_code", ""))
    if not get("warehouse_code"):
        problems.append("warehouse_code: required")
    elif warehouse_id is None:
        problems.append(f"warehouse_code: unknown warehouse {v['warehouse_code']!r}")
    qty = None
    if item is not None:
        try:
            qty = quantity(get("qty", ""), item.decimals, item.unit, "qty")
            if qty >= MAX_QTY:
                problems.append(f"qty: {qty} is too large")
        except DomainValidationError as e:
            problems.append(f"qty: {e.message}")
    elif not get("qty"):
        problems.append("qty: required")
    for column, size in MAX_TEXT.items():
        if len(get(column) or "") > size:
            problems.append(f"{column}: longer than {size} characters")
    origin = get("origin") or Batch.Origin.OPENING
    if origin not in ORIGINS:
        problems.append(f"origin: {origin!r} is not one of {', '.join(sorted(ORIGINS))}")
    batch_date = expiry = None
    try:
        batch_date = parse_date(get("batch_date"), "batch_date") if get("batch_date") else today
        expiry = parse_date(get("expiry_date"), "expiry_date") if get("expiry_date") else None
    except ValueError as e:
        problems.append(str(e))
    if batch_date and expiry and expiry < batch_date:
        problems.append(f"expiry_date: {expiry} is before the batch date {batch_date}")
    if item is not None and item.can_expire and not get("expiry_date"):
        problems.append(f"expiry_date: required, {item.sku} expires")
    if problems:
        return None, problems
    return BatchLine(
        line, item, warehouse_id, qty, get("batch_no") or "", get("batch_code") or "", origin, batch_date, expiry
    ), []


def _check_duplicates(lines: list[BatchLine], errors: LineErrors) -> None:
    """A batch number is unique per warehouse: within the file and against the database."""
    norm = same_code()
    numbered = [ln for ln in lines if ln.batch_no]
    problems: dict[int, list[str]] = {}
    seen: dict[tuple[str, int], int] = {}
    for ln in numbered:
        key = (norm(ln.batch_no), ln.warehouse_id)
        if key in seen:
            msg = f"batch_no: {ln.batch_no} appears twice for this warehouse (first on line {seen[key]})"
            problems.setdefault(ln.line, []).append(msg)
        else:
            seen[key] = ln.line
    existing = set()
    for part in chunked(sorted({ln.batch_no for ln in numbered}), IN_CHUNK):
        rows = Batch.objects.filter(batch_no__in=part).values_list("batch_no", "warehouse_id")
        existing |= {(norm(no), wh) for no, wh in rows}
    for ln in numbered:
        if (norm(ln.batch_no), ln.warehouse_id) in existing:
            problems.setdefault(ln.line, []).append(f"batch_no: {ln.batch_no} already exists in this warehouse")
    for line, found in problems.items():
        errors.add(line, *found)


def _write(lines: list[BatchLine], actor, name: str, progress: Progress) -> dict:
    reason = f"CSV import of {name}"
    doc = new_document(StockDocument.Kind.RECEIPT, actor, [{"file": name, "lines": len(lines)}], reason)
    posting = Posting(actor, "import", str(doc.pk), reason=reason)
    keys = {inventory_key(ln.item.pk, ln.warehouse_id, None): (ln.item.pk, ln.warehouse_id, None) for ln in lines}
    lock_keys(keys)  # every inventory row of the file, in pk order, before the first batch is written
    items = Item.objects.select_related("product_type").in_bulk({ln.item.pk for ln in lines})
    warehouses = Warehouse.objects.in_bulk({ln.warehouse_id for ln in lines})
    for ln in progress(lines, total=len(lines), desc="importing", unit="batch"):
        try:
            receive(
                actor=actor,
                item=items[ln.item.pk],
                warehouse=warehouses[ln.warehouse_id],
                qty=ln.qty,
                posting=posting,
                batch_no=ln.batch_no or None,
                batch_code=ln.batch_code,
                origin=ln.origin,
                batch_date=ln.batch_date,
                expiry_date=ln.expiry_date,
            )
        except DomainError as e:  # a batch number taken meanwhile by another writer: all is rolled back
            raise reject(name, ln.line, e.message) from None
    after = {"file": name, "lines": len(lines), "batches": len(lines), "inventory_rows": len(keys)}
    audit.record(actor, "batch.import", "stock_document", doc.pk, None, after)
    return {"document_id": doc.pk, "batches": len(lines), "inventory_rows": len(keys)}
