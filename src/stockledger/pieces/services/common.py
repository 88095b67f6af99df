"""What the pipe services share: operations (documents), locking, stock records and pieces, audit.

Lock order everywhere (DESIGN §3, never reversed): the operation being reverted or closed → stock
records (pk order) → batches (stock.engine.lock_batches) → inventory rows (stock.engine.apply).
Pieces are changed only while their stock record is locked, so the record serialises its pieces.
"""

import uuid
from datetime import date
from decimal import Decimal

from django.utils import timezone

from stockledger.catalog.models import Customer, Item, Warehouse
from stockledger.core import audit
from stockledger.core.errors import Conflict, NotFound, StaleVersion, ValidationError
from stockledger.core.locking import lock
from stockledger.stock import engine
from stockledger.stock.models import Batch

from ..models import PIECE_TYPES, CutPiece, Operation, OperationLine, SparePiece, Stock, StockType
from ..rules import Problems, StockSpec, stock_types_for

STALE = "Batch was modified, please retry"


def invalid(message: str, **extra) -> Conflict:
    return Conflict(message, code="invalid_operation", extra=extra)


def not_in_stock(pieces: list[dict]) -> Conflict:
    text = ", ".join(f"piece #{p['piece_id']} is {p['status']}" for p in pieces)
    return Conflict(f"Only IN_STOCK pieces can be used: {text}.", code="piece_not_in_stock", extra={"pieces": pieces})


def real_user(actor):
    return actor if getattr(actor, "pk", None) else None


# --- operations ----------------------------------------------------------------------------------


def new_operation(kind: str, actor, *, op_date: date | None = None, **fields) -> Operation:
    """An operation document with its human number (e.g. DSP-2026-000123, from its id: unique, no counter)."""
    op_date = op_date or timezone.localdate()
    op = Operation.objects.create(
        kind=kind, number=f"tmp-{uuid.uuid4().hex[:24]}", op_date=op_date, created_by=real_user(actor), **fields
    )
    op.number = f"{Operation.PREFIX[kind]}-{op_date:%Y}-{op.pk:06d}"
    Operation.objects.filter(pk=op.pk).update(number=op.number)
    return op


def lock_operation(op_id: int, kind: str, label: str) -> Operation:
    op = lock(Operation, [op_id]).get(op_id)
    if op is None or op.kind != kind:
        raise NotFound(f"{label} {op_id} not found.")
    return op


def set_status(op: Operation, status: str) -> None:
    Operation.update_if_version(op.pk, op.version, f"{op.number} was modified, please retry", status=status)
    op.status, op.version = status, op.version + 1


def op_audit(actor, op: Operation, action: str, before=None, after=None) -> None:
    audit.record(actor, action, "pipe_operation", op.pk, before, {"number": op.number, **(after or {})})


# --- reference data ------------------------------------------------------------------------------


def pipe_item(item_id, field: str = "item_id") -> Item:
    """An item of a product type with stock forms (HDPE pipe, sprinkler pipe), or 400."""
    try:
        pk = int(item_id)
    except (TypeError, ValueError):
        raise ValidationError("An item id is required.", fields={field: ["an item id is required"]}) from None
    item = Item.objects.select_related("product_type").filter(pk=pk).first()
    if item is None:
        raise ValidationError(f"Unknown item {pk}.", fields={field: [f"unknown item {pk}"]})
    if not item.product_type.has_stock_forms:
        raise ValidationError(
            f"{item} has no stock forms (rolls, bundles); receive it through the stock API.",
            fields={field: ["not a pipe item (its product type has no stock forms)"]},
        )
    return item


def types_of(item: Item) -> tuple[str, str]:
    return stock_types_for(item.product_type.base_unit)


def warehouse_or_yard(warehouse_id) -> Warehouse:
    """The named warehouse, or the factory yard (the first warehouse of kind factory_yard; one with code
    "factory-yard" is created when there is none)."""
    if warehouse_id is not None:
        try:
            pk = int(warehouse_id)
        except (TypeError, ValueError):
            raise ValidationError("warehouse_id must be an id.", fields={"warehouse_id": ["must be an id"]}) from None
        wh = Warehouse.objects.filter(pk=pk).first()
        if wh is None:
            raise ValidationError(f"Unknown warehouse {pk}.", fields={"warehouse_id": [f"unknown warehouse {pk}"]})
        return wh
    wh = Warehouse.objects.filter(kind=Warehouse.Kind.FACTORY_YARD, active=True).order_by("pk").first()
    if wh is None:
        wh, created = Warehouse.objects.get_or_create(
            code="factory-yard", defaults={"name": "Factory yard", "kind": Warehouse.Kind.FACTORY_YARD}
        )
        if created:
            audit.record("system", "warehouse.create", "warehouse", wh.pk, None, {"code": wh.code, "auto": True})
    return wh


def customer_or_none(customer_id, problems: Problems, required: bool = False):
    if customer_id is None:
        if required:
            problems.add("customer_id", "a customer is required")
        return None
    try:
        pk = int(customer_id)
    except (TypeError, ValueError):
        problems.add("customer_id", "must be an id")
        return None
    customer = Customer.objects.filter(pk=pk).first()
    if customer is None:
        problems.add("customer_id", f"unknown customer {pk}")
    return customer


# --- locking -------------------------------------------------------------------------------------


def lock_stocks_and_batches(stock_ids, *, piece_slots=()) -> tuple[dict[int, Stock], dict[int, Batch]]:
    """Lock stock records (pk order), then their batches. With `piece_slots`, also each batch's CUT_ROLL /
    SPARE record of those types, so a transformation that adds pieces holds it before the batch lock.
    A piece record that appears between the two steps (made by a concurrent first cut or split of the
    batch) means the view was stale: 409, retry."""
    ids = set(stock_ids)
    batch_of = dict(Stock.objects.filter(pk__in=ids).values_list("pk", "batch_id"))
    slots = _slot_ids(set(batch_of.values()), piece_slots)
    stocks = lock(Stock, ids | set(slots.values()))
    batches = engine.lock_batches({s.batch_id for s in stocks.values()})
    if piece_slots and _slot_ids(set(batch_of.values()), piece_slots) != slots:
        raise StaleVersion(STALE, extra={"reason": "a piece record was created concurrently"})
    return stocks, batches


def _slot_ids(batch_ids: set[int], slots) -> dict[tuple[int, str], int]:
    if not slots:
        return {}
    rows = Stock.objects.filter(batch_id__in=batch_ids, piece_slot__in=list(slots))
    return {(b, t): pk for pk, b, t in rows.values_list("pk", "batch_id", "piece_slot")}


def check_active(batch: Batch) -> None:
    if batch.status != Batch.Status.ACTIVE:
        raise invalid(f"Batch #{batch.batch_no} is {batch.status.lower()}.", batch_id=batch.pk)


def check_version(obj, expected: int | None, what: str) -> None:
    if expected is not None and expected != obj.version:
        raise StaleVersion(
            STALE, extra={"object": what, "id": obj.pk, "expected_version": expected, "current_version": obj.version}
        )


# --- stock records and pieces --------------------------------------------------------------------


def piece_record(batch: Batch, stock_type: str, op: Operation) -> Stock:
    """The batch's one CUT_ROLL or SPARE record (created empty on first use; the batch is locked)."""
    rec = Stock.objects.filter(batch=batch, piece_slot=stock_type).first()
    if rec is None:
        rec = Stock.objects.create(batch=batch, stock_type=stock_type, piece_slot=stock_type, created_by_op=op)
    return rec


def refresh_stocks(stocks) -> None:
    """Reload quantity and version (the trigger changes them in the database)."""
    rows = Stock.objects.filter(pk__in=[s.pk for s in stocks]).values_list("pk", "quantity", "version")
    fresh = {pk: (q, v) for pk, q, v in rows}
    for s in stocks:
        s.quantity, s.version = fresh[s.pk]


def stock_state(s: Stock) -> dict:
    return {
        "stock_id": s.pk,
        "stock_type": s.stock_type,
        "quantity": s.quantity,
        "length_per_unit": s.length_per_unit,
        "pieces_per_bundle": s.pieces_per_bundle,
        "version": s.version,
    }


def new_cut_pieces(stock: Stock, lengths: list[Decimal], op: Operation, **lineage) -> list[CutPiece]:
    return CutPiece.objects.bulk_create(
        [CutPiece(stock=stock, length_meters=x, created_by_op=op, **lineage) for x in lengths]
    )


def new_spare_pieces(stock: Stock, n: int, op: Operation, **lineage) -> list[SparePiece]:
    return SparePiece.objects.bulk_create(
        [SparePiece(stock=stock, created_by_op=op, **lineage) for _ in range(n)], batch_size=500
    )


def create_records(batch: Batch, specs: list[StockSpec], op: Operation, *, lines: bool = True) -> list[tuple]:
    """The stock records (and pieces) of a new batch: [(record, new pieces)], in the order of `specs`.
    With `lines`, one OperationLine per record (a dispatch revert writes its own, per returned line)."""
    made, op_lines = [], []
    for spec in specs:
        pieces = []
        if spec.stock_type in PIECE_TYPES:
            rec = piece_record(batch, spec.stock_type, op)
            if spec.stock_type == StockType.CUT_ROLL:
                pieces = new_cut_pieces(rec, spec.piece_lengths, op)
            else:
                pieces = new_spare_pieces(rec, spec.quantity, op)
        else:
            rec = Stock.objects.create(
                batch=batch,
                stock_type=spec.stock_type,
                quantity=spec.quantity,
                length_per_unit=spec.length_per_unit,
                pieces_per_bundle=spec.pieces_per_bundle,
                created_by_op=op,
            )
        made.append((rec, pieces))
        op_lines.append(
            OperationLine(
                operation=op,
                batch=batch,
                stock=rec,
                stock_type=spec.stock_type,
                units=spec.units,
                qty=spec.total,
                length_per_unit=spec.length_per_unit,
                pieces_per_bundle=spec.pieces_per_bundle,
            )
        )
    if lines:
        OperationLine.objects.bulk_create(op_lines)
    refresh_stocks([rec for rec, _ in made])
    return made


def records_audit(actor, action: str, stocks: list[Stock], before: dict[int, dict] | None = None, **after) -> None:
    audit.record_many(
        actor,
        [audit.Change(action, "stock", s.pk, (before or {}).get(s.pk), {**stock_state(s), **after}) for s in stocks],
    )


def piece_model(stock: Stock):
    return CutPiece if stock.stock_type == StockType.CUT_ROLL else SparePiece


def move_pieces(model, ids: list[int], *, frm: str, to: str, op: Operation, **extra) -> None:
    """Change the status of these pieces (all must still be `frm`: the caller checked under the lock)."""
    changed = model.objects.filter(pk__in=ids, status=frm).update(status=to, status_op=op, **extra)
    if changed != len(ids):  # cannot happen while the stock record is locked; never write half
        raise Conflict("Pieces changed during the operation, please retry", code="stale_version")
