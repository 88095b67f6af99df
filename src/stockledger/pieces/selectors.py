"""Pipe reads: batch detail (with the spec's display lines), batch list, per-variant totals, the dispatch
selection, and operation (dispatch / scrap / return) lists and details. No writes here.

Lists that show variants sort them naturally (OD 20 before 110), through catalog.selectors.
"""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Case, Count, IntegerField, Q, Sum, Value, When

from stockledger.catalog.models import Item
from stockledger.catalog.selectors import item_sort_key
from stockledger.stock.models import Batch

from .display import StockLine, describe_batch, describe_stock, format_qty, stock_total, variant_label
from .models import PIECE_TYPES, CutPiece, Operation, OperationLine, PieceStatus, SparePiece, Stock, StockType

IN = PieceStatus.IN_STOCK
UNIT_LABEL = {StockType.FULL_ROLL: "rolls", StockType.CUT_ROLL: "pieces", StockType.BUNDLE: "bundles"}


def pipe_items(product_type: str | None = None):
    qs = Item.objects.select_related("product_type").filter(product_type__has_stock_forms=True)
    return qs.filter(product_type__code=product_type) if product_type else qs


def label(item: Item, *, brand: bool = True) -> str:
    return variant_label(item.product_type.code, item.attributes or {}, include_brand=brand)


def natural_rank(items) -> dict[int, int]:
    """item id -> its position in natural order (numbers by value, then text)."""
    return {item.pk: n for n, item in enumerate(sorted(items, key=item_sort_key))}


def by_rank(qs, rank: dict[int, int], field: str = "item_id"):
    """Order a queryset by the natural rank of its item, in SQL (so it can still be paginated)."""
    if not rank:
        return qs
    order = Case(*[When(**{field: pk}, then=Value(n)) for pk, n in rank.items()], output_field=IntegerField())
    return qs.annotate(_rank=order).order_by("_rank", "pk")


# --- stock records and batches -------------------------------------------------------------------


def _pieces(stocks: list[Stock]) -> tuple[dict[int, list], dict[int, list]]:
    ids = [s.pk for s in stocks]
    cut, spare = defaultdict(list), defaultdict(list)
    for pk, stock_id, length in CutPiece.objects.filter(stock_id__in=ids, status=IN).values_list(
        "pk", "stock_id", "length_meters"
    ):
        cut[stock_id].append((pk, length))
    for pk, stock_id in SparePiece.objects.filter(stock_id__in=ids, status=IN).values_list("pk", "stock_id"):
        spare[stock_id].append(pk)
    return cut, spare


def stock_line(s: Stock, cut: list, spare: list) -> StockLine:
    return StockLine(
        s.stock_type,
        quantity=s.quantity if s.stock_type not in PIECE_TYPES else 0,
        length_per_unit=s.length_per_unit,
        pieces_per_bundle=s.pieces_per_bundle,
        piece_lengths=[length for _, length in cut],
        spare_count=len(spare),
    )


def stock_record(s: Stock, cut: list, spare: list) -> dict:
    line = stock_line(s, cut, spare)
    return {
        "stock_id": s.pk,
        "stock_type": s.stock_type,
        "quantity": s.quantity,
        "length_per_unit": s.length_per_unit,
        "pieces_per_bundle": s.pieces_per_bundle,
        "version": s.version,
        "total": stock_total(line),
        "display": describe_stock(line),
        "pieces": [{"piece_id": pk, "length_meters": length} for pk, length in cut]
        if s.stock_type == StockType.CUT_ROLL
        else [{"piece_id": pk, "length_meters": None} for pk in spare],
    }


def batch_detail(batch) -> dict:
    """A pipe batch as the spec's inventory detail view shows it: its stock records with their pieces
    (IN_STOCK), current_quantity, and `display`, the view's lines ("Initial Quantity: 2,500m | ...")."""
    return batch_details([batch])[0]


def batch_details(batches) -> list[dict]:
    """batch_detail for several batches in four queries, whatever their number (list pages)."""
    batches = list(batches)
    items = {i.pk: i for i in Item.objects.select_related("product_type").filter(pk__in={b.item_id for b in batches})}
    stocks: dict[int, list[Stock]] = defaultdict(list)
    for s in Stock.objects.filter(batch_id__in=[b.pk for b in batches]).order_by("pk"):
        stocks[s.batch_id].append(s)
    cut, spare = _pieces([s for ss in stocks.values() for s in ss])
    return [_detail(b, items[b.item_id], stocks[b.pk], cut, spare) for b in batches]


def _detail(batch, item: Item, stocks: list[Stock], cut, spare) -> dict:
    unit = item.product_type.base_unit
    lines = [stock_line(s, cut[s.pk], spare[s.pk]) for s in stocks]
    variant = label(item, brand=False)
    return {
        "batch_id": batch.pk,
        "batch_no": batch.batch_no,
        "batch_code": batch.batch_code,
        "item_id": item.pk,
        "item": item.name,
        "variant": variant,
        "product_type": item.product_type.code,
        "unit": unit,
        "warehouse_id": batch.warehouse_id,
        "origin": batch.origin,
        "status": batch.status,
        "batch_date": batch.batch_date,
        "initial_quantity": batch.initial_qty,
        "current_quantity": batch.usable_qty,
        "total_available": batch.usable_qty,
        "stock_total": sum((stock_total(x) for x in lines), Decimal(0)),
        "version": batch.version,
        "stock_records": [stock_record(s, cut[s.pk], spare[s.pk]) for s in stocks],
        "display": describe_batch(
            batch.batch_no, variant, batch.batch_date, batch.initial_qty, batch.usable_qty, unit, lines
        ),
    }


def pipe_batches(*, item=None, warehouse=None, product_type=None, status=None, date_from=None, date_to=None):
    """Pipe batches, variants in natural order, then oldest first."""
    items = pipe_items(product_type)
    qs = Batch.objects.filter(item__in=items).select_related("item__product_type", "warehouse")
    for name, value in (("item_id", item), ("warehouse_id", warehouse), ("status", status)):
        if value not in (None, ""):
            qs = qs.filter(**{name: value})
    if date_from:
        qs = qs.filter(batch_date__gte=date_from)
    if date_to:
        qs = qs.filter(batch_date__lte=date_to)
    return by_rank(qs, natural_rank(items.filter(pk__in=qs.values("item_id"))))


def variant_totals(*, product_type: str | None = None, warehouse=None) -> list[dict]:
    """Total current quantity per variant (Σ current_quantity of its active batches), natural order."""
    items = sorted(pipe_items(product_type), key=item_sort_key)
    batches = Batch.objects.filter(item__in=[i.pk for i in items], status=Batch.Status.ACTIVE)
    if warehouse not in (None, ""):
        batches = batches.filter(warehouse_id=warehouse)
    sums = {
        r["item_id"]: r
        for r in batches.values("item_id").annotate(total=Sum("usable_qty"), n=Count("pk", filter=Q(usable_qty__gt=0)))
    }
    out = []
    for item in items:
        total = sums.get(item.pk, {}).get("total") or Decimal("0.000")
        out.append(
            {
                "item_id": item.pk,
                "sku": item.sku,
                "name": item.name,
                "product_type": item.product_type.code,
                "attributes": item.attributes,
                "variant": label(item),
                "unit": item.product_type.base_unit,
                "total_quantity": total,
                "batches": sums.get(item.pk, {}).get("n", 0),
                "display": format_qty(total, item.product_type.base_unit),
            }
        )
    return out


def dispatch_selection(*, item=None, warehouse=None) -> list[dict]:
    """Every stock record something can be dispatched from, with what can be taken: rolls or bundles
    (count and size), or the IN_STOCK pieces (cut pieces with their lengths; spares by count and id)."""
    qs = Stock.objects.filter(
        quantity__gt=0, batch__status=Batch.Status.ACTIVE, batch__item__product_type__has_stock_forms=True
    ).select_related("batch__item__product_type", "batch__warehouse")
    if item not in (None, ""):
        qs = qs.filter(batch__item_id=item)
    if warehouse not in (None, ""):
        qs = qs.filter(batch__warehouse_id=warehouse)
    stocks = list(qs)
    rank = natural_rank({s.batch.item for s in stocks})
    stocks.sort(key=lambda s: (rank[s.batch.item_id], s.batch_id, s.pk))
    cut, spare = _pieces(stocks)
    out = []
    for s in stocks:
        unit = s.batch.item.product_type.base_unit
        rec = stock_record(s, cut[s.pk], spare[s.pk])
        out.append(
            {
                **rec,
                "available": rec["quantity"],
                "available_unit": UNIT_LABEL.get(s.stock_type, "pieces"),
                "unit": unit,
                "batch_id": s.batch_id,
                "batch_no": s.batch.batch_no,
                "batch_version": s.batch.version,
                "batch_current_quantity": s.batch.usable_qty,
                "item_id": s.batch.item_id,
                "variant": label(s.batch.item),
                "warehouse_id": s.batch.warehouse_id,
                "warehouse": s.batch.warehouse.name,
            }
        )
    return out


# --- operations ----------------------------------------------------------------------------------


def returned_units(line_ids) -> dict[int, int]:
    """Units of these dispatch lines already returned by a dispatch revert that still stands."""
    rows = OperationLine.objects.filter(
        source_line_id__in=list(line_ids),
        operation__kind=Operation.Kind.RETURN,
        operation__status=Operation.Status.DONE,
    ).values_list("source_line_id", "units")
    out: dict[int, int] = defaultdict(int)
    for pk, n in rows:
        out[pk] += n
    return out


def operations(kind: str):
    qs = Operation.objects.filter(kind=kind).select_related("customer", "reverts", "created_by")
    return qs.prefetch_related("reverted_by").order_by("-pk")


def operation_summary(op: Operation) -> dict:
    return {
        "id": op.pk,
        "number": op.number,
        "kind": op.kind,
        "status": op.status,
        "date": op.op_date,
        "customer_id": op.customer_id,
        "customer": op.customer.name if op.customer_id else "",
        "invoice_number": op.invoice_number,
        "reason": op.reason,
        "reverts_id": op.reverts_id,
        "reverts_number": op.reverts.number if op.reverts_id else "",
        "reverted_by": [r.number for r in op.reverted_by.all()],
        "created_at": op.created_at,
        "created_by": op.created_by.username if op.created_by_id else "",
    }


def operation_detail(op: Operation) -> dict:
    """An operation with its lines (what it took or created, per stock record and piece)."""
    lines = list(OperationLine.objects.filter(operation=op).select_related("batch").order_by("pk"))
    back = returned_units(x.pk for x in lines) if op.kind == Operation.Kind.DISPATCH else {}
    per_batch: dict[int, Decimal] = defaultdict(Decimal)
    for x in lines:
        per_batch[x.batch_id] += x.qty
    return {
        **operation_summary(op),
        "details": op.details,
        "batches": [{"batch_id": b, "quantity": q} for b, q in sorted(per_batch.items())],
        "lines": [
            {
                "line_id": x.pk,
                "batch_id": x.batch_id,
                "batch_no": x.batch.batch_no,
                "stock_id": x.stock_id,
                "stock_type": x.stock_type,
                "units": x.units,
                "quantity": x.qty,
                "length_per_unit": x.length_per_unit,
                "pieces_per_bundle": x.pieces_per_bundle,
                "piece_id": x.cut_piece_id or x.spare_piece_id,
                "source_line_id": x.source_line_id,
                "returned_units": back.get(x.pk, 0),
            }
            for x in lines
        ],
    }
