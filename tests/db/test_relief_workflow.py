"""The relief workflow on every backend, with the seeds' numbers: Save Draft moves reserved quantities
by the delta on the batch and on the warehouse row (seed 001); a dispatch consumes exactly what is
reserved and sets the warehouse rows to Σ of their batches, in one transaction (seed 000)."""

from datetime import timedelta

import pytest
from django.db import connection

from stockledger.core.errors import Conflict, InsufficientStock, PermissionDenied, StaleVersion, ValidationError
from stockledger.core.models import AuditLog
from stockledger.relief import services as rs
from stockledger.relief.models import ReliefPackage, ReliefPackageLine, ReliefRequest
from stockledger.stock.models import Batch, LedgerEntry, Reservation
from tests.db.test_relief_support import TODAY, World, check_invariants, counts, fresh, inv

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(make_user):
    return World.build(make_user)


def ledger(batch, kind=None):
    qs = LedgerEntry.objects.filter(batch=batch).order_by("id")
    if kind:
        qs = qs.filter(kind=kind)
    return [(e.kind, e.qty_delta, e.reserved_delta) for e in qs]


def test_draft_of_30_resaved_as_20_moves_reserved_0_30_20_on_batch_and_warehouse(w):
    b1, b2 = w.receive(w.water, 50, "W-1", expiry_days=30), w.receive(w.water, 40, "W-2", expiry_days=60)
    pkg = w.package({w.water: 100})
    assert (fresh(b1).reserved_qty, inv(w.water, w.wh).reserved_qty) == (0, 0)

    pkg = w.draft(pkg, {b1: 30})
    assert (fresh(b1).reserved_qty, inv(w.water, w.wh).reserved_qty) == (30, 30)
    assert pkg["status"] == "BEING_PREPARED" and pkg["version"] == 2
    check_invariants()

    pkg = w.draft(pkg, {b1: 20})
    assert (fresh(b1).reserved_qty, inv(w.water, w.wh).reserved_qty) == (20, 20)
    assert (fresh(b1).usable_qty, fresh(b2).reserved_qty, inv(w.water, w.wh).usable_qty) == (50, 0, 90)
    assert pkg["status"] == "BEING_PREPARED" and pkg["version"] == 3
    assert [(a["batch_id"], a["qty"]) for a in pkg["allocations"]] == [(b1.pk, "20.000")]
    assert Reservation.objects.get(doc_type="relief_package", doc_id=str(pkg["id"])).qty == 20
    assert ledger(b1, "RESERVE") == [("RESERVE", 0, 30), ("RESERVE", 0, -10)]
    assert AuditLog.objects.filter(action="relief_package.draft", object_id=str(pkg["id"])).count() == 2
    check_invariants()


def test_draft_in_awaiting_approval_keeps_the_status(w):
    b1 = w.receive(w.water, 50, "W-1")
    pkg = w.draft(w.package(), {b1: 30})
    pkg = rs.relief_package_submit(actor=w.lo, package_id=pkg["id"], version=pkg["version"])
    pkg = w.draft(pkg, {b1: 10}, actor=w.lm)
    assert pkg["status"] == "AWAITING_LM_APPROVAL"
    assert (fresh(b1).reserved_qty, inv(w.water, w.wh).reserved_qty) == (10, 10)
    check_invariants()


def test_approve_and_dispatch_with_a_dropped_and_an_added_batch(w):
    """The LM drops B-late and takes B-early instead: B-late's reservation is released and never
    deducted; B-early is reserved, then consumed; the warehouse row ends at Σ of its batches."""
    late = w.receive(w.water, 50, "W-LATE", expiry_days=200)
    early = w.receive(w.water, 40, "W-EARLY", expiry_days=100)
    other = w.receive(w.water, 10, "W-OTHER", expiry_days=300)
    pkg = w.draft(w.package({w.water: 30}), {late: 30})
    assert pkg["override"]["flagged"]  # FEFO would take W-EARLY first
    pkg = rs.relief_package_submit(actor=w.lo, package_id=pkg["id"], version=pkg["version"])
    assert inv(w.water, w.wh).reserved_qty == 30

    done = rs.relief_package_approve_dispatch(
        actor=w.lm, package_id=pkg["id"], version=pkg["version"], allocations=[{"batch_id": early.pk, "qty": 25}]
    )
    assert done["status"] == "DISPATCHED" and not done["override"]["flagged"]
    assert (fresh(late).usable_qty, fresh(late).reserved_qty) == (50, 0)  # released, never deducted
    assert (fresh(early).usable_qty, fresh(early).reserved_qty) == (15, 0)  # reserved, then consumed
    assert (fresh(other).usable_qty, fresh(other).reserved_qty) == (10, 0)
    row = inv(w.water, w.wh)
    assert (row.usable_qty, row.reserved_qty) == (75, 0)
    assert ledger(late) == [("RECEIVE", 50, 0), ("RESERVE", 0, 30), ("RESERVE", 0, -30)]
    assert ledger(early) == [("RECEIVE", 40, 0), ("RESERVE", 0, 25), ("CONSUME", -25, -25)]
    assert not Reservation.objects.filter(doc_type="relief_package", doc_id=str(pkg["id"])).exists()
    line = ReliefPackageLine.objects.get(package_id=pkg["id"])
    assert (line.batch_id, line.qty, line.batch_no, line.expiry_date) == (early.pk, 25, "W-EARLY", early.expiry_date)
    assert done["approved_by"] == w.lm.username and done["dispatched_at"]
    assert AuditLog.objects.filter(action="relief_package.approve_dispatch", object_id=str(pkg["id"])).exists()
    check_invariants()


def test_send_to_dispatch_straight_from_being_prepared(w):
    b1, b2 = w.receive(w.water, 50, "W-1", expiry_days=30), w.receive(w.water, 40, "W-2", expiry_days=60)
    pkg = w.draft(w.package({w.water: 70}), {b1: 50, b2: 20})
    with pytest.raises(PermissionDenied):
        rs.relief_package_send_to_dispatch(actor=w.lo, package_id=pkg["id"], version=pkg["version"])
    done = rs.relief_package_send_to_dispatch(actor=w.lm, package_id=pkg["id"], version=pkg["version"])
    assert done["status"] == "DISPATCHED"
    assert [(fresh(b).usable_qty, fresh(b).reserved_qty) for b in (b1, b2)] == [(0, 0), (20, 0)]
    row = inv(w.water, w.wh)
    assert (row.usable_qty, row.reserved_qty) == (20, 0)
    check_invariants()


def test_send_to_dispatch_refuses_a_package_awaiting_approval_and_lo_cannot_approve(w):
    b1 = w.receive(w.water, 50, "W-1")
    pkg = w.draft(w.package(), {b1: 5})
    pkg = rs.relief_package_submit(actor=w.lo, package_id=pkg["id"], version=pkg["version"])
    with pytest.raises(Conflict) as err:
        rs.relief_package_send_to_dispatch(actor=w.lm, package_id=pkg["id"], version=pkg["version"])
    assert err.value.code == "invalid_status"
    with pytest.raises(PermissionDenied):
        rs.relief_package_approve_dispatch(actor=w.lo, package_id=pkg["id"], version=pkg["version"])
    check_invariants()


def test_draft_repairs_a_drifted_warehouse_row_in_the_same_transaction(w):
    b1 = w.receive(w.water, 50, "W-1")
    w.receive(w.water, 40, "W-2")
    with connection.cursor() as cur:
        cur.execute("UPDATE stock_inventory SET reserved_qty = 7 WHERE item_id = %s", [w.water.pk])
    w.draft(w.package(), {b1: 30})
    assert inv(w.water, w.wh).reserved_qty == 30  # Σ batches, not 7 + 30
    repair = AuditLog.objects.get(action="inventory.drift_repair")
    assert repair.object_id == str(inv(w.water, w.wh).pk)
    assert (repair.before["reserved_qty"], repair.after["reserved_qty"]) == ("37.000", "30.000")
    check_invariants()


@pytest.mark.parametrize("case", ["over_allocation", "expired", "other_item", "unknown_batch", "decimals"])
def test_bad_drafts_write_nothing(w, case):
    b1 = w.receive(w.water, 50, "W-1")
    old = w.receive(w.water, 10, "W-OLD", age=400, expiry_days=-1)
    blanket = w.receive(w.blankets, 10, "B-1")
    pkg = w.draft(w.package({w.water: 100, w.blankets: 10}), {b1: 10})
    lines = {
        "over_allocation": [{"batch_id": b1.pk, "qty": 51}],
        "expired": [{"batch_id": old.pk, "qty": 1}],
        "other_item": [{"batch_id": blanket.pk, "qty": 1, "item_id": w.water.pk}],
        "unknown_batch": [{"batch_id": 987654, "qty": 1}],
        "decimals": [{"batch_id": b1.pk, "qty": "1.5"}],
    }[case]
    expected = {
        "over_allocation": (InsufficientStock, "over_allocation"),
        "expired": (Conflict, "batch_not_allocatable"),
        "other_item": (ValidationError, "validation_error"),
        "unknown_batch": (ValidationError, "validation_error"),
        "decimals": (ValidationError, "validation_error"),
    }[case]
    before = counts()
    with pytest.raises(expected[0]) as err:
        rs.relief_package_save_draft(actor=w.lo, package_id=pkg["id"], version=pkg["version"], allocations=lines)
    assert err.value.code == expected[1]
    assert err.value.status == (400 if expected[0] is ValidationError else 409)
    assert counts() == before
    assert ReliefPackage.objects.get(pk=pkg["id"]).version == pkg["version"]
    assert (fresh(b1).reserved_qty, inv(w.water, w.wh).reserved_qty) == (10, 10)
    check_invariants()


def test_stale_package_version_is_409_and_missing_version_is_400(w):
    b1 = w.receive(w.water, 50, "W-1")
    pkg = w.package()
    w.draft(pkg, {b1: 10})
    before = counts()
    with pytest.raises(StaleVersion) as err:
        w.draft(pkg, {b1: 20})  # pkg still carries version 1
    assert err.value.status == 409 and err.value.message == "Relief package was modified, please retry"
    with pytest.raises(ValidationError) as err:
        rs.relief_package_save_draft(actor=w.lo, package_id=pkg["id"], version=None, allocations=[])
    assert err.value.extra["fields"] == {"version": ["required"]}
    for service in (rs.relief_package_submit, rs.relief_package_cancel, rs.relief_package_send_to_dispatch):
        with pytest.raises(ValidationError):
            service(actor=w.lm, package_id=pkg["id"], version=None)
    assert counts() == before
    assert fresh(b1).reserved_qty == 10
    check_invariants()


def test_lo_assigned_elsewhere_cannot_draft_and_clerk_cannot_draft(w, make_user):
    b1 = w.receive(w.water, 50, "W-1")
    pkg = w.package()
    stranger = make_user("LOGISTICS_OFFICER", warehouses=[w.dest])
    with pytest.raises(PermissionDenied) as err:
        w.draft(pkg, {b1: 5}, actor=stranger)
    assert err.value.code == "warehouse_not_assigned"
    with pytest.raises(PermissionDenied):
        w.draft(pkg, {b1: 5}, actor=w.clerk)
    local = make_user("LOGISTICS_OFFICER", warehouses=[w.wh])
    w.draft(pkg, {b1: 5}, actor=local)
    check_invariants()


def test_allocation_order_override_flag_refusal_and_approval_with_reason(w):
    early = w.receive(w.water, 40, "W-EARLY", expiry_days=20)
    late = w.receive(w.water, 40, "W-LATE", expiry_days=200)
    pkg = w.draft(w.package({w.water: 30}), {late: 30})
    override = pkg["override"]
    assert override["flagged"]
    group = override["groups"][0]
    assert group["planned"] == [{"batch_id": early.pk, "batch_no": "W-EARLY", "qty": "30.000"}]
    assert "W-EARLY" in group["reasons"][0] and "FEFO" in group["reasons"][0]
    pkg = rs.relief_package_submit(actor=w.lo, package_id=pkg["id"], version=pkg["version"])

    before = counts()
    with pytest.raises(ValidationError) as err:
        rs.relief_package_approve_dispatch(actor=w.lm, package_id=pkg["id"], version=pkg["version"])
    assert err.value.code == "override_reason_required"
    assert err.value.extra["deviation"]["groups"][0]["planned"][0]["batch_id"] == early.pk
    assert counts() == before and fresh(late).reserved_qty == 30

    done = rs.relief_package_approve_dispatch(
        actor=w.lm, package_id=pkg["id"], version=pkg["version"], override_reason="W-EARLY is packed for the north"
    )
    assert done["status"] == "DISPATCHED"
    assert done["override"] == {**done["override"], "flagged": True, "reason": "W-EARLY is packed for the north"}
    assert (fresh(late).usable_qty, fresh(early).usable_qty) == (10, 40)
    check_invariants()


def test_following_the_plan_needs_no_reason(w):
    early = w.receive(w.water, 40, "W-EARLY", expiry_days=20)
    late = w.receive(w.water, 40, "W-LATE", expiry_days=200)
    pkg = w.draft(w.package({w.water: 50}), {early: 40, late: 10})
    assert not pkg["override"]["flagged"]
    done = rs.relief_package_send_to_dispatch(actor=w.lm, package_id=pkg["id"], version=pkg["version"])
    assert done["override"]["reason"] == ""
    check_invariants()


def test_two_packages_fulfil_a_request_partly_then_fully(w):
    b1 = w.receive(w.water, 100, "W-1")
    blanket = w.receive(w.blankets, 20, "B-1")
    req = w.request({w.water: 60, w.blankets: 10})
    first = w.draft(w.package(request_id=req["id"]), {b1: 40, blanket: 10})
    with pytest.raises(Conflict) as err:  # a second package may not carry more than is still needed
        w.draft(w.package(request_id=req["id"]), {b1: 61})
    assert err.value.code == "exceeds_request"
    rs.relief_package_send_to_dispatch(actor=w.lm, package_id=first["id"], version=first["version"])
    assert ReliefRequest.objects.get(pk=req["id"]).status == "PARTLY_FULFILLED"

    second = ReliefPackage.objects.filter(request_id=req["id"], status="BEING_PREPARED").get()
    with pytest.raises(Conflict):
        w.draft({"id": second.pk, "version": second.version}, {b1: 21})  # 20 outstanding
    pkg = w.draft({"id": second.pk, "version": second.version}, {b1: 20})
    rs.relief_package_send_to_dispatch(actor=w.lm, package_id=pkg["id"], version=pkg["version"])
    req_row = ReliefRequest.objects.get(pk=req["id"])
    assert req_row.status == "FULFILLED"
    with pytest.raises(Conflict):
        rs.relief_request_cancel(actor=w.lo, request_id=req_row.pk, version=req_row.version)
    assert (fresh(b1).usable_qty, inv(w.water, w.wh).usable_qty) == (40, 40)
    check_invariants()


def test_cancel_releases_every_reservation(w):
    b1, b2 = w.receive(w.water, 50, "W-1"), w.receive(w.water, 40, "W-2")
    pkg = w.draft(w.package({w.water: 60}), {b1: 30, b2: 20})
    done = rs.relief_package_cancel(actor=w.lo, package_id=pkg["id"], version=pkg["version"], reason="duplicate")
    assert done["status"] == "CANCELLED" and done["allocations"] == []
    assert [fresh(b).reserved_qty for b in (b1, b2)] == [0, 0]
    assert inv(w.water, w.wh).reserved_qty == 0
    with pytest.raises(Conflict):
        rs.relief_package_send_to_dispatch(actor=w.lm, package_id=pkg["id"], version=done["version"])
    check_invariants()


def test_request_with_an_open_package_cannot_be_cancelled(w):
    req = w.request({w.water: 5})
    w.package(request_id=req["id"])
    with pytest.raises(Conflict) as err:
        rs.relief_request_cancel(actor=w.lo, request_id=req["id"], version=req["version"])
    assert err.value.code == "open_packages"
    draft = w.request({w.water: 5}, submit=False)
    with pytest.raises(Conflict):
        w.package(request_id=draft["id"])
    assert rs.relief_request_cancel(actor=w.lo, request_id=draft["id"], version=draft["version"])["status"] == (
        "CANCELLED"
    )


def test_handover_and_receipt_bring_the_goods_into_the_destination_warehouse(w):
    b1 = w.receive(w.water, 50, "W-1", expiry_days=90)
    req = w.request({w.water: 40})
    pkg = w.draft(w.package(request_id=req["id"], dest=w.dest), {b1: 30})
    pkg = rs.relief_package_send_to_dispatch(actor=w.lm, package_id=pkg["id"], version=pkg["version"])
    with pytest.raises(Conflict) as err:
        rs.relief_package_receive(actor=w.lo, package_id=pkg["id"], version=pkg["version"])
    assert err.value.code == "not_handed_over"
    with pytest.raises(PermissionDenied):
        rs.relief_package_handover(actor=w.lo, package_id=pkg["id"], version=pkg["version"])
    pkg = rs.relief_package_handover(actor=w.clerk, package_id=pkg["id"], version=pkg["version"])
    assert pkg["handed_over_by"] == w.clerk.username and pkg["handed_over_at"]
    pkg = rs.relief_package_receive(actor=w.lo, package_id=pkg["id"], version=pkg["version"])
    assert pkg["status"] == "RECEIVED" and pkg["received_by"] == w.lo.username
    there = Batch.objects.get(warehouse=w.dest, batch_no="W-1")
    assert (there.usable_qty, there.expiry_date, there.origin, there.source_batch_id) == (
        30,
        b1.expiry_date,
        "transfer",
        b1.pk,
    )
    assert ledger(there) == [("TRANSFER_IN", 30, 0)]
    assert (inv(w.water, w.wh).usable_qty, inv(w.water, w.dest).usable_qty) == (20, 30)

    # A second package of the same batch adds to the batch already at the destination.
    pkg2 = w.draft(w.package(request_id=req["id"], dest=w.dest), {b1: 10})
    pkg2 = rs.relief_package_send_to_dispatch(actor=w.lm, package_id=pkg2["id"], version=pkg2["version"])
    pkg2 = rs.relief_package_handover(actor=w.clerk, package_id=pkg2["id"], version=pkg2["version"])
    rs.relief_package_receive(actor=w.lm, package_id=pkg2["id"], version=pkg2["version"])
    there.refresh_from_db()
    assert (there.usable_qty, there.initial_qty) == (40, 30)
    assert Batch.objects.filter(batch_no="W-1").count() == 2
    assert inv(w.water, w.dest).usable_qty == 40
    assert set(ReliefPackageLine.objects.values_list("received_batch_id", flat=True)) == {there.pk}
    check_invariants()


def test_a_draft_cannot_take_from_the_destination_warehouse(w):
    b1 = w.receive(w.water, 50, "W-1", wh=w.dest)
    pkg = w.package(dest=w.dest)
    with pytest.raises(ValidationError):
        w.draft(pkg, {b1: 5})


def test_dispatch_whose_last_batch_expired_rolls_everything_back(w):
    b1 = w.receive(w.water, 50, "W-1", expiry_days=30)
    b2 = w.receive(w.water, 40, "W-2", expiry_days=60)
    pkg = w.draft(w.package({w.water: 70}), {b1: 40, b2: 20})
    pkg = rs.relief_package_submit(actor=w.lo, package_id=pkg["id"], version=pkg["version"])
    Batch.objects.filter(pk=b2.pk).update(expiry_date=TODAY - timedelta(days=1))  # the last line goes bad
    before = counts()
    with pytest.raises(Conflict) as err:
        rs.relief_package_approve_dispatch(
            actor=w.lm,
            package_id=pkg["id"],
            version=pkg["version"],
            allocations=[{"batch_id": b1.pk, "qty": 50}, {"batch_id": b2.pk, "qty": 20}],
            override_reason="n/a",
        )
    assert err.value.code == "batch_not_issuable"
    assert counts() == before
    assert [(fresh(b).usable_qty, fresh(b).reserved_qty) for b in (b1, b2)] == [(50, 40), (40, 20)]
    assert (inv(w.water, w.wh).usable_qty, inv(w.water, w.wh).reserved_qty) == (90, 60)
    row = ReliefPackage.objects.get(pk=pkg["id"])
    assert (row.status, row.version) == ("AWAITING_LM_APPROVAL", pkg["version"])
    assert not ReliefPackageLine.objects.exists()
    check_invariants()


def test_failure_after_the_consume_rolls_back_the_consume_too(w, monkeypatch):
    b1, b2 = w.receive(w.water, 50, "W-1"), w.receive(w.water, 40, "W-2")
    pkg = w.draft(w.package({w.water: 70}), {b1: 50, b2: 20})

    def explode(*args, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(ReliefPackageLine.objects, "bulk_create", explode)
    before = counts()
    with pytest.raises(RuntimeError):
        rs.relief_package_send_to_dispatch(actor=w.lm, package_id=pkg["id"], version=pkg["version"])
    monkeypatch.undo()
    assert counts() == before
    assert [(fresh(b).usable_qty, fresh(b).reserved_qty) for b in (b1, b2)] == [(50, 50), (40, 20)]
    assert ReliefPackage.objects.get(pk=pkg["id"]).status == "BEING_PREPARED"
    check_invariants()


def test_stale_batch_version_sent_by_the_manager_is_409(w):
    b1 = w.receive(w.water, 50, "W-1")
    pkg = w.draft(w.package(), {b1: 10})
    shown = fresh(b1).version
    other = w.draft(w.package(), {b1: 5})  # another officer reserves from the same batch
    assert other["status"] == "BEING_PREPARED"
    with pytest.raises(StaleVersion):
        rs.relief_package_send_to_dispatch(
            actor=w.lm, package_id=pkg["id"], version=pkg["version"], batch_versions={b1.pk: shown}
        )
    done = rs.relief_package_send_to_dispatch(
        actor=w.lm, package_id=pkg["id"], version=pkg["version"], batch_versions={b1.pk: fresh(b1).version}
    )
    assert done["status"] == "DISPATCHED"
    check_invariants()
