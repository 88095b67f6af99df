"""Shared set-up for the relief tests (db, api, concurrency), and the invariant check they end with.

`check_invariants()` runs the reconcile engineer's `assert_invariants()` when tests/invariants.py
exists, and always checks the relief-relevant invariants itself: every inventory row equals Σ of its
batches (usable and reserved), every batch's reserved_qty equals Σ of its Reservation rows, and
0 ≤ reserved ≤ usable everywhere.
"""

import importlib
from dataclasses import dataclass, field
from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection
from django.db.models import Sum

from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.relief import services as rs
from stockledger.stock import services as svc
from stockledger.stock.models import Batch, Inventory, LedgerEntry, Reservation
from tests import factories as f

D = Decimal
TODAY = date.today()


def relief_drift() -> list[str]:
    problems = []
    for inv in Inventory.objects.filter(holder__isnull=True, item__product_type__batch_tracked=True):
        sums = Batch.objects.filter(item_id=inv.item_id, warehouse_id=inv.warehouse_id).aggregate(
            u=Sum("usable_qty"), r=Sum("reserved_qty")
        )
        if (inv.usable_qty, inv.reserved_qty) != (sums["u"] or 0, sums["r"] or 0):
            problems.append(f"inventory {inv.key}: {inv.usable_qty}/{inv.reserved_qty} != Σ batches {sums}")
        if not 0 <= inv.reserved_qty <= inv.usable_qty:
            problems.append(f"inventory {inv.key}: reserved {inv.reserved_qty} outside 0..{inv.usable_qty}")
    for b in Batch.objects.all():
        held = Reservation.objects.filter(batch=b).aggregate(s=Sum("qty"))["s"] or 0
        if b.reserved_qty != held:
            problems.append(f"batch {b.batch_no}: reserved {b.reserved_qty} != Σ reservations {held}")
        if not 0 <= b.reserved_qty <= b.usable_qty:
            problems.append(f"batch {b.batch_no}: reserved {b.reserved_qty} outside 0..{b.usable_qty}")
        ledger = LedgerEntry.objects.filter(batch=b).aggregate(q=Sum("qty_delta"), r=Sum("reserved_delta"))
        if (b.usable_qty, b.reserved_qty) != (ledger["q"] or 0, ledger["r"] or 0):
            problems.append(f"batch {b.batch_no}: {b.usable_qty}/{b.reserved_qty} != ledger {ledger}")
    return problems


def check_invariants() -> None:
    try:
        shared = importlib.import_module("tests.invariants")
    except ModuleNotFoundError:
        shared = None
    if shared is not None:
        shared.assert_invariants()
    problems = relief_drift()
    assert not problems, problems


def counts() -> tuple[int, int, int, int]:
    return LedgerEntry.objects.count(), AuditLog.objects.count(), Batch.objects.count(), Reservation.objects.count()


@dataclass
class World:
    """Users of every role, two warehouses, an agency, a FEFO item that expires and a FIFO item."""

    make_user: object
    lo: object = None
    lm: object = None
    clerk: object = None
    admin: object = None
    reader: object = None
    wh: object = None
    dest: object = None
    agency: object = None
    water: object = None
    blankets: object = None
    extra: dict = field(default_factory=dict)

    @classmethod
    def build(cls, make_user) -> "World":
        w = cls(make_user)
        w.lo, w.lm = make_user(Role.LOGISTICS_OFFICER), make_user(Role.LOGISTICS_MANAGER)
        w.clerk, w.admin, w.reader = make_user(Role.INVENTORY_CLERK), make_user(Role.ADMIN), make_user(Role.READER)
        w.wh, w.dest = f.warehouse(name="Central"), f.warehouse(name="North")
        w.agency = f.customer(name="Riverside shelter", kind="shelter")
        units = f.product_type(unit="unit", decimals=0)
        w.water = f.item(units, issuance_order="FEFO", can_expire=True, name="Water 5L")
        w.blankets = f.item(units, issuance_order="FIFO", name="Blanket")
        return w

    def receive(self, item, qty, no, *, expiry_days=None, age=10, wh=None) -> Batch:
        expiry = TODAY + timedelta(days=expiry_days) if expiry_days is not None else None
        if item.can_expire and expiry is None:
            expiry = TODAY + timedelta(days=365)
        out = svc.batch_receive(
            actor=self.admin,
            item_id=item.pk,
            warehouse_id=(wh or self.wh).pk,
            qty=qty,
            batch_no=no,
            batch_date=TODAY - timedelta(days=age),
            expiry_date=expiry,
        )
        return Batch.objects.get(pk=out["batch_id"])

    def request(self, lines: dict, *, submit=True) -> dict:
        req = rs.relief_request_create(
            actor=self.lo,
            agency_id=self.agency.pk,
            event="Flood",
            urgency="HIGH",
            lines=[{"item_id": item.pk, "requested_qty": q} for item, q in lines.items()],
        )
        if submit:
            req = rs.relief_request_submit(actor=self.lo, request_id=req["id"], version=req["version"])
        return req

    def package(self, lines: dict | None = None, *, request_id=None, dest=None) -> dict:
        if request_id is None:
            request_id = self.request(lines or {self.water: 100})["id"]
        return rs.relief_package_create(
            actor=self.lo, request_id=request_id, destination_warehouse_id=dest.pk if dest else None
        )

    def draft(self, pkg: dict, allocations: dict, actor=None) -> dict:
        return rs.relief_package_save_draft(
            actor=actor or self.lo,
            package_id=pkg["id"],
            version=pkg["version"],
            allocations=[{"batch_id": b.pk, "qty": q} for b, q in allocations.items()],
        )


def inv(item, warehouse) -> Inventory:
    return Inventory.objects.get(item=item, warehouse=warehouse, holder=None)


def fresh(batch: Batch) -> Batch:
    return Batch.objects.get(pk=batch.pk)


# --- the checker itself must be able to fail -----------------------------------------------------


@pytest.mark.django_db
def test_relief_invariant_check_catches_a_drifted_inventory_row(make_user):
    w = World.build(make_user)
    w.receive(w.water, 50, "W-1")
    assert relief_drift() == []
    with connection.cursor() as cur:
        cur.execute("UPDATE stock_inventory SET reserved_qty = 3 WHERE item_id = %s", [w.water.pk])
    assert any("Σ batches" in p for p in relief_drift())


@pytest.mark.django_db
def test_relief_invariant_check_catches_a_batch_reserved_without_reservation(make_user):
    w = World.build(make_user)
    b = w.receive(w.water, 50, "W-1")
    Batch.objects.filter(pk=b.pk).update(reserved_qty=5)
    assert any("Σ reservations" in p for p in relief_drift())
