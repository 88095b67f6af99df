"""Demo warehouses and customers."""

from .models import Customer, Warehouse
from .services import customer_create, warehouse_create

WAREHOUSES = [
    ("factory-yard", "Factory yard", Warehouse.Kind.FACTORY_YARD),
    ("central", "Central relief warehouse", Warehouse.Kind.WAREHOUSE),
    ("north", "North relief warehouse", Warehouse.Kind.WAREHOUSE),
]
CUSTOMERS = [("acme-farms", "Acme Farms", "business"), ("red-cross-shelter", "Riverside shelter", "shelter")]


def load(actor) -> str | None:
    made = 0
    for code, name, kind in WAREHOUSES:
        if not Warehouse.objects.filter(code=code).exists():
            warehouse_create(actor=actor, code=code, name=name, kind=kind)
            made += 1
    for code, name, kind in CUSTOMERS:
        if not Customer.objects.filter(code=code).exists():
            customer_create(actor=actor, code=code, name=name, kind=kind)
            made += 1
    return f"{made} warehouses/customers" if made else None
