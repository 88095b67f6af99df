"""Builders and checks shared by the pipe tests (db, api, concurrency, stateful). Holds no tests.

Named test_pipes_* to live with the pipe tests; every builder goes through the services, so every
state a test starts from is one the system can reach (docs/pipes.md, "Consistent starting states").
"""

from decimal import Decimal

from stockledger.catalog.models import Item, ProductType
from stockledger.catalog.services import validate_attributes, variant_key
from stockledger.core.models import AuditLog
from stockledger.pieces import services as svc
from stockledger.pieces.invariants import check_i5, check_i6
from stockledger.pieces.models import CutPiece, PieceStatus, SparePiece, Stock
from stockledger.reconcile.registry import Chunk, Partition
from stockledger.stock.models import Batch, LedgerEntry
from tests.invariants import assert_invariants

D = Decimal
IN = PieceStatus.IN_STOCK


def pipe_item(code: str, **attributes) -> Item:
    """An HDPE or sprinkler variant (the product types come from the pieces data migration)."""
    pt = ProductType.objects.get(code=code)
    clean = validate_attributes(pt, attributes)
    key = variant_key(clean)
    item = Item.objects.filter(product_type=pt, variant_key=key).first()
    if item is None:
        sku = f"{code}-{key}".replace("|", "-").replace("=", "")[:64]
        item = Item.objects.create(product_type=pt, sku=sku, name=f"{pt.name} {key}", attributes=clean, variant_key=key)
    return item


def hdpe(od=110, pn=8, pe=63, brand="Tarko") -> Item:
    return pipe_item("hdpe", OD=od, PN=pn, PE=pe, Brand=brand)


def sprinkler(od=20, pn=6, type_="L", brand="Tarko") -> Item:
    return pipe_item("sprinkler", OD=od, PN=pn, Type=type_, Brand=brand)


def produce(actor, item, *lines, **kw) -> dict:
    return svc.production_create(actor=actor, item_id=item.pk, lines=list(lines), **kw)


def rolls(n, length):
    return {"stock_type": "FULL_ROLL", "quantity": n, "length_per_unit": str(length)}


def cuts(*lengths):
    return {"stock_type": "CUT_ROLL", "piece_lengths": [str(x) for x in lengths]}


def bundles(n, size):
    return {"stock_type": "BUNDLE", "quantity": n, "pieces_per_bundle": size}


def spares(n):
    return {"stock_type": "SPARE", "quantity": n}


def batch(pk) -> Batch:
    return Batch.objects.get(pk=pk)


def current(pk) -> Decimal:
    return Batch.objects.get(pk=pk).usable_qty


def record(batch_id, stock_type, **kw) -> Stock:
    return Stock.objects.get(batch_id=batch_id, stock_type=stock_type, **kw)


def lengths(batch_id) -> list[Decimal]:
    """IN_STOCK cut piece lengths of a batch, in creation order."""
    return [
        p.length_meters.normalize() for p in CutPiece.objects.filter(stock__batch_id=batch_id, status=IN).order_by("pk")
    ]


def piece(batch_id, length) -> CutPiece:
    return CutPiece.objects.filter(stock__batch_id=batch_id, status=IN, length_meters=D(length)).order_by("pk")[0]


def spare_ids(batch_id, n=None) -> list[int]:
    ids = SparePiece.objects.filter(stock__batch_id=batch_id, status=IN).order_by("pk").values_list("pk", flat=True)
    return list(ids[:n] if n else ids)


def counts() -> tuple:
    return LedgerEntry.objects.count(), AuditLog.objects.count(), Batch.objects.count(), Stock.objects.count()


def pipe_drift() -> list:
    """I5 and I6 over every item, straight from the pieces checks (independent of the verify engine)."""
    chunk = Chunk(Partition("items", "catalog.Item"), 1, 2**62)
    return [*check_i5(chunk), *check_i6(chunk)]


def assert_consistent() -> None:
    """The last line of every pipe db test: the whole verify engine (I1–I8) and, directly, I5 and I6."""
    assert_invariants()
    assert pipe_drift() == []
    for b in Batch.objects.filter(item__product_type__has_stock_forms=True):
        assert b.initial_qty > 0 and b.usable_qty >= 0
