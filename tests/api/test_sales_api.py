"""Sales API: sales, invoices (status, print, PDF), depot stock, LPG products, the schema."""

from decimal import Decimal

import pytest

from stockledger.catalog.models import Warehouse
from stockledger.core.roles import Role
from stockledger.sales.models import Invoice, SalesTransaction
from stockledger.sales.services import lpg_product_setup
from stockledger.stock.services import ledger_post
from tests import factories as f
from tests.api.test_catalog_api import assert_error

pytestmark = pytest.mark.django_db


@pytest.fixture
def world(admin_user, make_user):
    lpg = lpg_product_setup(actor=admin_user, code="lpg-12-5", name="LPG 12.5 kg", size_kg="12.5")
    depot, cust = f.warehouse(kind=Warehouse.Kind.DEPOT), f.customer()
    ledger_post(
        actor=admin_user,
        kind="LOAD",
        legs=[{"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": 10}],
        idempotency_key="load",
    )
    return lpg, depot, cust


@pytest.fixture
def seller(api_as):
    return api_as(Role.SALES)


def sale_body(world, *lines) -> dict:
    lpg, depot, cust = world
    return {
        "customer_id": cust.pk,
        "depot_id": depot.pk,
        "note": "counter sale",
        "lines": [{"product_id": lpg.pk, "kind": k, "quantity": q, "unit_price": p} for k, q, p in lines],
    }


def create(client, world, *lines, key=None):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post("/api/v1/sales/", sale_body(world, *lines), format="json", **headers)


def test_create_a_sale_then_read_it_back(seller, world, api_as):
    r = create(seller, world, ("SALE", 2, "19.99"), ("REFILL", 1, "9.50"))
    assert r.status_code == 201, r.content
    sale = r.json()
    assert sale["total_amount"] == "49.48" and sale["number"].startswith("TRX-")
    assert [(ln["kind"], ln["quantity"], ln["unit_price"], ln["amount"]) for ln in sale["lines"]] == [
        ("SALE", 2, "19.99", "39.98"),
        ("REFILL", 1, "9.50", "9.50"),
    ]
    assert sale["invoice"]["status"] == "GENERATED" and sale["invoice"]["total_amount"] == "49.48"
    reader = api_as(Role.READER)
    assert reader.get(f"/api/v1/sales/{sale['id']}/").json() == sale
    listed = reader.get(f"/api/v1/sales/?customer={world[2].pk}").json()
    assert [s["id"] for s in listed["results"]] == [sale["id"]]


def test_a_retried_sale_returns_the_same_sale(seller, world):
    a = create(seller, world, ("SALE", 1, "10.00"), key="sale-key")
    b = create(seller, world, ("SALE", 1, "10.00"), key="sale-key")
    assert b.status_code == 201 and b.json()["id"] == a.json()["id"]
    assert SalesTransaction.objects.count() == 1


def test_sale_errors(seller, world, api_as):
    r = create(seller, world, ("SALE", "1.5", "10.00"), ("GIFT", 1, "10.001"))
    fields = assert_error(r, 400, "validation_error")["extra"]["fields"]
    assert {"lines.0.quantity", "lines.1.kind", "lines.1.unit_price"} <= set(fields)
    body = assert_error(create(seller, world, ("SALE", 11, "10.00")), 409, "insufficient_stock")
    assert body["extra"]["lines"]
    assert_error(create(api_as(Role.READER), world, ("SALE", 1, "1.00")), 403, "forbidden")
    assert_error(seller.get("/api/v1/sales/999999/"), 404, "not_found")
    assert SalesTransaction.objects.count() == 0


def test_invoice_transitions_over_http(seller, world):
    invoice = create(seller, world, ("SALE", 1, "10.00")).json()["invoice"]
    url = f"/api/v1/invoices/{invoice['id']}"
    assert_error(seller.post(f"{url}/send/", {}, format="json"), 400, "validation_error")
    r = seller.post(f"{url}/send/", {"version": 1}, format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["version"], r.json()["allowed_actions"]) == ("SENT", 2, ["pay", "void"])
    assert_error(seller.post(f"{url}/pay/", {"version": 1}, format="json"), 409, "stale_version")
    assert seller.post(f"{url}/pay/", {"version": 2}, format="json").json()["status"] == "PAID"
    body = assert_error(seller.post(f"{url}/void/", {"version": 3}, format="json"), 409, "invalid_status")
    assert body["extra"]["status"] == "PAID"
    assert_error(seller.post("/api/v1/invoices/999999/send/", {"version": 1}, format="json"), 404, "not_found")


def test_void_over_http_reverses_the_stock(seller, world):
    lpg, depot, _ = world
    invoice = create(seller, world, ("SALE", 4, "10.00")).json()["invoice"]
    r = seller.post(f"/api/v1/invoices/{invoice['id']}/void/", {"version": 1, "reason": "typo"}, format="json")
    assert r.status_code == 200, r.content
    assert (r.json()["status"], r.json()["void_reason"]) == ("VOID", "typo")
    stock = seller.get(f"/api/v1/depot-stock/?warehouse={depot.pk}&item={lpg.full_item_id}").json()["results"]
    assert [s["quantity"] for s in stock] == ["10.000"]


def test_invoice_list_filters_and_detail(seller, world, api_as):
    a = create(seller, world, ("SALE", 1, "10.00")).json()["invoice"]
    create(seller, world, ("REFILL", 1, "5.00"))
    seller.post(f"/api/v1/invoices/{a['id']}/send/", {"version": 1}, format="json")
    reader = api_as(Role.READER)
    sent = reader.get("/api/v1/invoices/?status=SENT").json()
    assert [i["id"] for i in sent["results"]] == [a["id"]]
    detail = reader.get(f"/api/v1/invoices/{a['id']}/").json()
    assert detail["number"] == a["number"] and detail["lines"][0]["kind"] == "SALE"
    assert detail["customer"] == world[2].pk


def test_printable_html_and_pdf(seller, world):
    invoice = create(seller, world, ("SALE", 2, "12.50")).json()["invoice"]
    html = seller.get(f"/api/v1/invoices/{invoice['id']}/print/", HTTP_ACCEPT="text/html")
    assert html.status_code == 200 and html["Content-Type"].startswith("text/html")
    text = html.content.decode()
    assert invoice["number"] in text and "25.00" in text and "LPG 12.5 kg" in text
    pdf = seller.get(f"/api/v1/invoices/{invoice['id']}/pdf/")
    assert pdf.status_code == 200 and pdf["Content-Type"] == "application/pdf"
    assert pdf.content.startswith(b"%PDF") and len(pdf.content) > 1000
    assert seller.get("/api/v1/invoices/999999/pdf/").status_code == 404
    assert seller.get("/api/v1/invoices/999999/print/", HTTP_ACCEPT="application/json").status_code == 404


def test_depot_stock_filters_null_safe_keys(seller, world, api_as):
    lpg, depot, cust = world
    create(seller, world, ("SALE", 3, "10.00"))
    reader = api_as(Role.READER)
    at_depot = reader.get(f"/api/v1/depot-stock/?warehouse={depot.pk}").json()["results"]
    assert [(r["item"], r["quantity"], r["cylinder_state"]) for r in at_depot] == [(lpg.full_item_id, "7.000", "FULL")]
    at_cust = reader.get(f"/api/v1/depot-stock/?holder={cust.pk}&warehouse=none").json()["results"]
    assert [(r["warehouse"], r["holder"], r["quantity"], r["lpg_product_id"]) for r in at_cust] == [
        (None, cust.pk, "3.000", lpg.pk)
    ]
    not_customer = reader.get("/api/v1/depot-stock/?holder=none").json()["results"]
    assert {r["holder"] for r in not_customer} == {None}
    by_product = reader.get(f"/api/v1/depot-stock/?product={lpg.pk}").json()
    assert by_product["count"] == 2


def test_lpg_products_are_listed_and_created_by_managers(api_as, world):
    lpg = world[0]
    reader = api_as(Role.READER)
    assert [p["code"] for p in reader.get("/api/v1/lpg-products/").json()["results"]] == [lpg.code]
    full, empty = f.item(f.product_type(batch_tracked=False)), f.item(f.product_type(batch_tracked=False))
    body = {"code": "lpg-45", "name": "LPG 45 kg", "size_kg": "45", "full_item_id": full.pk, "empty_item_id": empty.pk}
    assert_error(api_as(Role.SALES).post("/api/v1/lpg-products/", body, format="json"), 403, "forbidden")
    r = api_as(Role.LOGISTICS_MANAGER).post("/api/v1/lpg-products/", body, format="json")
    assert r.status_code == 201, r.content
    assert Decimal(r.json()["size_kg"]) == 45
    again = api_as(Role.ADMIN).post("/api/v1/lpg-products/", body | {"code": "lpg-45b"}, format="json")
    assert "full_item_id" in assert_error(again, 400, "validation_error")["extra"]["fields"]


def test_an_lpg_item_id_too_large_for_the_database_is_a_400_not_a_500(api_as):
    # Found by tests/api/test_schemathesis.py: the id reached the query and the driver overflowed.
    body = {"code": "lpg-x", "name": "x", "size_kg": "5", "full_item_id": 2**70, "empty_item_id": 1}
    r = api_as(Role.ADMIN).post("/api/v1/lpg-products/", body, format="json")
    assert "full_item_id" in assert_error(r, 400, "validation_error")["extra"]["fields"]


def test_an_id_filter_too_large_for_the_database_is_refused_or_matches_nothing(seller, world):
    # Found by tests/api/test_schemathesis.py: the value reached the query and SQLite's driver overflowed.
    r = seller.get("/api/v1/invoices/", {"depot": 2**70})
    assert "depot" in assert_error(r, 400, "validation_error")["extra"]["fields"]
    r = seller.get("/api/v1/depot-stock/", {"warehouse": 2**70})
    assert r.status_code == 200 and r.json()["count"] == 0


@pytest.mark.parametrize(("suffix", "fmt"), [("pdf/", "pdf"), ("print/", "html")])
def test_an_invoice_document_error_is_json_whatever_format_is_asked_for(seller, suffix, fmt):
    # Found by tests/api/test_schemathesis.py: ?format=pdf sent the 404 body labelled application/pdf,
    # and ?format=html sent a bare "404 Not Found" page instead of the error body.
    r = seller.get(f"/api/v1/invoices/999999/{suffix}", {"format": fmt})
    assert r["Content-Type"] == "application/json"
    assert_error(r, 404, "not_found")


def test_the_schema_describes_requests_and_responses(api_as):
    schema = api_as(Role.READER).get("/api/v1/schema/?format=json").json()
    paths = schema["paths"]
    post = paths["/api/v1/ledger/"]["post"]
    assert post["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("LedgerPostRequest")
    assert "201" in post["responses"] and "get" in paths["/api/v1/ledger/"]
    assert any(p["name"] == "Idempotency-Key" and p["required"] for p in post["parameters"])
    assert "requestBody" in paths["/api/v1/sales/"]["post"]
    assert "application/pdf" in paths["/api/v1/invoices/{id}/pdf/"]["get"]["responses"]["200"]["content"]
    assert "text/html" in paths["/api/v1/invoices/{id}/print/"]["get"]["responses"]["200"]["content"]
    for p in ("/api/v1/invoices/{id}/send/", "/api/v1/invoices/{id}/void/", "/api/v1/depot-stock/"):
        assert p in paths
    assert "quantity" in schema["components"]["schemas"]["DepotStock"]["properties"]
    assert Invoice.objects.count() == 0


@pytest.mark.parametrize("url", ["/api/v1/sales/", "/api/v1/invoices/", "/api/v1/depot-stock/"])
def test_list_pages_cost_the_same_queries_for_one_row_or_many(seller, world, api_as, url):
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    reader = api_as(Role.READER)
    create(seller, world, ("SALE", 1, "10.00"))
    reader.get(url)  # warm the reader's role cache
    with CaptureQueriesContext(connection) as one:
        assert reader.get(url).status_code == 200
    for _ in range(3):
        create(seller, world, ("SALE", 1, "10.00"), ("REFILL", 1, "5.00"))
    lpg, depot, _ = world
    other = f.customer()
    ledger_post(
        actor=seller.user,
        kind="DELIVERY",
        legs=[
            {"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": -1},
            {"item_id": lpg.full_item_id, "holder_id": other.pk, "qty_delta": 1},
        ],
        idempotency_key="more-rows",
    )
    with CaptureQueriesContext(connection) as many:
        assert reader.get(url).status_code == 200
    assert len(many) == len(one), [q["sql"] for q in many]
