"""Sales on every backend: each line kind posts its ledger legs in the sale's transaction, totals are
Σ quantity × unit_price in Decimal, invoices are numbered gap-free per year, everything is audited."""

from datetime import datetime
from decimal import Decimal

import pytest
from django.utils import timezone

from stockledger.catalog.models import Warehouse
from stockledger.core.errors import InsufficientStock, PermissionDenied, ValidationError
from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.sales.models import Invoice, InvoiceCounter, LineItem, SalesTransaction
from stockledger.sales.services import LEGS_BY_KIND, lpg_product_setup, sale_create
from stockledger.stock.models import Inventory, LedgerEntry
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
def cust():
    return f.customer()


@pytest.fixture
def stocked(seller, lpg, depot, cust):
    """20 FULL at the depot, 5 FULL on the customer's site."""
    ledger_post(
        actor=seller,
        kind="LOAD",
        legs=[{"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": 25}],
        idempotency_key="stock-load",
    )
    ledger_post(
        actor=seller,
        kind="DELIVERY",
        legs=[
            {"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": -5},
            {"item_id": lpg.full_item_id, "holder_id": cust.pk, "qty_delta": 5},
        ],
        idempotency_key="stock-delivery",
    )


def qty(item, warehouse=None, holder=None) -> Decimal:
    row = Inventory.objects.filter(item=item, warehouse=warehouse, holder=holder).first()
    return row.usable_qty if row else D(0)


def places(lpg, depot, cust) -> dict:
    return {
        "depot FULL": qty(lpg.full_item, depot),
        "depot EMPTY": qty(lpg.empty_item, depot),
        "customer FULL": qty(lpg.full_item, holder=cust),
        "customer EMPTY": qty(lpg.empty_item, holder=cust),
    }


def sell(actor, lpg, depot, cust, *lines, key=None):
    return sale_create(
        actor=actor,
        customer_id=cust.pk,
        depot_id=depot.pk,
        lines=[{"product_id": lpg.pk, "kind": k, "quantity": q, "unit_price": p} for k, q, p in lines],
        idempotency_key=key,
    )


EXPECTED = {  # the table of docs/sales.md, as movements of 3 cylinders
    "SALE": {"depot FULL": -3, "customer FULL": +3},
    "REFILL": {"depot FULL": -3, "depot EMPTY": +3},
    "SWAP": {"depot FULL": -3, "depot EMPTY": +3},
    "RETURN": {"customer FULL": -3, "depot EMPTY": +3},
}


@pytest.mark.parametrize("kind", ["SALE", "REFILL", "SWAP", "RETURN"])
def test_each_line_kind_posts_its_ledger_legs(seller, lpg, depot, cust, stocked, kind):
    before = places(lpg, depot, cust)
    out = sell(seller, lpg, depot, cust, (kind, 3, "10.00"))
    after = places(lpg, depot, cust)
    moved = {k: after[k] - before[k] for k in after if after[k] != before[k]}
    assert moved == EXPECTED[kind]
    entries = LedgerEntry.objects.filter(doc_type="sale", doc_id=str(out["sale_id"])).order_by("id")
    assert sorted(out["ledger_entries"]) == [e.pk for e in entries]
    assert len(entries) == len(LEGS_BY_KIND[kind]) == 2
    assert {e.kind for e in entries} == {"SALE"}
    assert all(e.holder_id in (None, cust.pk) and (e.warehouse_id is None) != (e.holder_id is None) for e in entries)
    assert_invariants()


def test_a_sale_from_a_truck_moves_the_trucks_stock(seller, lpg, cust):
    truck = f.warehouse(kind=Warehouse.Kind.VEHICLE)
    ledger_post(
        actor=seller,
        kind="LOAD",
        legs=[{"item_id": lpg.full_item_id, "warehouse_id": truck.pk, "qty_delta": 4}],
        idempotency_key="truck-load",
    )
    sell(seller, lpg, truck, cust, ("SALE", 4, "20.00"))
    assert qty(lpg.full_item, truck) == 0 and qty(lpg.full_item, holder=cust) == 4
    assert_invariants()


def test_total_is_sum_of_quantity_times_unit_price_in_decimal(seller, lpg, depot, cust, stocked):
    out = sell(seller, lpg, depot, cust, ("SALE", 3, "19.99"), ("REFILL", 7, "0.10"), ("RETURN", 1, "0"))
    trx = SalesTransaction.objects.get(pk=out["sale_id"])
    assert trx.total_amount == D("59.97") + D("0.70") == D("60.67")
    assert out["total_amount"] == "60.67"
    assert sum(line.amount for line in trx.lines.all()) == trx.total_amount
    assert Invoice.objects.get(transaction=trx).total_amount == trx.total_amount
    assert list(trx.lines.values_list("position", "kind", "quantity")) == [
        (1, "SALE", 3),
        (2, "REFILL", 7),
        (3, "RETURN", 1),
    ]
    assert_invariants()


def test_invoice_is_generated_with_the_next_number_of_the_year(seller, lpg, depot, cust, stocked):
    year = timezone.localdate().year
    a = sell(seller, lpg, depot, cust, ("SALE", 1, "10.00"))
    b = sell(seller, lpg, depot, cust, ("REFILL", 1, "10.00"))
    assert (a["invoice_number"], b["invoice_number"]) == (f"INV-{year}-000001", f"INV-{year}-000002")
    assert a["number"] == f"TRX-{year}-000001"
    inv = Invoice.objects.get(pk=b["invoice_id"])
    assert (inv.status, inv.year, inv.seq, inv.version) == ("GENERATED", year, 2, 1)
    assert InvoiceCounter.objects.get(year=year).last_number == 2
    assert_invariants()


def test_a_failed_sale_does_not_consume_an_invoice_number(seller, lpg, depot, cust, stocked):
    year = timezone.localdate().year
    sell(seller, lpg, depot, cust, ("SALE", 1, "10.00"))
    rows = (SalesTransaction.objects.count(), LineItem.objects.count(), LedgerEntry.objects.count())
    with pytest.raises(InsufficientStock):
        sell(seller, lpg, depot, cust, ("SALE", 1, "10.00"), ("REFILL", 500, "10.00"))
    assert (SalesTransaction.objects.count(), LineItem.objects.count(), LedgerEntry.objects.count()) == rows
    assert InvoiceCounter.objects.get(year=year).last_number == 1
    nxt = sell(seller, lpg, depot, cust, ("SALE", 1, "10.00"))
    assert nxt["invoice_number"] == f"INV-{year}-000002"
    seqs = sorted(Invoice.objects.filter(year=year).values_list("seq", flat=True))
    assert seqs == list(range(1, len(seqs) + 1))
    assert_invariants()


def test_numbering_restarts_each_year(seller, lpg, depot, cust, stocked, monkeypatch):
    from stockledger.sales.services import sales as sales_module

    sell(seller, lpg, depot, cust, ("SALE", 1, "10.00"))
    next_year = timezone.localdate().year + 1
    later = timezone.make_aware(datetime(next_year, 1, 2, 9, 0))
    monkeypatch.setattr(sales_module.timezone, "now", lambda: later)
    out = sell(seller, lpg, depot, cust, ("SALE", 1, "10.00"))
    assert out["invoice_number"] == f"INV-{next_year}-000001"
    assert Invoice.objects.get(pk=out["invoice_id"]).year == next_year
    assert_invariants()


def test_retry_of_a_sale_returns_the_first_result_and_writes_nothing(seller, lpg, depot, cust, stocked):
    first = sell(seller, lpg, depot, cust, ("SALE", 2, "12.50"), key="sale-1")
    counts = (SalesTransaction.objects.count(), LedgerEntry.objects.count(), AuditLog.objects.count())
    again = sell(seller, lpg, depot, cust, ("SALE", 2, "12.50"), key="sale-1")
    assert again == first
    assert (SalesTransaction.objects.count(), LedgerEntry.objects.count(), AuditLog.objects.count()) == counts
    assert_invariants()


@pytest.mark.parametrize(
    ("line", "field"),
    [
        ({"kind": "GIFT"}, "lines.0.kind"),
        ({"quantity": 0}, "lines.0.quantity"),
        ({"quantity": "1.5"}, "lines.0.quantity"),
        ({"unit_price": "-1"}, "lines.0.unit_price"),
        ({"unit_price": "1.005"}, "lines.0.unit_price"),
        ({"product_id": 999999}, "lines.0.product_id"),
    ],
)
def test_bad_lines_are_400_listing_the_field_and_write_nothing(seller, lpg, depot, cust, stocked, line, field):
    raw = {"product_id": lpg.pk, "kind": "SALE", "quantity": 1, "unit_price": "10.00"} | line
    counter = InvoiceCounter.objects.count()
    with pytest.raises(ValidationError) as err:
        sale_create(actor=seller, customer_id=cust.pk, depot_id=depot.pk, lines=[raw])
    assert field in err.value.extra["fields"]
    assert SalesTransaction.objects.count() == 0 and InvoiceCounter.objects.count() == counter
    assert_invariants()


def test_a_sale_needs_a_depot_or_truck_and_a_customer(seller, lpg, cust):
    relief = f.warehouse(kind=Warehouse.Kind.WAREHOUSE)
    with pytest.raises(ValidationError) as err:
        sale_create(actor=seller, customer_id=None, depot_id=relief.pk, lines=[])
    assert set(err.value.extra["fields"]) == {"customer_id", "depot_id", "lines"}
    assert_invariants()


def test_roles_and_depot_assignment_are_enforced(make_user, lpg, depot, cust, stocked):
    with pytest.raises(PermissionDenied):
        sell(make_user(Role.READER), lpg, depot, cust, ("SALE", 1, "1.00"))
    elsewhere = make_user(Role.SALES, warehouses=[f.warehouse(kind=Warehouse.Kind.DEPOT)])
    with pytest.raises(PermissionDenied) as err:
        sell(elsewhere, lpg, depot, cust, ("SALE", 1, "1.00"))
    assert err.value.code == "warehouse_not_assigned"
    assert SalesTransaction.objects.count() == 0
    assert_invariants()


def test_a_sale_is_audited_with_its_invoice_and_inventory_rows(seller, lpg, depot, cust, stocked):
    out = sell(seller, lpg, depot, cust, ("SALE", 2, "15.00"))
    sale = AuditLog.objects.get(action="sale.create", object_id=str(out["sale_id"]))
    assert sale.after["total_amount"] == "30.00" and sale.after["lines"][0]["kind"] == "SALE"
    assert sale.actor_id == seller.pk
    assert AuditLog.objects.filter(action="invoice.create", object_id=str(out["invoice_id"])).count() == 1
    assert AuditLog.objects.filter(action="inventory.sale", object_type="inventory").count() == 2
    assert_invariants()


def test_the_demo_loads_once_and_a_second_run_writes_nothing(admin_user):
    from stockledger.sales import demo

    assert "sales with invoices" in demo.load(admin_user)
    counts = (LedgerEntry.objects.count(), AuditLog.objects.count(), SalesTransaction.objects.count())
    assert demo.load(admin_user) is None
    assert (LedgerEntry.objects.count(), AuditLog.objects.count(), SalesTransaction.objects.count()) == counts
    assert set(Invoice.objects.values_list("status", flat=True)) == {"PAID", "SENT", "GENERATED"}
    assert Inventory.objects.filter(holder__isnull=False, usable_qty__gt=0).count() >= 2
    assert Warehouse.objects.filter(kind=Warehouse.Kind.VEHICLE, code="truck-1").exists()
    assert_invariants()
