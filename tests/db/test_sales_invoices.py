"""Invoice status on every backend: GENERATED → SENT → PAID, or VOID before paid; stale versions are
409; a void reverses the sale's ledger legs; every transition is audited and idempotent."""

from decimal import Decimal

import pytest

from stockledger.catalog.models import Warehouse
from stockledger.core.errors import Conflict, InsufficientStock, NotFound, StaleVersion, ValidationError
from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.sales.models import Invoice
from stockledger.sales.services import invoice_pay, invoice_send, invoice_void, lpg_product_setup, sale_create
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
def setup(seller, admin_user):
    lpg = lpg_product_setup(actor=admin_user, code="lpg-45", name="LPG 45 kg", size_kg="45")
    depot, cust = f.warehouse(kind=Warehouse.Kind.DEPOT), f.customer()
    ledger_post(
        actor=seller,
        kind="LOAD",
        legs=[{"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": 10}],
        idempotency_key="load",
    )
    return lpg, depot, cust


@pytest.fixture
def invoice(seller, setup) -> Invoice:
    lpg, depot, cust = setup
    out = sale_create(
        actor=seller,
        customer_id=cust.pk,
        depot_id=depot.pk,
        lines=[{"product_id": lpg.pk, "kind": "SALE", "quantity": 2, "unit_price": "80.00"}],
    )
    return Invoice.objects.get(pk=out["invoice_id"])


def fresh(inv: Invoice) -> Invoice:
    return Invoice.objects.get(pk=inv.pk)


def test_generated_sent_paid(seller, invoice):
    out = invoice_send(actor=seller, invoice_id=invoice.pk, version=1)
    assert (out["status"], out["version"]) == ("SENT", 2)
    out = invoice_pay(actor=seller, invoice_id=invoice.pk, version=2)
    inv = fresh(invoice)
    assert (inv.status, inv.version) == ("PAID", 3)
    assert inv.sent_at and inv.paid_at and inv.paid_at >= inv.sent_at and inv.updated_at == inv.paid_at
    assert list(
        AuditLog.objects.filter(object_type="invoice", object_id=str(inv.pk)).values_list("action", flat=True)
    ) == [
        "invoice.pay",
        "invoice.send",
        "invoice.create",
    ]
    paid = AuditLog.objects.get(action="invoice.pay")
    assert (paid.before["status"], paid.after["status"], paid.actor_id) == ("SENT", "PAID", seller.pk)
    assert_invariants()


def test_pay_needs_a_sent_invoice(seller, invoice):
    with pytest.raises(Conflict) as err:
        invoice_pay(actor=seller, invoice_id=invoice.pk, version=1)
    assert err.value.code == "invalid_status" and err.value.extra["allowed"] == ["send", "void"]
    assert fresh(invoice).status == "GENERATED"
    assert_invariants()


@pytest.mark.parametrize("sent", [False, True])
def test_void_before_paid_reverses_the_sales_ledger_legs(seller, setup, invoice, sent):
    lpg, depot, cust = setup
    if sent:
        invoice_send(actor=seller, invoice_id=invoice.pk, version=1)
    assert Inventory.objects.get(item=lpg.full_item, warehouse=depot).usable_qty == 8
    invoice_void(actor=seller, invoice_id=invoice.pk, version=fresh(invoice).version, reason="wrong customer")
    inv = fresh(invoice)
    assert (inv.status, inv.void_reason) == ("VOID", "wrong customer") and inv.voided_at
    assert Inventory.objects.get(item=lpg.full_item, warehouse=depot).usable_qty == 10
    assert Inventory.objects.get(item=lpg.full_item, holder=cust).usable_qty == 0
    sale_entries = LedgerEntry.objects.filter(doc_type="sale", doc_id=str(inv.transaction_id))
    reverts = LedgerEntry.objects.filter(doc_type="invoice_void", doc_id=str(inv.pk))
    assert {e.reverts_id for e in reverts} == {e.pk for e in sale_entries}
    assert all(r.kind == "REVERT" and r.qty_delta == -r.reverts.qty_delta for r in reverts)
    assert inv.total_amount == D("160.00")  # a void keeps its number and its amount
    assert_invariants()


def test_void_after_paid_is_refused(seller, invoice):
    invoice_send(actor=seller, invoice_id=invoice.pk, version=1)
    invoice_pay(actor=seller, invoice_id=invoice.pk, version=2)
    entries = LedgerEntry.objects.count()
    with pytest.raises(Conflict) as err:
        invoice_void(actor=seller, invoice_id=invoice.pk, version=3)
    assert err.value.code == "invalid_status" and "credit note" in err.value.message
    assert fresh(invoice).status == "PAID" and LedgerEntry.objects.count() == entries
    assert_invariants()


def test_void_is_refused_when_the_cylinders_have_moved_on(seller, setup, invoice):
    lpg, depot, cust = setup
    ledger_post(
        actor=seller,
        kind="COLLECTION",
        legs=[
            {"item_id": lpg.full_item_id, "holder_id": cust.pk, "qty_delta": -2},
            {"item_id": lpg.empty_item_id, "warehouse_id": depot.pk, "qty_delta": 2},
        ],
        idempotency_key="collect",
    )
    with pytest.raises(InsufficientStock) as err:
        invoice_void(actor=seller, invoice_id=invoice.pk, version=1)
    assert "moved" in err.value.message
    assert fresh(invoice).status == "GENERATED"
    assert_invariants()


def test_a_stale_version_is_409_and_changes_nothing(seller, invoice):
    invoice_send(actor=seller, invoice_id=invoice.pk, version=1)
    audits = AuditLog.objects.count()
    with pytest.raises(StaleVersion) as err:
        invoice_void(actor=seller, invoice_id=invoice.pk, version=1)
    assert err.value.status == 409 and err.value.extra["current_version"] == 2
    assert fresh(invoice).status == "SENT" and AuditLog.objects.count() == audits
    assert_invariants()


def test_version_is_required_and_unknown_invoices_are_404(seller, invoice):
    with pytest.raises(ValidationError):
        invoice_send(actor=seller, invoice_id=invoice.pk, version=None)
    with pytest.raises(NotFound):
        invoice_send(actor=seller, invoice_id=987654, version=1)
    assert_invariants()


def test_a_retried_transition_returns_the_first_result(seller, invoice):
    first = invoice_send(actor=seller, invoice_id=invoice.pk, version=1, idempotency_key="send-1")
    audits = AuditLog.objects.count()
    assert invoice_send(actor=seller, invoice_id=invoice.pk, version=1, idempotency_key="send-1") == first
    assert AuditLog.objects.count() == audits and fresh(invoice).version == 2
    assert_invariants()


def test_readers_cannot_change_invoices(make_user, invoice):
    from stockledger.core.errors import PermissionDenied

    with pytest.raises(PermissionDenied):
        invoice_send(actor=make_user(Role.READER), invoice_id=invoice.pk, version=1)
    assert fresh(invoice).status == "GENERATED"
    assert_invariants()
