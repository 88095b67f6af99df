"""Demo stock: a few items with batches (some expiring), a transfer and an issue, all through services."""

from datetime import timedelta

from django.utils import timezone

from stockledger.catalog.models import Item, ProductType, Warehouse

from . import services
from .models import Batch

ITEMS = [
    ("MED-KIT", "First-aid kit", True),
    ("TARP-4X6", "Tarpaulin 4 x 6 m", False),
]


def load(actor) -> str | None:
    if ProductType.objects.filter(code="general").exists():
        return None
    pt = ProductType.objects.create(
        code="general", name="General goods", base_unit="piece", unit_decimals=0, batch_tracked=True
    )
    central, north = Warehouse.objects.get(code="central"), Warehouse.objects.get(code="north")
    today = timezone.localdate()
    batches = []
    for sku, name, expires in ITEMS:
        item = Item.objects.create(
            product_type=pt,
            sku=sku,
            name=name,
            variant_key=sku,
            issuance_order=Item.IssuanceOrder.FEFO if expires else Item.IssuanceOrder.FIFO,
            can_expire=expires,
        )
        for n, (qty, days) in enumerate([(120, 20), (80, 200)]):
            r = services.batch_receive(
                actor=actor,
                item_id=item.pk,
                warehouse_id=central.pk,
                qty=qty,
                batch_no=f"{sku}-{n + 1:03d}",
                batch_date=today - timedelta(days=30 - n),
                expiry_date=today + timedelta(days=days) if expires else None,
            )
            batches.append(r["batch_id"])
    services.stock_transfer(
        actor=actor,
        lines=[{"batch_id": batches[0], "qty": 20}],
        to_warehouse_id=north.pk,
        reason="demo: stock the north warehouse",
    )
    services.stock_issue(actor=actor, lines=[{"batch_id": batches[2], "qty": 5}], reason="demo: issued to a site")
    return f"{Batch.objects.filter(item__product_type=pt).count()} general batches"
