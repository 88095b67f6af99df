"""The stock engine on every backend: each operation's quantities, ledger, audit, and its refusals."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from django.db import connection

from stockledger.core.errors import (
    Conflict,
    InsufficientStock,
    PermissionDenied,
    StaleVersion,
    ValidationError,
)
from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.stock import services as svc
from stockledger.stock.models import Batch, Inventory, LedgerEntry, Reservation
from tests import factories as f

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def clerk(make_user):
    return make_user(Role.INVENTORY_CLERK)


@pytest.fixture
def boss(make_user):
    return make_user(Role.ADMIN)


@pytest.fixture
def wh():
    return f.warehouse()


@pytest.fixture
def metres():
    return f.item(f.product_type(unit="metre", decimals=3))


@pytest.fixture
def pieces():
    return f.item(f.product_type(unit="piece", decimals=0))


def inv(item, warehouse, holder=None) -> Inventory:
    return Inventory.objects.get(item=item, warehouse=warehouse, holder=holder)


def counts():
    return LedgerEntry.objects.count(), AuditLog.objects.count(), Batch.objects.count()


def receive(actor, item, warehouse, qty, **kw):
    return svc.batch_receive(actor=actor, item_id=item.pk, warehouse_id=warehouse.pk, qty=qty, **kw)


def test_receive_creates_batch_inventory_ledger_and_audit(clerk, wh, metres):
    r = receive(clerk, metres, wh, "2500")
    b = Batch.objects.get(pk=r["batch_id"])
    assert (b.initial_qty, b.usable_qty, b.reserved_qty, b.batch_no) == (D(2500), D(2500), D(0), str(b.pk))
    assert inv(metres, wh).usable_qty == D(2500)
    entry = LedgerEntry.objects.get(batch=b)
    assert (entry.kind, entry.qty_delta, entry.prev_hash) == ("RECEIVE", D(2500), "")
    assert b.ledger_head == entry.hash
    assert AuditLog.objects.filter(object_type="batch", object_id=str(b.pk), action="batch.receive").count() == 1


def test_issue_takes_from_several_batches_in_one_transaction(clerk, wh, metres):
    a = receive(clerk, metres, wh, "100")["batch_id"]
    b = receive(clerk, metres, wh, "50.5")["batch_id"]
    out = svc.stock_issue(
        actor=clerk, lines=[{"batch_id": a, "qty": "30"}, {"batch_id": b, "qty": "0.5"}, {"batch_id": a, "qty": "10"}]
    )
    assert Batch.objects.get(pk=a).usable_qty == D(60)
    assert Batch.objects.get(pk=b).usable_qty == D(50)
    assert inv(metres, wh).usable_qty == D(110)
    assert LedgerEntry.objects.filter(doc_type="issue", doc_id=str(out["document_id"])).count() == 3


def test_issue_refuses_more_than_available_listing_every_short_line(clerk, wh, pieces):
    a = receive(clerk, pieces, wh, 5)["batch_id"]
    b = receive(clerk, pieces, wh, 3)["batch_id"]
    before = counts()
    with pytest.raises(InsufficientStock) as err:
        svc.stock_issue(actor=clerk, lines=[{"batch_id": a, "qty": 6}, {"batch_id": b, "qty": 4}])
    assert {line["batch_id"] for line in err.value.extra["lines"]} == {a, b}
    assert counts() == before
    assert Batch.objects.get(pk=a).usable_qty == 5


@pytest.mark.parametrize(
    ("qty", "field_fragment"),
    [("0", "greater than 0"), ("-1", "greater than 0"), ("1.5", "no decimals"), ("abc", "number")],
)
def test_bad_quantities_are_400_and_write_nothing(clerk, wh, pieces, qty, field_fragment):
    a = receive(clerk, pieces, wh, 5)["batch_id"]
    before = counts()
    with pytest.raises(ValidationError) as err:
        svc.stock_issue(actor=clerk, lines=[{"batch_id": a, "qty": qty}])
    assert field_fragment in str(err.value.extra["fields"])
    assert counts() == before


def test_metres_allow_three_decimals_not_four(clerk, wh, metres):
    receive(clerk, metres, wh, "1.125")
    with pytest.raises(ValidationError):
        receive(clerk, metres, wh, "1.1255")


def test_unknown_batch_is_400(clerk):
    with pytest.raises(ValidationError) as err:
        svc.stock_issue(actor=clerk, lines=[{"batch_id": 987654, "qty": 1}])
    assert "unknown batch" in str(err.value.extra)


def test_expired_batch_cannot_be_issued_but_can_be_scrapped(clerk, wh):
    food = f.item(can_expire=True)
    b = receive(clerk, food, wh, 10, batch_date=date(2020, 1, 1), expiry_date=date(2020, 6, 1))["batch_id"]
    with pytest.raises(Conflict) as err:
        svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 1}])
    assert "expired" in err.value.message
    svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 10}], allow_expired=True, reason="scrap")
    assert Batch.objects.get(pk=b).usable_qty == 0


def test_stale_batch_version_is_409_and_writes_nothing(clerk, wh, pieces):
    r = receive(clerk, pieces, wh, 5)
    svc.stock_issue(actor=clerk, lines=[{"batch_id": r["batch_id"], "qty": 1, "version": r["version"]}])
    before = counts()
    with pytest.raises(StaleVersion) as err:
        svc.stock_issue(actor=clerk, lines=[{"batch_id": r["batch_id"], "qty": 1, "version": r["version"]}])
    assert err.value.message == "Batch was modified, please retry"
    assert counts() == before


def test_user_of_another_warehouse_is_refused(make_user, wh, pieces, clerk):
    b = receive(clerk, pieces, wh, 5)["batch_id"]
    elsewhere = make_user(Role.INVENTORY_CLERK, warehouses=[f.warehouse()])
    with pytest.raises(PermissionDenied):
        svc.stock_issue(actor=elsewhere, lines=[{"batch_id": b, "qty": 1}])
    reader = make_user(Role.READER)
    with pytest.raises(PermissionDenied):
        receive(reader, pieces, wh, 1)


def test_idempotency_key_returns_first_result_and_writes_once(clerk, wh, pieces):
    b = receive(clerk, pieces, wh, 5)["batch_id"]
    first = svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 2}], idempotency_key="k-1")
    before = counts()
    again = svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 2}], idempotency_key="k-1")
    assert again == first
    assert counts() == before
    assert Batch.objects.get(pk=b).usable_qty == 3
    with pytest.raises(Conflict) as err:
        svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 1}], idempotency_key="k-1")
    assert err.value.code == "idempotency_key_reused"


def test_failure_after_first_batch_rolls_everything_back(clerk, wh, pieces, monkeypatch):
    from stockledger.stock import engine

    a = receive(clerk, pieces, wh, 5)["batch_id"]
    b = receive(clerk, pieces, wh, 5)["batch_id"]
    real_bulk = LedgerEntry.objects.bulk_create

    def explode(*args, **kw):
        raise RuntimeError("disk full")

    monkeypatch.setattr(engine.LedgerEntry.objects, "bulk_create", explode)
    before = counts()
    with pytest.raises(RuntimeError):
        svc.stock_issue(actor=clerk, lines=[{"batch_id": a, "qty": 1}, {"batch_id": b, "qty": 1}])
    monkeypatch.setattr(engine.LedgerEntry.objects, "bulk_create", real_bulk)
    assert counts() == before
    assert [Batch.objects.get(pk=pk).usable_qty for pk in (a, b)] == [5, 5]
    assert inv(pieces, wh).usable_qty == 10


def test_transfer_moves_stock_keeping_batch_number_and_expiry(clerk, wh):
    food = f.item(can_expire=True)
    dest = f.warehouse()
    src = receive(clerk, food, wh, 40, batch_no="LOT-7", expiry_date=date.today() + timedelta(days=90))
    out = svc.stock_transfer(actor=clerk, lines=[{"batch_id": src["batch_id"], "qty": 15}], to_warehouse_id=dest.pk)
    there = Batch.objects.get(warehouse=dest, batch_no="LOT-7")
    assert there.origin == "transfer" and there.usable_qty == 15 and there.source_batch_id == src["batch_id"]
    assert there.expiry_date == Batch.objects.get(pk=src["batch_id"]).expiry_date
    assert (inv(food, wh).usable_qty, inv(food, dest).usable_qty) == (25, 15)
    kinds = set(
        LedgerEntry.objects.filter(doc_type="transfer", doc_id=str(out["document_id"])).values_list("kind", flat=True)
    )
    assert kinds == {"TRANSFER_OUT", "TRANSFER_IN"}
    svc.stock_transfer(actor=clerk, lines=[{"batch_id": src["batch_id"], "qty": 5}], to_warehouse_id=dest.pk)
    there.refresh_from_db()
    assert there.usable_qty == 20 and there.initial_qty == 15


def test_adjustment_applies_only_when_a_manager_approves(clerk, make_user, wh, pieces):
    b = receive(clerk, pieces, wh, 10)["batch_id"]
    req = svc.stock_adjust(actor=clerk, batch_id=b, counted_qty=8, reason="count 2026-11")
    assert Batch.objects.get(pk=b).usable_qty == 10
    with pytest.raises(PermissionDenied):
        svc.stock_adjust_decide(actor=clerk, document_id=req["document_id"], approve=True)
    lm = make_user(Role.LOGISTICS_MANAGER)
    done = svc.stock_adjust_decide(actor=lm, document_id=req["document_id"], approve=True)
    assert done["status"] == "DONE" and Batch.objects.get(pk=b).usable_qty == 8
    assert inv(pieces, wh).usable_qty == 8
    with pytest.raises(Conflict):
        svc.stock_adjust_decide(actor=lm, document_id=req["document_id"], approve=True)


def test_adjustment_refused_when_batch_moved_since_the_count(clerk, make_user, wh, pieces):
    b = receive(clerk, pieces, wh, 10)["batch_id"]
    req = svc.stock_adjust(actor=clerk, batch_id=b, counted_qty=8, reason="count")
    svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 1}])
    with pytest.raises(Conflict) as err:
        svc.stock_adjust_decide(actor=make_user(Role.ADMIN), document_id=req["document_id"], approve=True)
    assert err.value.code == "stale_version"


def test_restore_puts_quantity_back_into_the_same_batch(clerk, boss, wh, pieces):
    b = receive(clerk, pieces, wh, 1000)["batch_id"]
    svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 100}], reason="scrap")
    assert Batch.objects.get(pk=b).usable_qty == 900
    with pytest.raises(PermissionDenied):
        svc.stock_restore(actor=clerk, lines=[{"batch_id": b, "qty": 100}])
    svc.stock_restore(actor=boss, lines=[{"batch_id": b, "qty": 100}])
    assert Batch.objects.get(pk=b).usable_qty == 1000 and inv(pieces, wh).usable_qty == 1000


def test_reservation_draft_30_then_20_on_batch_and_inventory(make_user, clerk, wh, pieces):
    """Seed 001: reserved goes 0 → 30 → 20 on the batch and on the warehouse row."""
    lo = make_user(Role.LOGISTICS_OFFICER)
    b1 = receive(clerk, pieces, wh, 50)["batch_id"]
    receive(clerk, pieces, wh, 40)
    assert inv(pieces, wh).reserved_qty == 0
    svc.reservation_apply(actor=lo, doc_type="test", doc_id=1, allocations={b1: 30})
    assert (Batch.objects.get(pk=b1).reserved_qty, inv(pieces, wh).reserved_qty) == (30, 30)
    svc.reservation_apply(actor=lo, doc_type="test", doc_id=1, allocations={b1: 20})
    assert (Batch.objects.get(pk=b1).reserved_qty, inv(pieces, wh).reserved_qty) == (20, 20)
    assert Reservation.objects.get(batch_id=b1).qty == 20


def test_reserved_stock_cannot_be_issued_by_others(make_user, clerk, wh, pieces):
    lo = make_user(Role.LOGISTICS_OFFICER)
    b = receive(clerk, pieces, wh, 10)["batch_id"]
    svc.reservation_apply(actor=lo, doc_type="test", doc_id=1, allocations={b: 8})
    with pytest.raises(InsufficientStock):
        svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 3}])
    with pytest.raises(InsufficientStock) as err:
        svc.reservation_apply(actor=lo, doc_type="test", doc_id=2, allocations={b: 3})
    assert err.value.code == "over_allocation"


def test_consume_sets_inventory_to_sum_of_batches(make_user, clerk, wh, pieces):
    """Seed 000: after dispatch, inventory usable/reserved = Σ of the item's batches in the warehouse."""
    lm = make_user(Role.LOGISTICS_MANAGER)
    b1 = receive(clerk, pieces, wh, 50)["batch_id"]
    b2 = receive(clerk, pieces, wh, 40)["batch_id"]
    svc.reservation_apply(actor=lm, doc_type="pkg", doc_id=7, allocations={b1: 30, b2: 5})
    svc.reservation_apply(actor=lm, doc_type="pkg", doc_id=8, allocations={b2: 10})
    svc.reservation_consume(actor=lm, doc_type="pkg", doc_id=7)
    assert [(b.usable_qty, b.reserved_qty) for b in Batch.objects.filter(pk__in=[b1, b2]).order_by("pk")] == [
        (20, 0),
        (35, 10),
    ]
    row = inv(pieces, wh)
    assert (row.usable_qty, row.reserved_qty) == (55, 10)
    assert not Reservation.objects.filter(doc_type="pkg", doc_id="7").exists()


def test_reservation_repairs_a_drifted_inventory_row_with_an_audit_row(make_user, clerk, wh, pieces):
    lo = make_user(Role.LOGISTICS_OFFICER)
    b = receive(clerk, pieces, wh, 50)["batch_id"]
    with connection.cursor() as cur:
        cur.execute("UPDATE stock_inventory SET reserved_qty = 7 WHERE item_id = %s", [pieces.pk])
    svc.reservation_apply(actor=lo, doc_type="test", doc_id=1, allocations={b: 5})
    assert inv(pieces, wh).reserved_qty == 5
    repair = AuditLog.objects.get(action="inventory.drift_repair")
    assert repair.before["reserved_qty"] == "12.000" and repair.after["reserved_qty"] == "5.000"


def test_ledger_post_for_non_batched_items_null_safe_keys(make_user, wh):
    sales = make_user(Role.SALES)
    cyl = f.item(f.product_type(unit="cylinder", batch_tracked=False))
    cust = f.customer()
    svc.ledger_post(actor=sales, kind="LOAD", legs=[{"item_id": cyl.pk, "warehouse_id": wh.pk, "qty_delta": 10}])
    svc.ledger_post(
        actor=sales,
        kind="DELIVERY",
        legs=[
            {"item_id": cyl.pk, "warehouse_id": wh.pk, "qty_delta": -4},
            {"item_id": cyl.pk, "holder_id": cust.pk, "qty_delta": 4},
        ],
    )
    assert inv(cyl, wh).usable_qty == 6
    assert Inventory.objects.get(item=cyl, warehouse=None, holder=cust).usable_qty == 4
    before = counts()
    with pytest.raises(InsufficientStock):
        svc.ledger_post(actor=sales, kind="DUMP", legs=[{"item_id": cyl.pk, "warehouse_id": wh.pk, "qty_delta": -7}])
    assert counts() == before


def test_hash_chain_links_each_batch_entry_to_the_previous(clerk, wh, pieces):
    from stockledger.stock.chain import entry_hash

    b = receive(clerk, pieces, wh, 10)["batch_id"]
    svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 1}])
    svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 2}])
    entries = list(LedgerEntry.objects.filter(batch_id=b).order_by("id"))
    prev = ""
    for e in entries:
        assert e.prev_hash == prev and e.hash == entry_hash(prev, e)
        prev = e.hash
    assert Batch.objects.get(pk=b).ledger_head == prev


def test_ledger_rows_cannot_be_changed_in_the_database(clerk, wh, pieces):
    from django.db import DatabaseError, transaction

    receive(clerk, pieces, wh, 10)
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("UPDATE stock_ledgerentry SET qty_delta = 99")
    with pytest.raises(DatabaseError), transaction.atomic(), connection.cursor() as cur:
        cur.execute("DELETE FROM stock_ledgerentry")
    assert LedgerEntry.objects.get().qty_delta == 10


def test_generic_receive_and_issue_refuse_pipe_batches(clerk, wh):
    """Pipe stock moves only with its rolls and pieces (I5): the generic services refuse it."""
    pipe = f.item(f.product_type(unit="metre", decimals=3, has_stock_forms=True))
    with pytest.raises(ValidationError) as err:
        receive(clerk, pipe, wh, 500)
    assert "stock records" in str(err.value.extra)
    b = Batch.objects.create(batch_no="P-1", item=pipe, warehouse=wh, batch_date=date.today(), initial_qty=5)
    with pytest.raises(ValidationError) as err:
        svc.stock_issue(actor=clerk, lines=[{"batch_id": b.pk, "qty": 1}])
    assert "stock records" in str(err.value.extra)


def test_generated_batch_number_never_collides_with_an_explicit_one(clerk, wh, pieces):
    first = receive(clerk, pieces, wh, 1)
    taken = str(first["batch_id"] + 2)  # the id the third receipt will get
    receive(clerk, pieces, wh, 1, batch_no=taken)
    third = receive(clerk, pieces, wh, 1)
    assert third["batch_no"] != taken
    assert Batch.objects.filter(warehouse=wh, batch_no=taken).count() == 1
