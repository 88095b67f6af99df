"""Set up a torture database: migrate, then a few hot items, warehouses (and a shelter store relief
packages are received into), customers, an LPG product, one user and API token per role, and an opening
batch per batched item. Prints the seed as JSON for the clients.

    DATABASE_URL=... python -m tests.torture.seed --out seed.json
"""

import argparse
import json
import os
import sys
from pathlib import Path

ROLES = {
    "admin": "ADMIN",
    "manager": "LOGISTICS_MANAGER",
    "officer": "LOGISTICS_OFFICER",
    "clerk": "INVENTORY_CLERK",
    "sales": "SALES",
    "reader": "READER",
}
SEED_KEY_PREFIX = "seed-"


def seed_catalog(tag: str = "t") -> dict:
    """The catalog, users and opening stock (through the services, with seed- idempotency keys)."""
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group
    from rest_framework.authtoken.models import Token

    from stockledger.catalog.models import Customer, Item, ProductType, Warehouse
    from stockledger.stock import services

    User = get_user_model()
    tokens, users = {}, {}
    for name, role in ROLES.items():
        user = User.objects.create_user(f"{tag}-{name}")  # API tokens only: no password to hash (slow)
        user.groups.add(Group.objects.get(name=role))
        if role == "ADMIN":
            user.is_superuser = user.is_staff = True
            user.save()
        users[name] = user
        tokens[name] = Token.objects.get_or_create(user=user)[0].key

    piece = ProductType.objects.create(code=f"{tag}-goods", name="Torture goods", base_unit="piece", unit_decimals=0)
    metre = ProductType.objects.create(code=f"{tag}-wire", name="Torture wire", base_unit="metre", unit_decimals=3)
    loose = ProductType.objects.create(
        code=f"{tag}-cyl", name="Torture cylinders", base_unit="cylinder", unit_decimals=0, batch_tracked=False
    )
    specs = [  # hottest first: the clients pick with a Zipf-skewed choice in this order
        (piece, "FEFO", True),
        (piece, "FIFO", False),
        (metre, "FIFO", False),
        (piece, "FEFO", True),
        (metre, "LIFO", False),
        (piece, "FIFO", False),
    ]
    items = []
    for n, (pt, order, expires) in enumerate(specs, 1):
        it = Item.objects.create(
            product_type=pt,
            sku=f"{tag}-SKU-{n}",
            name=f"Torture item {n}",
            variant_key=f"{tag}-v{n}",
            issuance_order=order,
            can_expire=expires,
        )
        items.append({"id": it.pk, "kind": "batched", "unit_decimals": pt.unit_decimals, "can_expire": expires})
    for n in range(1, 3):
        it = Item.objects.create(
            product_type=loose, sku=f"{tag}-CYL-{n}", name=f"Cylinder {n}", variant_key=f"{tag}-c{n}"
        )
        items.append({"id": it.pk, "kind": "loose", "unit_decimals": 0, "can_expire": False})
    pipe_specs = [
        ("hdpe", {"OD": "32", "PN": "6", "PE": "100", "Brand": "Torture"}),
        ("sprinkler", {"OD": "20", "PN": "4", "Type": "lateral", "Brand": "Torture"}),
    ]
    for n, (code, attributes) in enumerate(pipe_specs, 1):
        pt = ProductType.objects.filter(code=code, has_stock_forms=True).first()
        if pt is None:  # the pipes app is not there (yet)
            continue
        it = Item.objects.create(
            product_type=pt, sku=f"{tag}-PIPE-{n}", name=f"Pipe {n}", variant_key=f"{tag}-p{n}", attributes=attributes
        )
        items.append({"id": it.pk, "kind": "pipe", "unit_decimals": pt.unit_decimals, "can_expire": False})
    warehouses = [Warehouse.objects.create(code=f"{tag}-W{n}", name=f"Torture warehouse {n}").pk for n in range(1, 4)]
    # Relief packages are received into a shelter store of the system, or into W3 (where transfers made
    # copies of batches, so a receipt adds to an existing batch of the same number), or by the agency.
    shelter = Warehouse.objects.create(code=f"{tag}-R1", name="Torture shelter store").pk
    depots = [  # LPG: sales are made from a depot or a vehicle
        Warehouse.objects.create(code=f"{tag}-D1", name="Torture depot", kind="depot").pk,
        Warehouse.objects.create(code=f"{tag}-V1", name="Torture truck", kind="vehicle").pk,
    ]
    customers = [Customer.objects.create(code=f"{tag}-C{n}", name=f"Torture customer {n}").pk for n in range(1, 3)]

    lpg_products = []
    cylinders = [i["id"] for i in items if i["kind"] == "loose"]
    try:
        from stockledger.sales.services import lpg_product_create

        product = lpg_product_create(
            actor=users["admin"],
            code=f"{tag}-lpg-12",
            name="Torture LPG 12.5 kg",
            size_kg="12.5",
            full_item_id=cylinders[0],
            empty_item_id=cylinders[1],
        )
        lpg_products.append({"id": product.pk, "full_item_id": cylinders[0], "empty_item_id": cylinders[1]})
    except ImportError:  # the sales app is not there (yet)
        pass
    else:
        # Filled cylinders at the depot and on the truck, and some at the customers' sites: sales (and so
        # invoices to send, pay and void) go through from the start instead of waiting for LOAD postings.
        from stockledger.stock.services.postings import ledger_post

        full = cylinders[0]
        loads = [{"item_id": full, "warehouse_id": d, "qty_delta": "300"} for d in depots]
        ledger_post(actor=users["admin"], kind="LOAD", legs=loads, idempotency_key=f"{SEED_KEY_PREFIX}{tag}-load")
        for n, c in enumerate(customers):
            legs = [
                {"item_id": full, "warehouse_id": depots[0], "qty_delta": "-40"},
                {"item_id": full, "holder_id": c, "qty_delta": "40"},
            ]
            ledger_post(
                actor=users["admin"], kind="DELIVERY", legs=legs, idempotency_key=f"{SEED_KEY_PREFIX}{tag}-dl{n}"
            )

    from datetime import date, timedelta

    for n, item in enumerate(i for i in items if i["kind"] == "batched"):
        services.batch_receive(
            actor=users["clerk"],
            item_id=item["id"],
            warehouse_id=warehouses[0],
            qty=100,
            expiry_date=date.today() + timedelta(days=365) if item["can_expire"] else None,
            idempotency_key=f"{SEED_KEY_PREFIX}{tag}-{n}",
        )
    return {
        "items": items,
        "warehouses": warehouses,
        "customers": customers,
        "depots": depots,
        "relief_destinations": [shelter, warehouses[2]],
        "lpg_products": lpg_products,
        "tokens": tokens,
        "tag": tag,
    }


def routed(path: str) -> bool:
    from django.urls import Resolver404, resolve

    try:
        resolve(path.split("?")[0])
        return True
    except Resolver404:
        return False


def available_ops() -> list[str]:
    from .ops import load_all

    return sorted(name for name, op in load_all().items() if all(routed(p) for p in op.requires))


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__)
    parser.add_argument("--out", required=True)
    parser.add_argument("--no-migrate", action="store_true")
    args = parser.parse_args(argv)
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "stockledger.config.settings")
    import django

    django.setup()
    from django.core.management import call_command

    if not args.no_migrate:
        call_command("migrate", interactive=False, verbosity=0)
    seed = seed_catalog()
    seed["available_ops"] = available_ops()
    Path(args.out).write_text(json.dumps(seed, indent=2))
    print(f"seeded: {len(seed['items'])} items, {len(seed['warehouses'])} warehouses, ops {seed['available_ops']}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
