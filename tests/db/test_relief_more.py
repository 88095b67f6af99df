"""Relief on every backend: idempotent drafts, decimal precision of batch and warehouse totals, the demo."""

import io

import pytest
from django.core.management import call_command

from stockledger.relief import demo
from stockledger.relief import services as rs
from stockledger.relief.models import ReliefPackage
from stockledger.stock.models import Batch, Reservation
from tests import factories as f
from tests.db.test_relief_support import World, check_invariants, counts, fresh, inv

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(make_user):
    return World.build(make_user)


def test_idempotency_key_applies_a_draft_once(w):
    b1 = w.receive(w.water, 50, "W-1")
    pkg = w.package()
    args = {"actor": w.lo, "package_id": pkg["id"], "version": pkg["version"]}
    first = rs.relief_package_save_draft(**args, allocations={b1.pk: 30}, idempotency_key="draft-1")
    before = counts()
    again = rs.relief_package_save_draft(**args, allocations={b1.pk: 30}, idempotency_key="draft-1")
    assert again == first and counts() == before
    assert fresh(b1).reserved_qty == 30
    check_invariants()


def test_batch_and_warehouse_totals_keep_the_same_precision(w):
    kg = f.item(f.product_type(unit="kg", decimals=3), issuance_order="FIFO")
    a = w.receive(kg, "10.125", "K-1", age=20)
    b = w.receive(kg, "5.250", "K-2", age=10)
    pkg = w.draft(w.package({kg: "12"}), {a: "10.125", b: "0.005"})
    assert inv(kg, w.wh).reserved_qty == fresh(a).reserved_qty + fresh(b).reserved_qty
    done = rs.relief_package_send_to_dispatch(actor=w.lm, package_id=pkg["id"], version=pkg["version"])
    assert done["status"] == "DISPATCHED"
    row = inv(kg, w.wh)
    assert (str(row.usable_qty), str(row.reserved_qty)) == ("5.245", "0.000")
    check_invariants()


def test_demo_prepares_a_draft_package_and_loads_once(make_user):
    admin = make_user("ADMIN")
    call_command("demo", stdout=io.StringIO())
    pkg = ReliefPackage.objects.get(request__event=demo.EVENT)
    assert pkg.status == "BEING_PREPARED" and pkg.version == 2
    held = {r.batch.batch_no: r.qty for r in Reservation.objects.filter(doc_id=str(pkg.pk)).select_related("batch")}
    assert held == {"W-2402": 120, "W-2403": 30, "R-2401": 20, "B-2401": 60}  # FEFO/FIFO, expired W-2401 skipped
    assert not pkg.override_flagged
    assert Batch.objects.get(batch_no="W-2401").expiry_date < Batch.objects.get(batch_no="W-2402").expiry_date
    before = counts()
    assert demo.load(admin) is None
    assert counts() == before
    check_invariants()
