"""This app's part of `stockledger demo`: the pipe-factory spec's worked examples, through the services
(idempotent: skipped once batch #123 exists in the demo yard).

- #123 (HDPE OD=110, PN=8, PE=63): 5 rolls × 500m, roll cut into [200 + 300], the 300m piece into
  [150 + 150], the 200m piece dispatched → the spec's detail view, 2,300m.
- #456 (Sprinkler OD=20, PN=6, Type=L): 3 bundles × 50, one split into 50 spares, one bundle dispatched
  (same dispatch as the 200m piece), 25 spares combined into a custom bundle of 25 → 100 pieces.
- #999: the customer brought the 200m piece back (dispatch revert: a NEW batch; #123 stays at 2,300m).
- #789: 1,000 spares, 100 scrapped (900) and the scrap reverted (1,000).
- a return of one 500m roll, reverted (the spec's #888: REVERTED, current quantity 0).
- a multi-item return (1,500m and 55 pieces, two batches) and a return of 2×500m + 3×300m rolls.
"""

from datetime import date

from stockledger.catalog.models import Customer, Item, ProductType, Warehouse
from stockledger.catalog.services import (
    customer_create,
    item_create,
    validate_attributes,
    variant_key,
    warehouse_create,
)
from stockledger.stock.models import Batch

from . import services as svc
from .models import CutPiece, Operation, PieceStatus, Stock
from .selectors import operation_detail

YARD = "tarko-yard"
VARIANTS = {
    "hdpe": ("HDPE-110-8-63-TARKO", {"OD": "110", "PN": "8", "PE": "63", "Brand": "Tarko"}),
    "sprinkler": ("SPR-20-6-L-TARKO", {"OD": "20", "PN": "6", "Type": "L", "Brand": "Tarko"}),
}


def _variant(actor, code: str) -> Item:
    sku, attributes = VARIANTS[code]
    pt = ProductType.objects.get(code=code)
    key = variant_key(validate_attributes(pt, attributes))
    item = Item.objects.filter(product_type=pt, variant_key=key).first()
    return item or item_create(actor=actor, product_type=pt, sku=sku, attributes=attributes)


def _record(batch_id: int, stock_type: str) -> int:
    return Stock.objects.get(batch_id=batch_id, stock_type=stock_type).pk


def _piece(batch_id: int, length: int) -> int:
    return (
        CutPiece.objects.filter(stock__batch_id=batch_id, status=PieceStatus.IN_STOCK, length_meters=length)
        .order_by("pk")
        .values_list("pk", flat=True)[0]
    )


def load(actor) -> str | None:
    yard = Warehouse.objects.filter(code=YARD).first()
    if yard and Batch.objects.filter(warehouse=yard, batch_no="123").exists():
        return None
    yard = yard or warehouse_create(actor=actor, code=YARD, name="Tarko factory yard", kind="factory_yard")
    customer = Customer.objects.filter(code="acme-farms").first() or customer_create(
        actor=actor, code="acme-farms", name="Acme Farms", kind="business"
    )
    hdpe, sprinkler = _variant(actor, "hdpe"), _variant(actor, "sprinkler")
    here = {"warehouse_id": yard.pk}

    def produce(item, *lines, **kw):
        return svc.production_create(actor=actor, item_id=item.pk, lines=list(lines), **here, **kw)["batch_id"]

    b123 = produce(
        hdpe,
        {"stock_type": "FULL_ROLL", "quantity": 5, "length_per_unit": 500},
        batch_no="123",
        batch_date=date(2025, 12, 1),
    )
    svc.stock_cut(actor=actor, stock_id=_record(b123, "FULL_ROLL"), piece1_length=200, piece2_length=300)
    cut_roll = _record(b123, "CUT_ROLL")
    svc.stock_cut(actor=actor, stock_id=cut_roll, piece_id=_piece(b123, 300), piece1_length=150, piece2_length=150)

    b456 = produce(sprinkler, {"stock_type": "BUNDLE", "quantity": 3, "pieces_per_bundle": 50}, batch_no="456")
    svc.bundle_split(actor=actor, stock_id=_record(b456, "BUNDLE"))
    dispatch = svc.dispatch_create(
        actor=actor,
        customer_id=customer.pk,
        invoice_number="INV-DEMO-0001",
        lines=[
            {"stock_id": cut_roll, "piece_ids": [_piece(b123, 200)]},
            {"stock_id": _record(b456, "BUNDLE"), "quantity": 1},
        ],
    )
    svc.spares_combine(actor=actor, stock_id=_record(b456, "SPARE"), bundle_size=25, quantity=25)
    piece_line = next(
        line["line_id"] for line in _dispatch_lines(dispatch["dispatch_id"]) if line["stock_type"] == "CUT_ROLL"
    )
    svc.dispatch_revert(
        actor=actor, dispatch_id=dispatch["dispatch_id"], lines=[{"line_id": piece_line}], batch_no="999"
    )

    b789 = produce(sprinkler, {"stock_type": "SPARE", "quantity": 1000}, batch_no="789")
    scrap = svc.scrap_create(
        actor=actor, reason="demo: scrapped by mistake", lines=[{"stock_id": _record(b789, "SPARE"), "quantity": 100}]
    )
    svc.scrap_revert(actor=actor, scrap_id=scrap["scrap_id"])

    wrong = svc.return_create(
        actor=actor,
        items=[{"item_id": hdpe.pk, "stock_type": "FULL_ROLL", "quantity": 1, "length_per_unit": 500}],
        **here,
    )
    svc.return_revert(actor=actor, return_id=wrong["return_id"])
    svc.return_create(
        actor=actor,
        items=[
            {"item_id": hdpe.pk, "stock_type": "FULL_ROLL", "quantity": 2, "length_per_unit": 500},
            {"item_id": hdpe.pk, "stock_type": "CUT_ROLL", "piece_lengths": [200, 150, 150]},
            {"item_id": sprinkler.pk, "stock_type": "BUNDLE", "quantity": 1, "pieces_per_bundle": 50},
            {"item_id": sprinkler.pk, "stock_type": "SPARE", "quantity": 5},
        ],
        **here,
    )
    svc.return_create(
        actor=actor,
        items=[
            {"item_id": hdpe.pk, "stock_type": "FULL_ROLL", "quantity": 2, "length_per_unit": 500},
            {"item_id": hdpe.pk, "stock_type": "FULL_ROLL", "quantity": 3, "length_per_unit": 300},
        ],
        **here,
    )
    return "pipe examples: batches #123, #456, #789, #999 and four returns"


def _dispatch_lines(dispatch_id: int) -> list[dict]:
    return operation_detail(Operation.objects.get(pk=dispatch_id))["lines"]
