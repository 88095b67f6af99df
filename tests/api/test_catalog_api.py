"""Catalog API: error shape and status for 400/401/403/404/409, role enforcement, audit."""

import json

import pytest
from rest_framework.test import APIClient

from stockledger.catalog.models import Item, ProductType
from stockledger.core.models import AuditLog
from stockledger.core.roles import Role

pytestmark = pytest.mark.django_db


@pytest.fixture
def hdpe(db):
    return ProductType.objects.create(
        code="hdpe-test",
        name="HDPE test",
        base_unit="metre",
        unit_decimals=3,
        has_stock_forms=True,
        attribute_schema=[
            {"name": "OD", "type": "number", "required": True},
            {"name": "PN", "type": "number", "required": True},
            {"name": "brand", "type": "text", "required": False},
        ],
    )


def assert_error(resp, status, code):
    assert resp.status_code == status, resp.content
    body = resp.json()
    assert set(body) == {"code", "message", "extra"}
    assert body["code"] == code
    assert body["message"]
    return body


def test_anonymous_gets_401_with_error_shape():
    assert_error(APIClient().get("/api/v1/items/"), 401, "not_authenticated")


def test_unknown_item_is_404(api_as):
    assert_error(api_as(Role.READER).get("/api/v1/items/999999/"), 404, "not_found")


def test_an_api_url_that_matches_no_route_is_a_json_404(api_as, client):
    # Found by tests/api/test_schemathesis.py: a non-numeric id (or any unknown API path) got Django's
    # HTML 404 page instead of the API's error body. The rest of the site keeps its HTML page.
    reader = api_as(Role.READER)
    for url in ("/api/v1/items/abc/", "/api/v1/dispatches/x1/close/", "/api/v1/no-such-thing/"):
        resp = reader.get(url)
        assert resp["Content-Type"] == "application/json", url
        assert_error(resp, 404, "not_found")
    assert client.get("/no-such-page/").status_code == 404
    assert not client.get("/no-such-page/")["Content-Type"].startswith("application/json")


def test_the_schema_documents_each_error_status_with_the_error_body(api_as):
    schema = api_as(Role.READER).get("/api/v1/schema/?format=json").json()
    components, paths = schema["components"]["schemas"], schema["paths"]
    for item in paths.values():
        for op in item.values():
            for status, response in op["responses"].items():
                if status.startswith("4"):
                    ref = response["content"]["application/json"]["schema"]["$ref"]
                    assert set(components[ref.split("/")[-1]]["required"]) == {"code", "message", "extra"}
    assert {"401", "403", "404"} <= set(paths["/api/v1/items/{id}/"]["get"]["responses"])
    assert {"400", "401", "403", "404", "409", "415"} <= set(paths["/api/v1/items/"]["post"]["responses"])
    assert "409" not in paths["/api/v1/items/"]["get"]["responses"]


def test_reader_cannot_create_an_item(api_as, hdpe):
    before = AuditLog.objects.count()
    resp = api_as(Role.READER).post(
        "/api/v1/items/",
        {"product_type": hdpe.code, "sku": "X1", "attributes": {"OD": 110, "PN": 8}},
        format="json",
    )
    assert_error(resp, 403, "forbidden")
    assert not Item.objects.filter(sku="X1").exists()
    assert AuditLog.objects.count() == before


@pytest.mark.parametrize("fmt", ["json", "multipart"])
@pytest.mark.parametrize("field", ["product_type", "sku", "attributes"])
def test_a_nul_character_in_the_body_is_a_400_not_a_500(api_as, hdpe, fmt, field):
    # Found by tests/api/test_schemathesis.py on PostgreSQL, which refuses NUL in text: a product type
    # code with NUL went from the serializer's lookup to the database (a 500).
    payload = {"product_type": hdpe.code, "sku": "X0", "attributes": {"OD": 110, "PN": 8}}
    payload[field] = {"OD": 110, "PN": 8, "brand": "a\x00b"} if field == "attributes" else "a\x00b"
    if fmt == "multipart":
        payload["attributes"] = json.dumps(payload["attributes"])
    resp = api_as(Role.LOGISTICS_MANAGER).post("/api/v1/items/", payload, format=fmt)
    assert resp.status_code == 400, resp.content
    assert set(resp.json()) == {"code", "message", "extra"}
    assert not Item.objects.filter(sku="X0").exists()


def test_clerk_cannot_create_an_item_but_manager_can(api_as, hdpe):
    payload = {"product_type": hdpe.code, "sku": "X2", "attributes": {"OD": "110.0", "PN": 8}}
    assert_error(api_as(Role.INVENTORY_CLERK).post("/api/v1/items/", payload, format="json"), 403, "forbidden")
    resp = api_as(Role.LOGISTICS_MANAGER).post("/api/v1/items/", payload, format="json")
    assert resp.status_code == 201, resp.content
    assert resp.json()["attributes"] == {"OD": "110", "PN": "8"}


def test_unknown_and_missing_attributes_are_400_with_field_errors(api_as, hdpe):
    resp = api_as().post(
        "/api/v1/items/",
        {"product_type": hdpe.code, "sku": "X3", "attributes": {"OD": "abc", "colour": "red"}},
        format="json",
    )
    body = assert_error(resp, 400, "validation_error")
    fields = body["extra"]["fields"]
    assert "attributes.colour" in fields and "attributes.PN" in fields and "attributes.OD" in fields
    assert not Item.objects.filter(sku="X3").exists()


def test_duplicate_variant_is_400(api_as, hdpe):
    client = api_as()
    ok = client.post(
        "/api/v1/items/",
        {"product_type": hdpe.code, "sku": "A", "attributes": {"OD": 20, "PN": 6}},
        format="json",
    )
    assert ok.status_code == 201
    dup = client.post(
        "/api/v1/items/",
        {"product_type": hdpe.code, "sku": "B", "attributes": {"OD": "20.00", "PN": 6}},
        format="json",
    )
    body = assert_error(dup, 400, "duplicate")
    assert "attributes" in body["extra"]["fields"]


def test_malformed_request_body_is_400(api_as):
    resp = api_as().post("/api/v1/warehouses/", {"name": "no code"}, format="json")
    body = assert_error(resp, 400, "validation_error")
    assert "code" in body["extra"]["fields"]


def test_stale_version_update_is_409_and_changes_nothing(api_as):
    client = api_as()
    wh = client.post("/api/v1/warehouses/", {"code": "wh-a", "name": "A"}, format="json").json()
    first = client.patch(f"/api/v1/warehouses/{wh['id']}/", {"name": "A1", "version": wh["version"]}, format="json")
    assert first.status_code == 200 and first.json()["version"] == wh["version"] + 1
    audits = AuditLog.objects.count()
    stale = client.patch(f"/api/v1/warehouses/{wh['id']}/", {"name": "A2", "version": wh["version"]}, format="json")
    assert_error(stale, 409, "stale_version")
    assert client.get(f"/api/v1/warehouses/{wh['id']}/").json()["name"] == "A1"
    assert AuditLog.objects.count() == audits


def test_update_without_version_is_400(api_as):
    client = api_as()
    wh = client.post("/api/v1/warehouses/", {"code": "wh-b", "name": "B"}, format="json").json()
    assert_error(
        client.patch(f"/api/v1/warehouses/{wh['id']}/", {"name": "B1"}, format="json"),
        400,
        "validation_error",
    )


def test_if_match_header_carries_the_version(api_as):
    client = api_as()
    wh = client.post("/api/v1/customers/", {"code": "c-1", "name": "C"}, format="json").json()
    resp = client.patch(
        f"/api/v1/customers/{wh['id']}/", {"name": "C1"}, format="json", HTTP_IF_MATCH=f'"{wh["version"]}"'
    )
    assert resp.status_code == 200


def test_every_catalog_change_is_audited(api_as, hdpe):
    client = api_as()
    wh = client.post("/api/v1/warehouses/", {"code": "wh-c", "name": "C"}, format="json").json()
    client.patch(f"/api/v1/warehouses/{wh['id']}/", {"name": "C2", "version": 1}, format="json")
    item = client.post(
        "/api/v1/items/",
        {"product_type": hdpe.code, "sku": "Z", "attributes": {"OD": 1, "PN": 2}},
        format="json",
    ).json()
    rows = list(AuditLog.objects.order_by("id").values_list("action", "object_id", "actor_name"))
    name = client.user.username
    assert rows[-3:] == [
        ("warehouse.create", str(wh["id"]), name),
        ("warehouse.update", str(wh["id"]), name),
        ("item.create", str(item["id"]), name),
    ]
    update = AuditLog.objects.filter(action="warehouse.update").get()
    assert update.before["name"] == "C" and update.after["name"] == "C2"


def test_items_sort_numerically_by_attribute(api_as, hdpe):
    client = api_as()
    for sku, od in [("a", 110), ("b", 20), ("c", 63)]:
        assert (
            client.post(
                "/api/v1/items/",
                {"product_type": hdpe.code, "sku": sku, "attributes": {"OD": od, "PN": 8}},
                format="json",
            ).status_code
            == 201
        )
    listed = client.get("/api/v1/items/?product_type=hdpe-test").json()["results"]
    assert [i["attributes"]["OD"] for i in listed] == ["20", "63", "110"]


def test_token_endpoint_gives_a_token_that_authenticates(make_user):
    make_user(Role.READER, username="reader1")
    client = APIClient()
    token = client.post("/api/v1/auth/token/", {"username": "reader1", "password": "pass-word-1"}, format="json")
    assert token.status_code == 200
    client.credentials(HTTP_AUTHORIZATION=f"Token {token.json()['token']}")
    assert client.get("/api/v1/warehouses/").status_code == 200
    bad = APIClient().post("/api/v1/auth/token/", {"username": "reader1", "password": "nope"}, format="json")
    assert_error(bad, 400, "validation_error")


def test_schema_and_health_answer(api_as):
    assert APIClient().get("/healthz").status_code == 200
    resp = api_as(Role.READER).get("/api/v1/schema/")
    assert resp.status_code == 200
