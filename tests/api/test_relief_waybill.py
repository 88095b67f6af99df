"""The printable waybill (HTML and PDF) and the OpenAPI schema of the relief endpoints."""

import pytest
from django.urls import include, path
from drf_spectacular.generators import SchemaGenerator

from stockledger.relief import services as rs
from tests.db.test_relief_support import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(make_user):
    return World.build(make_user)


@pytest.fixture
def dispatched(w):
    early = w.receive(w.water, 40, "W-EARLY", expiry_days=20)
    late = w.receive(w.water, 40, "W-LATE", expiry_days=200)
    blanket = w.receive(w.blankets, 30, "B-7")
    req = w.request({w.water: 50, w.blankets: 10})
    pkg = w.draft(w.package(request_id=req["id"], dest=w.dest), {late: 50 - 25, early: 25, blanket: 10})
    return rs.relief_package_send_to_dispatch(
        actor=w.lm, package_id=pkg["id"], version=pkg["version"], override_reason="late stock first, by agreement"
    )


def test_waybill_html_lists_every_line_people_and_signature_lines(api_as, w, dispatched):
    resp = api_as(w.reader).get(f"/api/v1/relief-packages/{dispatched['id']}/waybill/", HTTP_ACCEPT="text/html")
    assert resp.status_code == 200 and resp["Content-Type"].startswith("text/html")
    html = resp.content.decode()
    assert dispatched["tracking_no"] in html and "Riverside shelter" in html and "Flood" in html
    for text in ("W-EARLY", "W-LATE", "B-7", "Water 5L", "Blanket", ">25<", ">10<", "unit"):
        assert text in html, text
    assert w.water.batches.get(batch_no="W-EARLY").expiry_date.isoformat() in html
    assert "Central" in html and "North" in html  # origin and destination
    assert "late stock first, by agreement" in html
    assert w.lo.username in html and w.lm.username in html
    assert "Handover — name, signature, date" in html and "Receipt — name, signature, date" in html


def test_waybill_pdf(api_as, w, dispatched):
    resp = api_as(w.reader).get(f"/api/v1/relief-packages/{dispatched['id']}/waybill.pdf")
    assert resp.status_code == 200 and resp["Content-Type"] == "application/pdf"
    assert resp.content.startswith(b"%PDF")
    assert len(resp.content) > 1000


def test_no_waybill_before_dispatch(api_as, w):
    pkg = w.package()
    for suffix in ("waybill/", "waybill.pdf"):
        resp = api_as(w.reader).get(f"/api/v1/relief-packages/{pkg['id']}/{suffix}")
        assert resp.status_code == 409 and resp.json()["code"] == "not_dispatched", suffix
    assert api_as(w.reader).get("/api/v1/relief-packages/999999/waybill/").status_code == 404


@pytest.mark.parametrize(("suffix", "fmt"), [("waybill.pdf", "pdf"), ("waybill/", "html")])
def test_a_waybill_error_is_json_even_when_the_document_format_is_asked_for(api_as, w, suffix, fmt):
    # Found by tests/api/test_schemathesis.py: ?format=pdf (or html) picked the document's renderer,
    # which sent the JSON error body labelled application/pdf (or text/html).
    pkg = w.package()
    resp = api_as(w.reader).get(f"/api/v1/relief-packages/{pkg['id']}/{suffix}", {"format": fmt})
    assert resp.status_code == 409 and resp["Content-Type"] == "application/json"
    assert resp.json()["code"] == "not_dispatched"


def test_openapi_schema_has_request_and_response_bodies_for_relief_views():
    from stockledger.relief import api

    schema = SchemaGenerator(patterns=[path("api/v1/", include(api.urlpatterns))]).get_schema(request=None, public=True)
    paths = schema["paths"]
    draft = paths["/api/v1/relief-packages/{id}/draft/"]["put"]
    assert draft["requestBody"]["content"]["application/json"]["schema"]["$ref"].endswith("/DraftInRequest")
    assert draft["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/PackageOut")
    assert "409" in draft["responses"] and "400" in draft["responses"]
    for action in ("submit", "approve-dispatch", "send-to-dispatch", "cancel", "handover", "receive"):
        op = paths[f"/api/v1/relief-packages/{{id}}/{action}/"]["post"]
        assert "requestBody" in op and "200" in op["responses"], action
    assert "post" in paths["/api/v1/relief-requests/"] and "get" in paths["/api/v1/relief-requests/{id}/"]
    drawer = paths["/api/v1/items/{id}/batches/"]["get"]
    assert {p["name"] for p in drawer["parameters"]} >= {"warehouse", "package", "qty"}
    assert drawer["responses"]["200"]["content"]["application/json"]["schema"]["$ref"].endswith("/DrawerOut")
    assert "text/html" in paths["/api/v1/relief-packages/{id}/waybill/"]["get"]["responses"]["200"]["content"]
    components = schema["components"]["schemas"]
    assert {"PackageOut", "RequestOut", "DrawerOut", "ApproveInRequest", "ErrorOut"} <= set(components)


def test_pdf_without_its_library_is_a_clear_503(api_as, w, dispatched, monkeypatch):
    import sys

    monkeypatch.setitem(sys.modules, "reportlab.platypus", None)
    resp = api_as(w.reader).get(f"/api/v1/relief-packages/{dispatched['id']}/waybill.pdf")
    assert resp.status_code == 503 and resp.json()["code"] == "pdf_unavailable"
