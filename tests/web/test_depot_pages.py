"""Depot screens with Django's test client: cylinder stock, ledger postings, sales with line items and
their invoices (send, pay, void, stale version, print and PDF links)."""

import pytest

from stockledger.catalog.models import Warehouse
from stockledger.core.roles import Role
from stockledger.sales.models import Invoice, SalesTransaction
from stockledger.sales.services import lpg_product_setup
from stockledger.stock import services as stock
from stockledger.stock.models import Inventory
from tests import factories as f

from .builders import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def depot_world(make_user):
    admin, seller = make_user(Role.ADMIN), make_user(Role.SALES)
    lpg = lpg_product_setup(actor=admin, code="lpg-12-5", name="LPG 12.5 kg", size_kg="12.5")
    depot = f.warehouse(name="Harbour depot", kind=Warehouse.Kind.DEPOT)
    truck = f.warehouse(name="Truck 1", kind=Warehouse.Kind.VEHICLE)
    cust = f.customer(name="Hillside Bakery")
    stock.ledger_post(
        actor=admin, kind="LOAD", legs=[{"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": 20}]
    )
    return {"seller": seller, "lpg": lpg, "depot": depot, "truck": truck, "cust": cust}


def full_at(d, place) -> int:
    row = Inventory.objects.filter(item_id=d["lpg"].full_item_id, warehouse=place, holder=None).first()
    return row.usable_qty if row else 0


def text(response) -> str:
    return response.content.decode()


def test_depot_stock_lists_the_cylinder_snapshots(depot_world):
    page = text(client_for(depot_world["seller"]).get(f"/depot/?warehouse={depot_world['depot'].pk}"))
    assert "Harbour depot" in page and "LPG 12.5 kg full" in page and ">20<" in page


def test_a_transfer_posting_moves_cylinders_between_two_places(depot_world):
    d = depot_world
    c = client_for(d["seller"])
    assert "LPG 12.5 kg full" in text(c.get("/depot/ledger/"))
    response = c.post(
        "/depot/ledger/",
        {
            "kind": "TRANSFER",
            "leg-0-item": d["lpg"].full_item_id,
            "leg-0-warehouse": d["depot"].pk,
            "leg-0-qty": "-5",
            "leg-1-item": d["lpg"].full_item_id,
            "leg-1-warehouse": d["truck"].pk,
            "leg-1-qty": "5",
        },
    )
    assert response.status_code == 302 and response["Location"] == "/depot/ledger/"
    assert (full_at(d, d["depot"]), full_at(d, d["truck"])) == (15, 5)
    page = text(c.get("/depot/ledger/"))
    assert "Posting #" in page and "TRANSFER" in page


def test_a_posting_that_would_go_negative_is_refused_and_writes_nothing(depot_world, nothing_written):
    d = depot_world
    with nothing_written():
        response = client_for(d["seller"]).post(
            "/depot/ledger/",
            {"kind": "DUMP", "leg-0-item": d["lpg"].full_item_id, "leg-0-warehouse": d["depot"].pk, "leg-0-qty": "-50"},
        )
    assert response.status_code == 409 and 'role="alert"' in text(response)
    assert full_at(d, d["depot"]) == 20


def test_a_transfer_with_one_leg_is_refused_in_place(depot_world, nothing_written):
    d = depot_world
    with nothing_written():
        response = client_for(d["seller"]).post(
            "/depot/ledger/",
            {
                "kind": "TRANSFER",
                "leg-0-item": d["lpg"].full_item_id,
                "leg-0-warehouse": d["depot"].pk,
                "leg-0-qty": "-1",
            },
        )
    assert response.status_code == 400 and "two legs that cancel out" in text(response)


def test_leg_row_partial(depot_world):
    page = text(client_for(depot_world["seller"]).get("/depot/ledger/row/?n=2", HTTP_HX_REQUEST="true"))
    assert "<html" not in page and 'name="leg-2-qty"' in page and 'hx-swap-oob="true"' in page


def sale_form(d, **lines) -> dict:
    form = {"customer": d["cust"].pk, "depot": d["depot"].pk}
    form.update(
        {
            "line-0-product": d["lpg"].pk,
            "line-0-kind": "SALE",
            "line-0-quantity": "3",
            "line-0-unit_price": "24.50",
            "line-1-product": d["lpg"].pk,
            "line-1-kind": "REFILL",
            "line-1-quantity": "2",
            "line-1-unit_price": "18.00",
        }
    )
    form.update(lines)
    return form


def test_a_sale_with_line_items_issues_its_invoice(depot_world):
    d = depot_world
    c = client_for(d["seller"])
    response = c.post("/depot/sales/new/", sale_form(d))
    invoice = Invoice.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/depot/invoices/{invoice.pk}/"
    page = text(c.get(response["Location"]))
    assert invoice.number in page and "109.50" in page  # 3 × 24.50 + 2 × 18.00
    assert f"/api/v1/invoices/{invoice.pk}/print/" in page and f"/api/v1/invoices/{invoice.pk}/pdf/" in page
    assert full_at(d, d["depot"]) == 15


def test_a_sale_with_a_bad_price_is_refused_on_its_line(depot_world, nothing_written):
    d = depot_world
    with nothing_written():
        response = client_for(d["seller"]).post("/depot/sales/new/", sale_form(d, **{"line-1-unit_price": "1.234"}))
    page = text(response)
    assert response.status_code == 400 and "at most 2 decimal places" in page and 'class="line has-error"' in page
    assert not SalesTransaction.objects.exists() and not Invoice.objects.exists()


def test_sale_line_partial(depot_world):
    page = text(client_for(depot_world["seller"]).get("/depot/sales/row/?n=4", HTTP_HX_REQUEST="true"))
    assert "<html" not in page and 'name="line-4-unit_price"' in page and "LPG 12.5 kg" in page


def test_send_pay_and_the_open_invoices_filter(depot_world):
    d = depot_world
    c = client_for(d["seller"])
    c.post("/depot/sales/new/", sale_form(d))
    invoice = Invoice.objects.get()
    assert f">{invoice.number}</a>" in text(c.get("/depot/invoices/?status=open"))
    c.post(f"/depot/invoices/{invoice.pk}/send/", {"version": invoice.version})
    c.post(f"/depot/invoices/{invoice.pk}/pay/", {"version": invoice.version + 1})
    assert Invoice.objects.get().status == Invoice.Status.PAID
    assert f">{invoice.number}</a>" not in text(c.get("/depot/invoices/?status=open"))
    assert "Void this invoice" not in text(c.get(f"/depot/invoices/{invoice.pk}/"))


def test_an_invoice_action_from_a_stale_page_is_a_conflict(depot_world, nothing_written):
    d = depot_world
    c = client_for(d["seller"])
    c.post("/depot/sales/new/", sale_form(d))
    invoice = Invoice.objects.get()
    c.post(f"/depot/invoices/{invoice.pk}/send/", {"version": invoice.version})
    with nothing_written():
        response = c.post(f"/depot/invoices/{invoice.pk}/pay/", {"version": invoice.version})
    page = text(response)
    assert response.status_code == 409 and "was modified, please retry" in page
    assert f'href="/depot/invoices/{invoice.pk}/"' in page


def test_voiding_an_invoice_gives_the_cylinders_back(depot_world):
    d = depot_world
    c = client_for(d["seller"])
    c.post("/depot/sales/new/", sale_form(d))
    invoice = Invoice.objects.get()
    c.post(f"/depot/invoices/{invoice.pk}/void/", {"version": invoice.version, "reason": "wrong customer"})
    assert Invoice.objects.get().status == Invoice.Status.VOID
    assert full_at(d, d["depot"]) == 20


def test_sales_list(depot_world):
    d = depot_world
    c = client_for(d["seller"])
    c.post("/depot/sales/new/", sale_form(d))
    page = text(c.get("/depot/sales/"))
    assert SalesTransaction.objects.get().number in page and "Hillside Bakery" in page


def test_the_print_and_pdf_links_of_an_invoice_open(depot_world):
    d = depot_world
    c = client_for(d["seller"])
    c.post("/depot/sales/new/", sale_form(d))
    invoice = Invoice.objects.get()
    printed = c.get(f"/api/v1/invoices/{invoice.pk}/print/")
    pdf = c.get(f"/api/v1/invoices/{invoice.pk}/pdf/")
    assert printed.status_code == 200 and invoice.number in printed.content.decode()
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
