"""I7 on every backend: drift injected by SQL is reported by verify and repaired by recompute only
where it may be (transaction totals; invoice totals of GENERATED invoices only), audited per row."""

from decimal import Decimal

import pytest
from django.db import connection

from stockledger.catalog.models import Warehouse
from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.reconcile.services import recompute, verify
from stockledger.sales.models import Invoice, SalesTransaction
from stockledger.sales.services import invoice_pay, invoice_send, lpg_product_setup, sale_create
from stockledger.stock.services import ledger_post
from tests import factories as f
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def sale(make_user, admin_user):
    """sale(lines=[(kind, qty, price)]) -> (transaction, invoice), with stock enough for it."""
    seller = make_user(Role.SALES)
    lpg = lpg_product_setup(actor=admin_user, code="lpg-12-5", name="LPG 12.5 kg", size_kg="12.5")
    depot, cust = f.warehouse(kind=Warehouse.Kind.DEPOT), f.customer()
    ledger_post(
        actor=seller,
        kind="LOAD",
        legs=[{"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": 500}],
        idempotency_key="load",
    )

    def make(*lines):
        out = sale_create(
            actor=seller,
            customer_id=cust.pk,
            depot_id=depot.pk,
            lines=[{"product_id": lpg.pk, "kind": k, "quantity": q, "unit_price": p} for k, q, p in lines],
        )
        return SalesTransaction.objects.get(pk=out["sale_id"]), Invoice.objects.get(pk=out["invoice_id"])

    make.seller = seller
    return make


def sql(statement: str, params=()) -> None:
    with connection.cursor() as cur:
        cur.execute(statement, list(params))


def i7_drift() -> list[dict]:
    return sorted((d.as_dict() for d in verify(["I7"]).drift), key=lambda d: (d["object_type"], d["object_id"]))


def repairs(run) -> list[AuditLog]:
    return list(AuditLog.objects.filter(action="recompute.repair", job_id=str(run.pk)).order_by("object_type", "id"))


def test_a_clean_sales_history_has_no_drift_even_with_float_unfriendly_prices(sale):
    sale(("SALE", 3, "19.99"), ("REFILL", 7, "0.10"), ("SWAP", 1, "0.01"))
    sale(("SALE", 100, "33.33"))
    assert i7_drift() == []
    run = recompute(scope=["I7"])
    assert run.rows_changed == 0 and repairs(run) == []
    assert_invariants()


def test_a_wrong_transaction_total_is_reported_and_repaired_with_an_audit_row(sale):
    trx, inv = sale(("SALE", 3, "19.99"))
    other, _ = sale(("SALE", 1, "5.00"))
    sql("UPDATE sales_transaction SET total_amount = 1.00 WHERE id = %s", [trx.pk])
    drift = i7_drift()
    assert [(d["object_type"], d["object_id"], d["stored"], d["derived"]) for d in drift] == [
        ("sales_transaction", trx.pk, "1.00", "59.97")
    ]
    run = recompute(scope=["I7"], chunk_size=1)
    trx.refresh_from_db()
    assert trx.total_amount == D("59.97") and trx.version == 2 and trx.updated_at >= run.started_at
    other_before = other.updated_at
    other.refresh_from_db()
    assert (other.version, other.updated_at) == (1, other_before)  # only changed rows are written
    (row,) = repairs(run)
    assert (row.object_type, row.object_id, row.before["total_amount"], row.after["total_amount"]) == (
        "sales_transaction",
        str(trx.pk),
        "1.00",
        "59.97",
    )
    assert row.after["run"] == run.pk and run.summary["invariants"]["I7"]["changed"] == 1
    assert Invoice.objects.get(pk=inv.pk).version == 1  # its invoice was right all along
    again = recompute(scope=["I7"])
    assert again.rows_changed == 0 and repairs(again) == []
    assert_invariants()


def test_a_wrong_total_on_a_generated_invoice_is_repaired(sale):
    trx, inv = sale(("REFILL", 2, "12.50"))
    sql("UPDATE sales_invoice SET total_amount = 99.99 WHERE id = %s", [inv.pk])
    (d,) = i7_drift()
    assert (d["object_type"], d["stored"], d["derived"], d["repairable"]) == ("invoice", "99.99", "25.00", True)
    run = recompute(scope=["I7"])
    inv.refresh_from_db()
    assert (inv.total_amount, inv.version, inv.status) == (D("25.00"), 2, "GENERATED")
    (row,) = repairs(run)
    assert (row.object_type, row.before["total_amount"], row.after["total_amount"]) == ("invoice", "99.99", "25.00")
    assert_invariants()


@pytest.mark.parametrize("status", ["SENT", "PAID"])
def test_a_wrong_total_on_a_sent_or_paid_invoice_is_reported_never_rewritten(sale, status):
    trx, inv = sale(("SALE", 2, "40.00"))
    invoice_send(actor=sale.seller, invoice_id=inv.pk, version=1)
    if status == "PAID":
        invoice_pay(actor=sale.seller, invoice_id=inv.pk, version=2)
    sql("UPDATE sales_invoice SET total_amount = 70.00 WHERE id = %s", [inv.pk])
    inv.refresh_from_db()
    (d,) = i7_drift()
    assert (d["object_type"], d["repairable"]) == ("invoice", False) and "credit note" in d["note"]
    run = recompute(scope=["I7"])
    assert run.summary["invariants"]["I7"]["drift"] == 1 and run.rows_changed == 0
    assert Invoice.objects.get(pk=inv.pk).total_amount == D("70.00")
    assert Invoice.objects.get(pk=inv.pk).version == inv.version
    assert len(i7_drift()) == 1  # still reported
    sql("UPDATE sales_invoice SET total_amount = 80.00 WHERE id = %s", [inv.pk])  # the credit-note path
    assert_invariants()


def test_a_transaction_whose_line_items_were_deleted_is_set_to_zero_with_its_generated_invoice(sale):
    trx, inv = sale(("SALE", 2, "40.00"), ("SWAP", 1, "10.00"))
    sql("DELETE FROM sales_lineitem WHERE transaction_id = %s", [trx.pk])
    drift = i7_drift()
    assert {(d["object_type"], d["derived"]) for d in drift} == {("sales_transaction", "0.00"), ("invoice", "0.00")}
    run = recompute(scope=["I7"])
    trx.refresh_from_db()
    inv.refresh_from_db()
    assert (trx.total_amount, inv.total_amount) == (D("0.00"), D("0.00"))
    assert {(r.object_type, r.before["total_amount"], r.after["total_amount"]) for r in repairs(run)} == {
        ("sales_transaction", "90.00", "0.00"),
        ("invoice", "90.00", "0.00"),
    }
    assert_invariants()


def test_a_changed_line_on_a_sent_invoice_repairs_the_transaction_and_reports_the_invoice(sale):
    trx, inv = sale(("SALE", 2, "40.00"))
    invoice_send(actor=sale.seller, invoice_id=inv.pk, version=1)
    sql("UPDATE sales_lineitem SET unit_price = 45.00 WHERE transaction_id = %s", [trx.pk])
    run = recompute(scope=["I7"])
    trx.refresh_from_db()
    assert trx.total_amount == D("90.00")
    assert Invoice.objects.get(pk=inv.pk).total_amount == D("80.00")
    assert [r.object_type for r in repairs(run)] == ["sales_transaction"]
    (d,) = i7_drift()
    assert (d["object_type"], d["stored"], d["derived"], d["repairable"]) == ("invoice", "80.00", "90.00", False)
    sql("UPDATE sales_lineitem SET unit_price = 40.00 WHERE transaction_id = %s", [trx.pk])
    recompute(scope=["I7"])
    assert_invariants()


def test_a_dry_run_reports_and_writes_nothing(sale):
    trx, inv = sale(("SALE", 1, "10.00"))
    sql("UPDATE sales_transaction SET total_amount = 2.00 WHERE id = %s", [trx.pk])
    audits = AuditLog.objects.count()
    run = recompute(scope=["I7"], dry_run=True)
    assert run.summary["invariants"]["I7"]["would_change"] == 1
    assert SalesTransaction.objects.get(pk=trx.pk).total_amount == D("2.00")
    assert AuditLog.objects.count() == audits
    recompute(scope=["I7"])
    assert_invariants()


def test_many_chunks_each_hold_a_transaction_with_its_invoice(sale):
    made = [sale(("SALE", n, "1.10")) for n in range(1, 6)]
    for trx, inv in made:
        sql("UPDATE sales_transaction SET total_amount = 0 WHERE id = %s", [trx.pk])
        sql("UPDATE sales_invoice SET total_amount = 0 WHERE id = %s", [inv.pk])
    assert len(i7_drift()) == 10
    run = recompute(scope=["I7"], chunk_size=2)
    assert run.rows_changed == 10 and len(repairs(run)) == 10
    assert [t.total_amount for t in SalesTransaction.objects.order_by("pk")] == [D("1.10") * n for n in range(1, 6)]
    assert_invariants()
