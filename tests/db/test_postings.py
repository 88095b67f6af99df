"""Ledger postings of LPG cylinders (POST /api/v1/ledger/'s service) on every backend: snapshots move
with the ledger in the same transaction, NULL-safe keys, no negative snapshot, idempotent retries."""

from decimal import Decimal

import pytest
from django.db.models import Sum

from stockledger.catalog.models import Warehouse
from stockledger.core.errors import Conflict, InsufficientStock, PermissionDenied, ValidationError
from stockledger.core.models import AuditLog, IdempotencyRecord
from stockledger.core.roles import Role
from stockledger.sales.services import lpg_product_setup
from stockledger.stock.models import Inventory, LedgerEntry, StockDocument
from stockledger.stock.services import ledger_post
from tests import factories as f
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def seller(make_user):
    return make_user(Role.SALES)


@pytest.fixture
def lpg(admin_user):
    return lpg_product_setup(actor=admin_user, code="lpg-12-5", name="LPG 12.5 kg", size_kg="12.5")


@pytest.fixture
def depot():
    return f.warehouse(kind=Warehouse.Kind.DEPOT)


@pytest.fixture
def truck():
    return f.warehouse(kind=Warehouse.Kind.VEHICLE)


def leg(item, qty, *, warehouse=None, holder=None) -> dict:
    return {
        "item_id": item.pk,
        "warehouse_id": warehouse.pk if warehouse else None,
        "holder_id": holder.pk if holder else None,
        "qty_delta": qty,
    }


def snapshot(item, warehouse=None, holder=None) -> Decimal:
    row = Inventory.objects.filter(item=item, warehouse=warehouse, holder=holder).first()
    return row.usable_qty if row else D(0)


def written() -> tuple:
    return (
        LedgerEntry.objects.count(),
        AuditLog.objects.count(),
        Inventory.objects.count(),
        StockDocument.objects.count(),
        IdempotencyRecord.objects.count(),
    )


def test_every_kind_moves_its_snapshots_and_snapshot_equals_ledger_sum(seller, lpg, depot, truck):
    full, empty, cust = lpg.full_item, lpg.empty_item, f.customer()
    ledger_post(actor=seller, kind="LOAD", legs=[leg(full, 100, warehouse=depot)], idempotency_key="p1")
    ledger_post(
        actor=seller,
        kind="TRANSFER",
        legs=[leg(full, -30, warehouse=depot), leg(full, 30, warehouse=truck)],
        idempotency_key="p2",
    )
    ledger_post(
        actor=seller,
        kind="DELIVERY",
        legs=[leg(full, -10, warehouse=truck), leg(full, 10, holder=cust)],
        idempotency_key="p3",
    )
    ledger_post(
        actor=seller,
        kind="COLLECTION",
        legs=[leg(full, -4, holder=cust), leg(empty, 4, warehouse=truck)],
        idempotency_key="p4",
    )
    ledger_post(
        actor=seller,
        kind="RETURN",
        legs=[leg(empty, -4, warehouse=truck), leg(empty, 4, warehouse=depot)],
        idempotency_key="p5",
    )
    ledger_post(actor=seller, kind="DUMP", legs=[leg(empty, -1, warehouse=depot)], idempotency_key="p6")
    ledger_post(
        actor=seller, kind="ADJUSTMENT", legs=[leg(full, 2, warehouse=depot)], reason="count", idempotency_key="p7"
    )

    assert snapshot(full, depot) == 72 and snapshot(full, truck) == 20 and snapshot(full, holder=cust) == 6
    assert snapshot(empty, truck) == 0 and snapshot(empty, depot) == 3
    sums = LedgerEntry.objects.values("item", "warehouse", "holder").annotate(s=Sum("qty_delta"))
    assert len(sums) == Inventory.objects.count() == 5
    for row in sums:
        inv = Inventory.objects.get(item=row["item"], warehouse=row["warehouse"], holder=row["holder"])
        assert inv.usable_qty == row["s"]
    assert set(LedgerEntry.objects.values_list("kind", flat=True)) == {
        "LOAD",
        "TRANSFER",
        "DELIVERY",
        "COLLECTION",
        "RETURN",
        "DUMP",
        "ADJUSTMENT",
    }
    assert_invariants()


def test_transfer_depot_to_truck_is_one_document_with_two_legs(seller, lpg, depot, truck):
    full = lpg.full_item
    ledger_post(actor=seller, kind="LOAD", legs=[leg(full, 50, warehouse=depot)], idempotency_key="load")
    before = Inventory.objects.get(item=full, warehouse=depot).last_updated
    out = ledger_post(
        actor=seller,
        kind="TRANSFER",
        legs=[leg(full, -20, warehouse=depot), leg(full, 20, warehouse=truck)],
        idempotency_key="t1",
    )
    entries = LedgerEntry.objects.filter(doc_type="posting", doc_id=str(out["document_id"]))
    assert sorted(e.qty_delta for e in entries) == [D(-20), D(20)]
    assert {e.warehouse_id for e in entries} == {depot.pk, truck.pk}
    assert snapshot(full, depot) == 30 and snapshot(full, truck) == 20
    assert Inventory.objects.get(item=full, warehouse=depot).last_updated > before
    assert {(r["warehouse_id"], r["quantity"]) for r in out["inventory"]} == {
        (depot.pk, "30.000"),
        (truck.pk, "20.000"),
    }
    assert_invariants()


def test_transfer_legs_must_cancel_and_a_short_transfer_moves_neither_leg(seller, lpg, depot, truck):
    full = lpg.full_item
    ledger_post(actor=seller, kind="LOAD", legs=[leg(full, 5, warehouse=depot)], idempotency_key="load")
    with pytest.raises(ValidationError):
        ledger_post(actor=seller, kind="TRANSFER", legs=[leg(full, -2, warehouse=depot), leg(full, 3, warehouse=truck)])
    before = written()
    with pytest.raises(InsufficientStock):
        ledger_post(
            actor=seller,
            kind="TRANSFER",
            legs=[leg(full, -6, warehouse=depot), leg(full, 6, warehouse=truck)],
            idempotency_key="t-short",
        )
    assert written() == before
    assert snapshot(full, depot) == 5 and snapshot(full, truck) == 0
    assert_invariants()


def test_depot_keys_and_customer_held_keys_of_one_product_are_separate_rows(seller, lpg, depot):
    full, a, b = lpg.full_item, f.customer(), f.customer()
    ledger_post(actor=seller, kind="LOAD", legs=[leg(full, 10, warehouse=depot)], idempotency_key="k1")
    ledger_post(
        actor=seller,
        kind="DELIVERY",
        legs=[leg(full, -3, warehouse=depot), leg(full, 3, holder=a)],
        idempotency_key="k2",
    )
    ledger_post(
        actor=seller,
        kind="DELIVERY",
        legs=[leg(full, -2, warehouse=depot), leg(full, 2, holder=b)],
        idempotency_key="k3",
    )
    rows = {r.key: r for r in Inventory.objects.filter(item=full)}
    assert set(rows) == {f"{full.pk}:{depot.pk}:0", f"{full.pk}:0:{a.pk}", f"{full.pk}:0:{b.pk}"}
    assert rows[f"{full.pk}:{depot.pk}:0"].holder_id is None
    assert rows[f"{full.pk}:0:{a.pk}"].warehouse_id is None
    assert (snapshot(full, depot), snapshot(full, holder=a), snapshot(full, holder=b)) == (5, 3, 2)
    assert Inventory.objects.filter(item=full, warehouse__isnull=True).count() == 2
    assert_invariants()


def test_a_posting_that_would_go_negative_is_409_and_writes_nothing(seller, lpg, depot):
    full = lpg.full_item
    ledger_post(actor=seller, kind="LOAD", legs=[leg(full, 3, warehouse=depot)], idempotency_key="n1")
    before = written()
    with pytest.raises(InsufficientStock) as err:
        ledger_post(actor=seller, kind="DUMP", legs=[leg(full, -4, warehouse=depot)], idempotency_key="n2")
    assert err.value.status == 409 and err.value.code == "insufficient_stock"
    assert written() == before
    assert snapshot(full, depot) == 3
    assert_invariants()


def test_a_refused_posting_is_retried_later_with_the_same_key_and_then_succeeds(seller, lpg, depot):
    """The offline client keeps a refused posting queued: nothing was recorded under its key."""
    full = lpg.full_item
    dump = {"actor": seller, "kind": "DUMP", "legs": [leg(full, -2, warehouse=depot)], "idempotency_key": "queued-1"}
    with pytest.raises(InsufficientStock):
        ledger_post(**dump)
    assert not IdempotencyRecord.objects.filter(key="queued-1").exists()
    ledger_post(actor=seller, kind="LOAD", legs=[leg(full, 2, warehouse=depot)], idempotency_key="queued-0")
    out = ledger_post(**dump)
    assert snapshot(full, depot) == 0
    assert LedgerEntry.objects.filter(doc_id=str(out["document_id"]), kind="DUMP").count() == 1
    assert_invariants()


def test_retry_after_success_returns_the_first_result_and_writes_nothing(seller, lpg, depot):
    full = lpg.full_item
    first = ledger_post(actor=seller, kind="LOAD", legs=[leg(full, 7, warehouse=depot)], idempotency_key="same")
    before = written()
    again = ledger_post(actor=seller, kind="LOAD", legs=[leg(full, 7, warehouse=depot)], idempotency_key="same")
    assert again == first
    assert written() == before
    assert snapshot(full, depot) == 7
    with pytest.raises(Conflict) as err:
        ledger_post(actor=seller, kind="LOAD", legs=[leg(full, 8, warehouse=depot)], idempotency_key="same")
    assert err.value.code == "idempotency_key_reused"
    assert written() == before
    assert_invariants()


def test_adjustment_corrects_a_count_by_a_delta_with_a_reason(seller, lpg, depot):
    full = lpg.full_item
    ledger_post(actor=seller, kind="LOAD", legs=[leg(full, 10, warehouse=depot)], idempotency_key="a0")
    with pytest.raises(ValidationError) as err:
        ledger_post(actor=seller, kind="ADJUSTMENT", legs=[leg(full, -1, warehouse=depot)], reason=" ")
    assert "reason" in err.value.extra["fields"]
    ledger_post(
        actor=seller,
        kind="ADJUSTMENT",
        legs=[leg(full, -1, warehouse=depot)],
        reason="stock count 2026-03-01: 9 found",
        idempotency_key="a1",
    )
    entry = LedgerEntry.objects.get(kind="ADJUSTMENT")
    assert entry.reason.startswith("stock count") and entry.qty_delta == -1
    assert snapshot(full, depot) == 9
    assert_invariants()


def test_every_posting_is_audited_with_before_and_after(seller, lpg, depot, truck):
    full = lpg.full_item
    ledger_post(actor=seller, kind="LOAD", legs=[leg(full, 6, warehouse=depot)], idempotency_key="au1")
    ledger_post(
        actor=seller,
        kind="TRANSFER",
        legs=[leg(full, -2, warehouse=depot), leg(full, 2, warehouse=truck)],
        idempotency_key="au2",
    )
    rows = AuditLog.objects.filter(action="inventory.post", object_type="inventory").order_by("id")
    assert rows.count() == 3
    last_depot = [r for r in rows if r.object_id == str(Inventory.objects.get(item=full, warehouse=depot).pk)][-1]
    assert (last_depot.before["usable_qty"], last_depot.after["usable_qty"]) == ("6.000", "4.000")
    assert all(r.actor_id == seller.pk for r in rows)
    assert_invariants()


def test_cylinders_are_whole_and_batch_tracked_items_are_refused(seller, lpg, depot):
    with pytest.raises(ValidationError) as err:
        ledger_post(actor=seller, kind="LOAD", legs=[leg(lpg.full_item, "1.5", warehouse=depot)])
    assert "legs.0.qty_delta" in err.value.extra["fields"]
    with pytest.raises(ValidationError):
        ledger_post(actor=seller, kind="LOAD", legs=[leg(f.item(), 1, warehouse=depot)])
    assert LedgerEntry.objects.count() == 0
    assert_invariants()


@pytest.mark.parametrize("role", [Role.READER, Role.INVENTORY_CLERK, Role.LOGISTICS_OFFICER])
def test_only_sales_managers_and_admins_post(make_user, lpg, depot, role):
    with pytest.raises(PermissionDenied):
        ledger_post(actor=make_user(role), kind="LOAD", legs=[leg(lpg.full_item, 1, warehouse=depot)])
    assert LedgerEntry.objects.count() == 0
    assert_invariants()
