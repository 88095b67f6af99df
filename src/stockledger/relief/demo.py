"""This app's part of `stockledger demo` (idempotent): relief items with batches (some expiring, one
expired) in the central and north warehouses, a submitted request and a package prepared as a draft."""

from datetime import timedelta

from django.utils import timezone

from stockledger.catalog.models import Customer, Item, ProductType, Warehouse
from stockledger.catalog.services import customer_create, item_create, product_type_create, warehouse_create
from stockledger.stock.models import Batch
from stockledger.stock.services import batch_receive

from . import selectors, services
from .models import ReliefRequest

TYPE_CODE = "relief-item"
EVENT = "Demo: river flood"
ATTRIBUTES = [
    {"name": "kind", "label": "Kind", "type": "text", "required": True},
    {"name": "pack", "label": "Pack", "type": "text", "required": False},
]
ITEMS = [
    # sku, name, attributes, issuance order, can expire
    ("RLF-WATER-5L", "Drinking water 5 L", {"kind": "water", "pack": "5 L"}, "FEFO", True),
    ("RLF-RICE-25KG", "Rice 25 kg", {"kind": "rice", "pack": "25 kg"}, "FEFO", True),
    ("RLF-BLANKET", "Blanket", {"kind": "blanket"}, "FIFO", False),
]
# sku, warehouse code, batch no, days since batch date, days until expiry (None: no expiry), quantity
BATCHES = [
    ("RLF-WATER-5L", "central", "W-2401", 400, -20, 40),  # expired: the drawer leaves it out
    ("RLF-WATER-5L", "central", "W-2402", 200, 45, 120),
    ("RLF-WATER-5L", "central", "W-2403", 60, 300, 200),
    ("RLF-WATER-5L", "north", "W-2404", 30, 20, 80),
    ("RLF-RICE-25KG", "central", "R-2401", 90, 120, 30),
    ("RLF-RICE-25KG", "central", "R-2402", 20, 400, 50),
    ("RLF-BLANKET", "central", "B-2401", 300, None, 100),
    ("RLF-BLANKET", "north", "B-2402", 10, None, 150),
]
WAREHOUSES = [("central", "Central relief warehouse"), ("north", "North relief warehouse")]


def _product_type(actor) -> ProductType:
    pt = ProductType.objects.filter(code=TYPE_CODE).first()
    return pt or product_type_create(
        actor=actor, code=TYPE_CODE, name="Relief item", base_unit="unit", unit_decimals=0, attribute_schema=ATTRIBUTES
    )


def load(actor) -> str | None:
    if ReliefRequest.objects.filter(event=EVENT).exists():
        return None
    today = timezone.localdate()
    pt = _product_type(actor)
    for code, name in WAREHOUSES:
        if not Warehouse.objects.filter(code=code).exists():
            warehouse_create(actor=actor, code=code, name=name)
    warehouses = {w.code: w for w in Warehouse.objects.filter(code__in=[c for c, _ in WAREHOUSES])}
    items = {}
    for sku, name, attrs, order, expires in ITEMS:
        items[sku] = Item.objects.filter(sku=sku).first() or item_create(
            actor=actor, product_type=pt, sku=sku, name=name, attributes=attrs, issuance_order=order, can_expire=expires
        )
    for sku, wh, no, age, expiry, qty in BATCHES:
        if Batch.objects.filter(batch_no=no, warehouse=warehouses[wh]).exists():
            continue
        batch_receive(
            actor=actor,
            item_id=items[sku].pk,
            warehouse_id=warehouses[wh].pk,
            qty=qty,
            batch_no=no,
            batch_date=today - timedelta(days=age),
            expiry_date=None if expiry is None else today + timedelta(days=expiry),
        )
    agency = Customer.objects.filter(code="red-cross-shelter").first() or customer_create(
        actor=actor, code="red-cross-shelter", name="Riverside shelter", kind="shelter"
    )
    req = services.relief_request_create(
        actor=actor,
        agency_id=agency.pk,
        event=EVENT,
        urgency=ReliefRequest.Urgency.HIGH,
        lines=[
            {"item_id": items["RLF-WATER-5L"].pk, "requested_qty": 150},
            {"item_id": items["RLF-RICE-25KG"].pk, "requested_qty": 20},
            {"item_id": items["RLF-BLANKET"].pk, "requested_qty": 60},
        ],
    )
    req = services.relief_request_submit(actor=actor, request_id=req["id"], version=req["version"])
    pkg = services.relief_package_create(actor=actor, request_id=req["id"], notes="Demo package, saved as a draft")
    central = warehouses["central"].pk
    allocations = []
    for line in req["lines"]:
        drawer = selectors.batch_drawer(item_id=line["item_id"], warehouse=str(central), package=pkg["id"])
        allocations += [{"batch_id": s["batch_id"], "qty": s["qty"]} for s in drawer["suggestion"]["lines"]]
    services.relief_package_save_draft(
        actor=actor, package_id=pkg["id"], version=pkg["version"], allocations=allocations
    )
    return f"relief: {len(ITEMS)} items, {len(BATCHES)} batches, request #{req['id']}, package {pkg['tracking_no']}"
