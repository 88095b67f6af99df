"""This app's part of `stockledger demo` (idempotent): LPG depots, a truck, cylinder products, customers
with cylinders on site, a ledger history and a few sales with invoices in each status.

Everything goes through the services with the given actor; postings and sales carry fixed
Idempotency-Keys, so a second run replays them and writes nothing.
"""

from stockledger.catalog.models import Customer, Warehouse
from stockledger.catalog.services import customer_create, warehouse_create
from stockledger.stock.services import ledger_post

from .models import LpgProduct
from .services import invoice_transition, lpg_product_setup, sale_create

PLACES = [
    ("depot-harbour", "Harbour LPG depot", Warehouse.Kind.DEPOT, "1 Quay Road"),
    ("depot-hill", "Hill LPG depot", Warehouse.Kind.DEPOT, "40 Ridge Street"),
    ("truck-1", "Delivery truck 1", Warehouse.Kind.VEHICLE, ""),
]
PRODUCTS = [("lpg-12-5", "LPG 12.5 kg", "12.5"), ("lpg-45", "LPG 45 kg", "45")]
CUSTOMERS = [
    ("hillside-bakery", "Hillside Bakery", "business"),
    ("marina-hotel", "Marina Hotel", "business"),
    ("rose-household", "R. Rose", "household"),
]

# (key, kind, reason, legs): leg = (product, FULL|EMPTY, place code, qty); customers by their code.
POSTINGS = [
    ("load-1", "LOAD", "", [("lpg-12-5", "FULL", "depot-harbour", 200), ("lpg-45", "FULL", "depot-harbour", 60)]),
    ("load-2", "LOAD", "", [("lpg-12-5", "FULL", "depot-hill", 120), ("lpg-45", "FULL", "depot-hill", 30)]),
    ("transfer-1", "TRANSFER", "", [("lpg-12-5", "FULL", "depot-harbour", -40), ("lpg-12-5", "FULL", "truck-1", 40)]),
    ("transfer-2", "TRANSFER", "", [("lpg-45", "FULL", "depot-harbour", -12), ("lpg-45", "FULL", "truck-1", 12)]),
    ("delivery-1", "DELIVERY", "", [("lpg-12-5", "FULL", "truck-1", -10), ("lpg-12-5", "FULL", "hillside-bakery", 10)]),
    ("delivery-2", "DELIVERY", "", [("lpg-45", "FULL", "truck-1", -6), ("lpg-45", "FULL", "marina-hotel", 6)]),
    (
        "collection-1",
        "COLLECTION",
        "",
        [("lpg-12-5", "FULL", "hillside-bakery", -4), ("lpg-12-5", "EMPTY", "truck-1", 4)],
    ),
    ("return-1", "RETURN", "", [("lpg-12-5", "EMPTY", "truck-1", -4), ("lpg-12-5", "EMPTY", "depot-harbour", 4)]),
    ("dump-1", "DUMP", "valve damaged", [("lpg-12-5", "EMPTY", "depot-harbour", -1)]),
    ("adjust-1", "ADJUSTMENT", "stock count: 2 missing", [("lpg-12-5", "FULL", "depot-hill", -2)]),
]

# (key, place, customer, lines [(product, kind, quantity, unit_price)], invoice actions)
SALES = [
    (
        "sale-1",
        "depot-harbour",
        "hillside-bakery",
        [("lpg-12-5", "SALE", 5, "24.50"), ("lpg-12-5", "REFILL", 3, "18.00")],
        ["send", "pay"],
    ),
    ("sale-2", "depot-hill", "marina-hotel", [("lpg-45", "SWAP", 4, "85.00")], ["send"]),
    ("sale-3", "truck-1", "rose-household", [("lpg-12-5", "SALE", 1, "24.50")], []),
    ("sale-4", "depot-harbour", "hillside-bakery", [("lpg-12-5", "RETURN", 2, "0.00")], []),
]


def _reference_data(actor) -> int:
    made = 0
    for code, name, kind, address in PLACES:
        if not Warehouse.objects.filter(code=code).exists():
            warehouse_create(actor=actor, code=code, name=name, kind=kind, address=address)
            made += 1
    for code, name, kind in CUSTOMERS:
        if not Customer.objects.filter(code=code).exists():
            customer_create(actor=actor, code=code, name=name, kind=kind)
            made += 1
    for code, name, size in PRODUCTS:
        if not LpgProduct.objects.filter(code=code).exists():
            lpg_product_setup(actor=actor, code=code, name=name, size_kg=size)
            made += 1
    return made


def _leg(products, places, customers, product, state, where, qty) -> dict:
    p = products[product]
    leg = {"item_id": p.full_item_id if state == "FULL" else p.empty_item_id, "qty_delta": qty}
    return leg | ({"warehouse_id": places[where]} if where in places else {"holder_id": customers[where]})


def load(actor) -> str | None:
    made = _reference_data(actor)
    products = {p.code: p for p in LpgProduct.objects.all()}
    places = dict(Warehouse.objects.filter(code__in=[p[0] for p in PLACES]).values_list("code", "pk"))
    customers = dict(Customer.objects.filter(code__in=[c[0] for c in CUSTOMERS]).values_list("code", "pk"))
    first_time = not LpgProduct.objects.filter(code="lpg-12-5", full_item__inventory_rows__isnull=False).exists()
    for key, kind, reason, legs in POSTINGS:
        ledger_post(
            actor=actor,
            kind=kind,
            reason=reason,
            legs=[_leg(products, places, customers, *leg) for leg in legs],
            idempotency_key=f"demo-sales-{key}",
        )
    for key, place, customer, lines, actions in SALES:
        out = sale_create(
            actor=actor,
            customer_id=customers[customer],
            depot_id=places[place],
            lines=[{"product_id": products[p].pk, "kind": k, "quantity": q, "unit_price": u} for p, k, q, u in lines],
            idempotency_key=f"demo-sales-{key}",
        )
        for version, name in enumerate(actions, start=1):
            invoice_transition(
                actor=actor,
                invoice_id=out["invoice_id"],
                action=name,
                version=version,
                idempotency_key=f"demo-sales-{key}-{name}",
            )
    if not (made or first_time):
        return None
    return f"{len(PRODUCTS)} LPG products, {len(POSTINGS)} ledger postings, {len(SALES)} sales with invoices"
