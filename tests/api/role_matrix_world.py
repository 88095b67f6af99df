"""The fixture world of the role matrix test (tests/api/test_role_matrix.py). Holds no tests.

One user per role, each with an API token and a real (fast, low-iteration) PBKDF2 password hash, and
one real object behind every path parameter of the API, all made through the services: a relief item
with batches and relief requests/packages in every status an action needs, pipe batches with every
stock form and a dispatch/scrap/return to revert, LPG products with a sale and invoices, a pending
adjustment and a recompute run.

Warehouses: MAIN and NORTH (where the world lives) and DEPOT (LPG) are assigned to every non-admin
user, so the matrix tests role permissions; OTHER is assigned to nobody and holds a batch, a pipe
batch and a package of its own for the warehouse-scoping cases. ADMIN is assigned to MAIN only
(ADMIN acts everywhere regardless); `free_clerk` has no assignment (acts everywhere).

PATHS and BODIES say which object of the world each route's path parameter names and which valid
body each write sends; request() sends it.
"""

import uuid
from dataclasses import dataclass, field
from datetime import date, timedelta

from django.contrib.auth import get_user_model
from django.contrib.auth.hashers import PBKDF2PasswordHasher
from django.contrib.auth.models import Group
from django.urls import reverse
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from stockledger.catalog.models import Customer, Item, Warehouse, WarehouseAssignment
from stockledger.catalog.services import item_create
from stockledger.core.roles import Role
from stockledger.pieces import services as pipes
from stockledger.reconcile.recompute import recompute
from stockledger.relief import services as relief
from stockledger.relief.models import ReliefPackage
from stockledger.sales import services as sales
from stockledger.sales.models import Invoice
from stockledger.stock import services as stock
from stockledger.stock.services import ledger_post
from tests import factories as f
from tests.db.test_pipes_support import bundles, cuts, hdpe, record, rolls, spares, sprinkler

ANON = "anon"
PASSWORD = "matrix-pass-1"
TODAY = date.today()


class FastPBKDF2(PBKDF2PasswordHasher):
    """pbkdf2_sha256 hashes, as in production, with few iterations: the default million costs ~0.4 s
    per user and per login. The matrix module uses it (settings.PASSWORD_HASHERS) while it runs."""

    iterations = 1000


HASHERS = ["tests.api.role_matrix_world.FastPBKDF2"]


def _user(username: str, role: Role, warehouses=()):
    """A user of one role with a password and an API token."""
    user = get_user_model().objects.create_user(
        username, password=PASSWORD, is_superuser=role == Role.ADMIN, is_staff=role == Role.ADMIN
    )
    user.groups.add(Group.objects.get(name=str(role)))
    for w in warehouses:
        WarehouseAssignment.objects.create(user=user, warehouse=w)
    Token.objects.create(user=user)
    return user


@dataclass
class World:
    users: dict = field(default_factory=dict)  # role name (and "free_clerk") -> user
    ids: dict = field(default_factory=dict)  # what a path parameter or a body names -> id
    versions: dict = field(default_factory=dict)  # object name -> the version a client would send

    def client(self, who: str, **kw) -> APIClient:
        """An APIClient authenticated with `who`'s token (anonymous for ANON)."""
        client = APIClient(**kw)
        if who != ANON:
            client.credentials(HTTP_AUTHORIZATION=f"Token {self.users[who].auth_token.key}")
        return client

    def __getattr__(self, name: str) -> int:
        try:
            return self.__dict__["ids"][name]
        except KeyError:
            raise AttributeError(name) from None

    @classmethod
    def build(cls) -> "World":
        w = cls()
        ids = w.ids
        main, north = f.warehouse(code="main", name="Main"), f.warehouse(code="north", name="North")
        depot = f.warehouse(code="depot", name="Depot", kind=Warehouse.Kind.DEPOT)
        other = f.warehouse(code="other", name="Other depot", kind=Warehouse.Kind.DEPOT)
        ids.update(main=main.pk, north=north.pk, depot=depot.pk, other=other.pk)
        for role in Role:
            w.users[str(role)] = _user(
                f"m_{role.lower()}", role, [main] if role == Role.ADMIN else [main, north, depot]
            )
        w.users["free_clerk"] = _user("m_free_clerk", Role.INVENTORY_CLERK)
        admin = w.users[Role.ADMIN]
        customer = f.customer(code="agency", name="Riverside shelter", kind="shelter")
        ids["customer"] = customer.pk
        _relief(w, admin, main, other)
        _pipes(w, admin, main, other)
        _lpg(w, admin, depot)
        ids["product_type"] = ids["relief_type"]
        adjustment = stock.stock_adjust(actor=admin, batch_id=ids["batch"], counted_qty="70", reason="counted")
        other_adjustment = stock.stock_adjust(actor=admin, batch_id=ids["other_batch"], counted_qty="45", reason="c")
        ids.update(adjustment=adjustment["document_id"], other_adjustment=other_adjustment["document_id"])
        ids["recompute_run"] = recompute(actor=admin, dry_run=True).pk
        ids["unknown"] = 987654321  # no object has this id
        for name, model in (("water", Item), ("main", Warehouse), ("customer", Customer)):
            w.versions[name] = model.objects.get(pk=ids[name]).version
        return w


def _receive(admin, item, warehouse, qty, no, expiry_days) -> int:
    out = stock.batch_receive(
        actor=admin,
        item_id=item.pk,
        warehouse_id=warehouse.pk,
        qty=qty,
        batch_no=no,
        batch_date=TODAY - timedelta(days=10),
        expiry_date=TODAY + timedelta(days=expiry_days),
    )
    return out["batch_id"]


def _relief(w: World, admin, main, other) -> None:
    """Water batches (MAIN, OTHER); a draft request; packages being prepared, awaiting approval,
    dispatched, and dispatched and handed over; a package allocating OTHER's batch."""
    ids = w.ids
    units = f.product_type(code="relief-unit", unit="unit", decimals=0)
    water = f.item(units, issuance_order="FEFO", can_expire=True, name="Water 5L", sku="WATER")
    ids.update(relief_type=units.pk, water=water.pk)
    ids["batch"] = _receive(admin, water, main, 100, "W-MAIN", 60)
    ids["other_batch"] = _receive(admin, water, other, 50, "W-OTHER", 90)
    agency = ids["customer"]

    def request(submit=True) -> dict:
        lines = [{"item_id": water.pk, "requested_qty": 20}]
        req = relief.relief_request_create(actor=admin, agency_id=agency, event="Flood", urgency="HIGH", lines=lines)
        return (
            relief.relief_request_submit(actor=admin, request_id=req["id"], version=req["version"]) if submit else req
        )

    def package(batch: int, qty: int) -> dict:
        pkg = relief.relief_package_create(actor=admin, request_id=request()["id"])
        return relief.relief_package_save_draft(
            actor=admin, package_id=pkg["id"], version=pkg["version"], allocations=[{"batch_id": batch, "qty": qty}]
        )

    def awaiting(batch: int, qty: int) -> dict:
        pkg = package(batch, qty)
        return relief.relief_package_submit(actor=admin, package_id=pkg["id"], version=pkg["version"])

    def dispatched(handed_over: bool) -> dict:
        pkg = awaiting(ids["batch"], 5)
        pkg = relief.relief_package_approve_dispatch(actor=admin, package_id=pkg["id"], version=pkg["version"])
        if handed_over:
            pkg = relief.relief_package_handover(actor=admin, package_id=pkg["id"], version=pkg["version"])
        return pkg

    draft_request = request(submit=False)
    submitted = request()
    packages = {
        "prepared": package(ids["batch"], 10),
        "awaiting": awaiting(ids["batch"], 5),
        "dispatched": dispatched(handed_over=False),
        "handed_over": dispatched(handed_over=True),
        "other_prepared": package(ids["other_batch"], 3),
    }
    ids.update(draft_request=draft_request["id"], request=submitted["id"])
    w.versions["draft_request"] = draft_request["version"]
    for name, pkg in packages.items():
        ids[f"package_{name}"] = pkg["id"]
        w.versions[f"package_{name}"] = ReliefPackage.objects.get(pk=pkg["id"]).version


def _pipes(w: World, admin, main, other) -> None:
    """An HDPE batch (full rolls + cut pieces) and a sprinkler batch (bundles + spares) in MAIN, a
    dispatch, a scrap and a return to revert or close, and an HDPE batch in OTHER."""
    ids = w.ids
    hb = pipes.production_create(
        actor=admin, item_id=hdpe().pk, lines=[rolls(5, 500), cuts(200, 300)], warehouse_id=main.pk, batch_no="P-H"
    )["batch_id"]
    sb = pipes.production_create(
        actor=admin, item_id=sprinkler().pk, lines=[bundles(3, 50), spares(25)], warehouse_id=main.pk, batch_no="P-S"
    )["batch_id"]
    ob = pipes.production_create(
        actor=admin, item_id=hdpe().pk, lines=[rolls(2, 500)], warehouse_id=other.pk, batch_no="P-O"
    )["batch_id"]
    ids.update(
        hdpe=hdpe().pk,
        pipe_batch=hb,
        roll=record(hb, "FULL_ROLL").pk,
        bundle=record(sb, "BUNDLE").pk,
        spare=record(sb, "SPARE").pk,
        other_roll=record(ob, "FULL_ROLL").pk,
    )
    roll_line = {"stock_id": ids["roll"], "quantity": 1}
    ids["dispatch"] = pipes.dispatch_create(actor=admin, customer_id=ids["customer"], lines=[roll_line])["dispatch_id"]
    spare_line = {"stock_id": ids["spare"], "quantity": 2}
    ids["scrap"] = pipes.scrap_create(actor=admin, reason="UV damage", lines=[spare_line])["scrap_id"]
    back = [{"item_id": ids["hdpe"], **rolls(1, 500)}]
    ids["return"] = pipes.return_create(actor=admin, items=back, warehouse_id=main.pk)["return_id"]


def _lpg(w: World, admin, depot) -> None:
    """An LPG product with stock at DEPOT, two sales (one invoice GENERATED, one SENT), and a FULL/EMPTY
    pair of cylinder items no product uses yet (for creating a product)."""
    ids = w.ids
    lpg = sales.lpg_product_setup(actor=admin, code="lpg-12", name="LPG 12.5 kg", size_kg="12.5")
    ledger_post(
        actor=admin,
        kind="LOAD",
        legs=[{"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": 40}],
        idempotency_key="matrix-load",
    )
    pt = sales.lpg_product_type(actor=admin)
    for state in ("FULL", "EMPTY"):
        attributes = {"size_kg": "5", "state": state}
        ids[f"spare_{state.lower()}"] = item_create(
            actor=admin, product_type=pt, sku=f"LPG5-{state}", attributes=attributes
        ).pk
    ids.update(lpg=lpg.pk, lpg_full=lpg.full_item_id)

    def sale() -> dict:
        line = {"product_id": lpg.pk, "kind": "SALE", "quantity": 2, "unit_price": "20.00"}
        return sales.sale_create(actor=admin, customer_id=ids["customer"], depot_id=depot.pk, lines=[line])

    first, second = sale(), sale()
    version = Invoice.objects.get(pk=second["invoice_id"]).version
    sales.invoice_send(actor=admin, invoice_id=second["invoice_id"], version=version)
    ids.update(sale=first["sale_id"], invoice=first["invoice_id"], sent_invoice=second["invoice_id"])
    for name in ("invoice", "sent_invoice"):
        w.versions[name] = Invoice.objects.get(pk=ids[name]).version


# --- how a request addresses the world ----------------------------------------------------------

# Path parameters and bodies: a real object of the world for each, and a body valid for it, so an
# allowed role succeeds and a forbidden one is refused by the role check, not by a 400 or 404.
PATHS = {
    "product-type-detail": "product_type",
    "item-detail": "water",
    "warehouse-detail": "main",
    "customer-detail": "customer",
    "batch-detail": "batch",
    "adjustment-approve": "adjustment",
    "adjustment-reject": "adjustment",
    "pipe-return": "return",
    "pipe-return-revert": "return",
    "pipe-stock-cut": "roll",
    "pipe-stock-split": "bundle",
    "pipe-stock-combine": "spare",
    "pipe-dispatch": "dispatch",
    "pipe-dispatch-revert": "dispatch",
    "pipe-dispatch-close": "dispatch",
    "pipe-scrap": "scrap",
    "pipe-scrap-revert": "scrap",
    "pipe-batch": "pipe_batch",
    "item-batches-drawer": "water",
    "relief-request-detail": "request",
    "relief-request-submit": "draft_request",
    "relief-request-cancel": "draft_request",
    "relief-package-detail": "package_prepared",
    "relief-package-draft": "package_prepared",
    "relief-package-submit": "package_prepared",
    "relief-package-cancel": "package_prepared",
    "relief-package-send-to-dispatch": "package_prepared",
    "relief-package-approve-dispatch": "package_awaiting",
    "relief-package-handover": "package_dispatched",
    "relief-package-receive": "package_handed_over",
    "relief-package-waybill": "package_dispatched",
    "relief-package-pdf": "package_dispatched",
    "lpg-product-detail": "lpg",
    "sale-detail": "sale",
    "invoice-detail": "invoice",
    "invoice-print-page": "invoice",
    "invoice-pdf": "invoice",
    "invoice-send": "invoice",
    "invoice-void": "invoice",
    "invoice-pay": "sent_invoice",
    "recompute-run-detail": "recompute_run",
}


def _version(w: World, name: str) -> dict:
    return {"version": w.versions[name]}


BODIES = {
    ("auth-token", "POST"): lambda w: {"username": "m_reader", "password": PASSWORD},
    ("product-type-list", "POST"): lambda w: {"code": "new-type", "name": "New type", "base_unit": "kg"},
    ("item-list", "POST"): lambda w: {"sku": "NEW-SKU", "name": "Tarpaulin", "product_type": "relief-unit"},
    ("item-detail", "PATCH"): lambda w: {"name": "Water 5 L", **_version(w, "water")},
    ("warehouse-list", "POST"): lambda w: {"code": "south", "name": "South"},
    ("warehouse-detail", "PATCH"): lambda w: {"name": "Main store", **_version(w, "main")},
    ("customer-list", "POST"): lambda w: {"code": "school", "name": "School shelter"},
    ("customer-detail", "PATCH"): lambda w: {"phone": "555-0101", **_version(w, "customer")},
    ("receipts", "POST"): lambda w: {
        "item_id": w.water,
        "warehouse_id": w.main,
        "qty": "5",
        "expiry_date": str(TODAY.replace(year=TODAY.year + 1)),
    },
    ("transfers", "POST"): lambda w: {"to_warehouse_id": w.north, "lines": [{"batch_id": w.batch, "qty": "1"}]},
    ("adjustments", "POST"): lambda w: {"batch_id": w.batch, "counted_qty": "69", "reason": "recount"},
    ("adjustment-approve", "POST"): lambda w: {},
    ("adjustment-reject", "POST"): lambda w: {},
    ("pipe-production", "POST"): lambda w: {
        "item_id": w.hdpe,
        "warehouse_id": w.main,
        "lines": [{"stock_type": "FULL_ROLL", "quantity": 1, "length_per_unit": "500"}],
    },
    ("pipe-returns", "POST"): lambda w: {
        "warehouse_id": w.main,
        "items": [{"item_id": w.hdpe, "stock_type": "FULL_ROLL", "quantity": 1, "length_per_unit": "500"}],
    },
    ("pipe-return-revert", "POST"): lambda w: {},
    ("pipe-stock-cut", "POST"): lambda w: {"piece1_length": "200", "piece2_length": "300"},
    ("pipe-stock-split", "POST"): lambda w: {},
    ("pipe-stock-combine", "POST"): lambda w: {"bundle_size": 10, "quantity": 20},
    ("pipe-dispatches", "POST"): lambda w: {"customer_id": w.customer, "lines": [{"stock_id": w.roll, "quantity": 1}]},
    ("pipe-dispatch-revert", "POST"): lambda w: {"warehouse_id": w.main},
    ("pipe-dispatch-close", "POST"): lambda w: {},
    ("pipe-scraps", "POST"): lambda w: {"reason": "crushed", "lines": [{"stock_id": w.spare, "quantity": 1}]},
    ("pipe-scrap-revert", "POST"): lambda w: {},
    ("item-batches-drawer", "GET"): lambda w: {"warehouse": w.main},
    ("schema", "GET"): lambda w: {"format": "json"},  # rendered much faster than the default YAML
    ("relief-request-list", "POST"): lambda w: {
        "agency_id": w.customer,
        "event": "Storm",
        "lines": [{"item_id": w.water, "requested_qty": "4"}],
    },
    ("relief-request-submit", "POST"): lambda w: _version(w, "draft_request"),
    ("relief-request-cancel", "POST"): lambda w: _version(w, "draft_request"),
    ("relief-package-list", "POST"): lambda w: {"request_id": w.request, "destination_warehouse_id": w.north},
    ("relief-package-draft", "PUT"): lambda w: {
        **_version(w, "package_prepared"),
        "allocations": [{"batch_id": w.batch, "qty": "12"}],
    },
    ("relief-package-submit", "POST"): lambda w: _version(w, "package_prepared"),
    ("relief-package-cancel", "POST"): lambda w: {**_version(w, "package_prepared"), "reason": "not needed"},
    ("relief-package-send-to-dispatch", "POST"): lambda w: _version(w, "package_prepared"),
    ("relief-package-approve-dispatch", "POST"): lambda w: _version(w, "package_awaiting"),
    ("relief-package-handover", "POST"): lambda w: _version(w, "package_dispatched"),
    ("relief-package-receive", "POST"): lambda w: _version(w, "package_handed_over"),
    ("ledger-post", "POST"): lambda w: {
        "kind": "LOAD",
        "legs": [{"item_id": w.lpg_full, "warehouse_id": w.depot, "qty_delta": "3"}],
    },
    ("lpg-product-list", "POST"): lambda w: {
        "code": "lpg-5",
        "name": "LPG 5 kg",
        "size_kg": "5",
        "full_item_id": w.spare_full,
        "empty_item_id": w.spare_empty,
    },
    ("sale-list", "POST"): lambda w: {
        "customer_id": w.customer,
        "depot_id": w.depot,
        "lines": [{"product_id": w.lpg, "kind": "SALE", "quantity": 1, "unit_price": "20.00"}],
    },
    ("invoice-send", "POST"): lambda w: _version(w, "invoice"),
    ("invoice-pay", "POST"): lambda w: _version(w, "sent_invoice"),
    ("invoice-void", "POST"): lambda w: {**_version(w, "invoice"), "reason": "wrong customer"},
    ("recompute", "POST"): lambda w: {"dry_run": True},
}


def request(client, method: str, route: str, w: World, *, pk: str | None = None, body=None, **extra):
    """`method` on `route` with the world's object for its path parameter (or the one named by `pk`)
    and its body from BODIES (or `body`), with a fresh Idempotency-Key."""
    pk = pk or PATHS.get(route)
    url = reverse(route, kwargs={"pk": w.ids[pk]} if pk else None)
    if body is None and (route, method) in BODIES:
        body = BODIES[(route, method)](w)
    extra.setdefault("HTTP_IDEMPOTENCY_KEY", str(uuid.uuid4()))
    return getattr(client, method.lower())(url, body, format=None if method == "GET" else "json", **extra)
