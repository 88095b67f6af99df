"""Builders for the web tests (holds no tests): every state is reached through the services, so a page
is always looked at in a state the system can be in."""

from dataclasses import dataclass, field
from datetime import timedelta
from decimal import Decimal

from django.test import Client
from django.utils import timezone

from stockledger.catalog.models import Item, ProductType, Warehouse
from stockledger.catalog.services import item_create, validate_attributes, variant_key
from stockledger.core.roles import Role
from stockledger.pieces import services as pipes
from stockledger.pieces.models import Stock
from stockledger.reconcile.services import recompute
from stockledger.relief import services as relief
from stockledger.sales.services import lpg_product_setup, sale_create
from stockledger.stock import services as stock
from tests import factories as f

D = Decimal
ROLES = list(Role)


def client_for(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def pipe_item(actor, code: str, **attributes) -> Item:
    """An HDPE or sprinkler variant (their product types come from the pieces data migration)."""
    pt = ProductType.objects.get(code=code)
    clean = validate_attributes(pt, attributes)
    found = Item.objects.filter(product_type=pt, variant_key=variant_key(clean)).first()
    if found:
        return found
    sku = f"{code}-" + "-".join(str(v) for v in clean.values())
    return item_create(actor=actor, product_type=pt, sku=sku[:64], name=f"{pt.name} {sku}", attributes=clean)


def hdpe(actor, od=110, pn=8, pe=63, brand="Tarko") -> Item:
    return pipe_item(actor, "hdpe", OD=od, PN=pn, PE=pe, Brand=brand)


def sprinkler(actor, od=20, pn=6, type_="L", brand="Tarko") -> Item:
    return pipe_item(actor, "sprinkler", OD=od, PN=pn, Type=type_, Brand=brand)


def rolls(n, length) -> dict:
    return {"stock_type": "FULL_ROLL", "quantity": n, "length_per_unit": str(length)}


def cuts(*lengths) -> dict:
    return {"stock_type": "CUT_ROLL", "piece_lengths": [str(x) for x in lengths]}


def bundles(n, size) -> dict:
    return {"stock_type": "BUNDLE", "quantity": n, "pieces_per_bundle": size}


def spares(n) -> dict:
    return {"stock_type": "SPARE", "quantity": n}


def produce(actor, item, *lines, **kw) -> dict:
    return pipes.production_create(actor=actor, item_id=item.pk, lines=list(lines), **kw)


def record(batch_id, stock_type) -> Stock:
    return Stock.objects.filter(batch_id=batch_id, stock_type=stock_type).order_by("pk").first()


@dataclass
class World:
    """One of everything, made by an ADMIN through the services: users of every role, pipe batches and
    operations, a relief request with a drafted package, an LPG sale with its invoice, a dry run."""

    users: dict = field(default_factory=dict)
    ids: dict = field(default_factory=dict)

    def user(self, role: Role):
        return self.users[role]


def build_world(make_user) -> World:
    w = World()
    for role in ROLES:
        w.users[role] = make_user(role)
    admin = w.users[Role.ADMIN]
    today = timezone.localdate()

    # pipes
    yard = f.warehouse(name="Factory yard", kind=Warehouse.Kind.FACTORY_YARD)
    buyer = f.customer(name="Agro Supplies")
    pipe = hdpe(admin)
    spr = sprinkler(admin)
    p = produce(admin, pipe, rolls(5, 500), cuts(200, 150, 150), warehouse_id=yard.pk, batch_no="H-1")
    s = produce(admin, spr, bundles(3, 50), spares(25), warehouse_id=yard.pk, batch_no="S-1")
    full = record(p["batch_id"], "FULL_ROLL")
    bundle = record(s["batch_id"], "BUNDLE")
    spare = record(s["batch_id"], "SPARE")
    d = pipes.dispatch_create(actor=admin, customer_id=buyer.pk, lines=[{"stock_id": full.pk, "quantity": 1}])
    sc = pipes.scrap_create(actor=admin, reason="crushed", lines=[{"stock_id": spare.pk, "quantity": 2}])
    r = pipes.return_create(actor=admin, items=[{"item_id": pipe.pk, **rolls(1, 300)}], warehouse_id=yard.pk)
    w.ids.update(
        yard=yard.pk,
        buyer=buyer.pk,
        hdpe=pipe.pk,
        sprinkler=spr.pk,
        pipe_batch=p["batch_id"],
        spr_batch=s["batch_id"],
        full_stock=full.pk,
        bundle_stock=bundle.pk,
        spare_stock=spare.pk,
        cut_stock=record(p["batch_id"], "CUT_ROLL").pk,
        dispatch=d["dispatch_id"],
        scrap=sc["scrap_id"],
        pipe_return=r["return_id"],
    )

    # relief
    central = f.warehouse(name="Central relief")
    agency = f.customer(name="Riverside shelter", kind="shelter")
    units = f.product_type(unit="unit", decimals=0, name="Relief item")
    water = f.item(units, issuance_order="FEFO", can_expire=True, name="Water 5L")
    b1 = stock.batch_receive(
        actor=admin,
        item_id=water.pk,
        warehouse_id=central.pk,
        qty=100,
        batch_no="W-1",
        batch_date=today - timedelta(days=30),
        expiry_date=today + timedelta(days=20),
    )
    b2 = stock.batch_receive(
        actor=admin,
        item_id=water.pk,
        warehouse_id=central.pk,
        qty=80,
        batch_no="W-2",
        batch_date=today - timedelta(days=5),
        expiry_date=today + timedelta(days=200),
    )
    req = relief.relief_request_create(
        actor=admin,
        agency_id=agency.pk,
        event="Flood",
        urgency="HIGH",
        lines=[{"item_id": water.pk, "requested_qty": 60}],
    )
    req = relief.relief_request_submit(actor=admin, request_id=req["id"], version=req["version"])
    pkg = relief.relief_package_create(actor=admin, request_id=req["id"])
    pkg = relief.relief_package_save_draft(
        actor=admin, package_id=pkg["id"], version=pkg["version"], allocations=[{"batch_id": b1["batch_id"], "qty": 40}]
    )
    draft_req = relief.relief_request_create(
        actor=admin, agency_id=agency.pk, event="Storm", lines=[{"item_id": water.pk, "requested_qty": 5}]
    )
    w.ids.update(
        central=central.pk,
        agency=agency.pk,
        water=water.pk,
        w1=b1["batch_id"],
        w2=b2["batch_id"],
        request=req["id"],
        draft_request=draft_req["id"],
        package=pkg["id"],
    )

    # depot and sales
    lpg = lpg_product_setup(actor=admin, code="lpg-12-5", name="LPG 12.5 kg", size_kg="12.5")
    depot = f.warehouse(name="Harbour depot", kind=Warehouse.Kind.DEPOT)
    stock.ledger_post(
        actor=admin, kind="LOAD", legs=[{"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": 30}]
    )
    sale = sale_create(
        actor=admin,
        customer_id=buyer.pk,
        depot_id=depot.pk,
        lines=[{"product_id": lpg.pk, "kind": "SALE", "quantity": 2, "unit_price": "24.50"}],
    )
    w.ids.update(
        lpg=lpg.pk, lpg_full=lpg.full_item_id, depot=depot.pk, sale=sale["sale_id"], invoice=sale["invoice_id"]
    )

    # reconcile
    w.ids["run"] = recompute(dry_run=True, actor=admin).pk
    return w


def pages(w: World) -> dict[str, str]:
    """Every GET page of the web app (name → url) with the action it needs ("read" = any role)."""
    i = w.ids
    return {
        "/": "read",
        "/inventory/": "read",
        f"/batches/{i['pipe_batch']}/": "read",
        f"/batches/{i['spr_batch']}/": "read",
        f"/batches/{i['w1']}/": "read",
        f"/items/{i['hdpe']}/chart/": "read",
        "/audit/": "read",
        "/pipes/": "read",
        "/pipes/production/": "pipes.operate",
        "/pipes/returns/new/": "pipes.operate",
        f"/pipes/stock/{i['full_stock']}/cut/": "pipes.operate",
        f"/pipes/stock/{i['bundle_stock']}/split/": "pipes.operate",
        f"/pipes/stock/{i['spare_stock']}/combine/": "pipes.operate",
        "/pipes/dispatch/": "pipes.operate",
        "/pipes/scrap/": "pipes.operate",
        "/pipes/operations/": "read",
        f"/pipes/operations/{i['dispatch']}/": "read",
        f"/pipes/operations/{i['scrap']}/": "read",
        f"/pipes/operations/{i['pipe_return']}/": "read",
        "/relief/": "read",
        "/relief/approvals/": "relief.approve",
        "/relief/requests/": "read",
        "/relief/requests/new/": "relief.prepare",
        f"/relief/requests/{i['request']}/": "read",
        f"/relief/requests/{i['draft_request']}/": "read",
        f"/relief/packages/{i['package']}/": "read",
        f"/relief/packages/{i['package']}/drawer/{i['water']}/": "relief.prepare",
        "/depot/": "read",
        "/depot/ledger/": "ledger.post",
        "/depot/sales/": "read",
        "/depot/sales/new/": "sales.write",
        "/depot/invoices/": "read",
        f"/depot/invoices/{i['invoice']}/": "read",
        "/reconcile/": "reconcile.run",
        f"/reconcile/runs/{i['run']}/": "reconcile.run",
    }
