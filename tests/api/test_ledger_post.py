"""POST /api/v1/ledger/: LPG postings over HTTP, with the Idempotency-Key an offline client retries
with; GET on the same path is the stock app's ledger list."""

import pytest

from stockledger.catalog.models import Warehouse
from stockledger.core.models import IdempotencyRecord
from stockledger.core.roles import Role
from stockledger.sales.services import lpg_product_setup
from stockledger.stock.models import Inventory, LedgerEntry
from tests import factories as f
from tests.api.test_catalog_api import assert_error

pytestmark = pytest.mark.django_db
URL = "/api/v1/ledger/"


@pytest.fixture
def lpg(admin_user):
    return lpg_product_setup(actor=admin_user, code="lpg-12-5", name="LPG 12.5 kg", size_kg="12.5")


@pytest.fixture
def depot():
    return f.warehouse(kind=Warehouse.Kind.DEPOT)


@pytest.fixture
def seller(api_as):
    return api_as(Role.SALES)


def post(client, body, key="k-1"):
    headers = {"HTTP_IDEMPOTENCY_KEY": key} if key else {}
    return client.post(URL, body, format="json", **headers)


def load(item, warehouse, qty) -> dict:
    return {"kind": "LOAD", "legs": [{"item_id": item.pk, "warehouse_id": warehouse.pk, "qty_delta": str(qty)}]}


def test_a_load_is_201_with_the_snapshot_and_its_quantity(seller, lpg, depot):
    r = post(seller, load(lpg.full_item, depot, 12))
    assert r.status_code == 201, r.content
    body = r.json()
    assert len(body["entries"]) == 1
    (row,) = body["inventory"]
    assert (row["item_id"], row["warehouse_id"], row["holder_id"]) == (lpg.full_item_id, depot.pk, None)
    assert row["quantity"] == row["usable_qty"] == "12.000"


def test_transfer_depot_to_truck_and_delivery_to_a_customer(seller, lpg, depot):
    truck, cust = f.warehouse(kind=Warehouse.Kind.VEHICLE), f.customer()
    post(seller, load(lpg.full_item, depot, 10), key="a")
    legs = [
        {"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": "-6"},
        {"item_id": lpg.full_item_id, "warehouse_id": truck.pk, "qty_delta": "6"},
    ]
    assert post(seller, {"kind": "TRANSFER", "legs": legs}, key="b").status_code == 201
    legs = [
        {"item_id": lpg.full_item_id, "warehouse_id": truck.pk, "qty_delta": "-2"},
        {"item_id": lpg.full_item_id, "holder_id": cust.pk, "warehouse_id": None, "qty_delta": "2"},
    ]
    r = post(seller, {"kind": "DELIVERY", "legs": legs}, key="c")
    assert r.status_code == 201, r.content
    got = {(i["warehouse_id"], i["holder_id"]): i["quantity"] for i in r.json()["inventory"]}
    assert got == {(truck.pk, None): "4.000", (None, cust.pk): "2.000"}


def test_the_idempotency_key_is_required(seller, lpg, depot):
    body = assert_error(post(seller, load(lpg.full_item, depot, 1), key=None), 400, "idempotency_key_required")
    assert "Idempotency-Key" in body["extra"]["fields"]
    assert LedgerEntry.objects.count() == 0


def test_a_retry_returns_the_first_result_and_writes_nothing(seller, lpg, depot):
    first = post(seller, load(lpg.full_item, depot, 5), key="retry-me")
    entries = LedgerEntry.objects.count()
    again = post(seller, load(lpg.full_item, depot, 5), key="retry-me")
    assert again.status_code == 201 and again.json() == first.json()
    assert LedgerEntry.objects.count() == entries
    assert_error(post(seller, load(lpg.full_item, depot, 6), key="retry-me"), 409, "idempotency_key_reused")


def test_a_posting_that_would_go_negative_is_409_then_the_same_key_succeeds_later(seller, lpg, depot):
    dump = {"kind": "DUMP", "legs": [{"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": "-3"}]}
    body = assert_error(post(seller, dump, key="offline-7"), 409, "insufficient_stock")
    assert body["extra"]["lines"]
    assert LedgerEntry.objects.count() == 0 and Inventory.objects.filter(usable_qty__gt=0).count() == 0
    assert not IdempotencyRecord.objects.filter(key="offline-7").exists()
    post(seller, load(lpg.full_item, depot, 3), key="restock")
    assert post(seller, dump, key="offline-7").status_code == 201
    assert Inventory.objects.get(item=lpg.full_item, warehouse=depot).usable_qty == 0


@pytest.mark.parametrize(
    ("body", "field"),
    [
        ({"kind": "SALE"}, "kind"),
        ({"kind": "ADJUSTMENT"}, "reason"),
        ({"legs": []}, "legs"),
        ({"legs": [{"item_id": 1, "qty_delta": "x"}]}, "legs.0.qty_delta"),
        ({"legs": [{"item_id": 999999, "warehouse_id": 999999, "qty_delta": "1"}]}, "legs.0.item_id"),
    ],
)
def test_bad_postings_are_400_with_field_errors(seller, lpg, depot, body, field):
    r = post(seller, load(lpg.full_item, depot, 1) | body)
    assert field in assert_error(r, 400, "validation_error")["extra"]["fields"]
    assert LedgerEntry.objects.count() == 0


def test_anonymous_is_401_and_readers_are_403(api_as, lpg, depot):
    from rest_framework.test import APIClient

    assert_error(post(APIClient(), load(lpg.full_item, depot, 1)), 401, "not_authenticated")
    assert_error(post(api_as(Role.READER), load(lpg.full_item, depot, 1)), 403, "forbidden")
    assert LedgerEntry.objects.count() == 0


@pytest.mark.parametrize("method", ["put", "patch", "delete"])
def test_counts_are_never_overwritten_only_adjusted(seller, method):
    assert getattr(seller, method)(URL, {}, format="json").status_code == 405


def test_get_on_the_same_path_lists_the_ledger(seller, api_as, lpg, depot):
    post(seller, load(lpg.full_item, depot, 2))
    r = api_as(Role.READER).get(f"{URL}?item={lpg.full_item_id}")
    assert r.status_code == 200, r.content
    assert [(e["kind"], e["qty_delta"]) for e in r.json()["results"]] == [("LOAD", "2.000")]
