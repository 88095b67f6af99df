"""Relief API: every endpoint, its error statuses in the one error shape, the role matrix, idempotency."""

import pytest

from stockledger.core.roles import Role
from stockledger.relief.models import ReliefPackage
from stockledger.stock.models import Reservation
from tests.db.test_relief_support import World, check_invariants, counts, fresh, inv

pytestmark = pytest.mark.django_db
PKG = "/api/v1/relief-packages/"
REQ = "/api/v1/relief-requests/"


@pytest.fixture
def w(make_user):
    return World.build(make_user)


def call(client, method, url, data=None, status=200, code=None, **headers):
    resp = getattr(client, method)(url, data, format="json", **headers)
    assert resp.status_code == status, resp.content
    body = resp.json()
    if code is not None:
        assert set(body) == {"code", "message", "extra"} and body["code"] == code, body
    return body


def new_package(api_as, w, items=None, **extra):
    lo = api_as(w.lo)
    req = call(
        lo,
        "post",
        REQ,
        {
            "agency_id": w.agency.pk,
            "event": "Flood",
            "urgency": "HIGH",
            "lines": [{"item_id": i.pk, "requested_qty": q} for i, q in (items or {w.water: 100}).items()],
        },
        201,
    )
    call(lo, "post", f"{REQ}{req['id']}/submit/", {"version": req["version"]})
    return call(lo, "post", PKG, {"request_id": req["id"], **extra}, 201)


def test_request_create_list_retrieve_submit(api_as, w):
    lo = api_as(w.lo)
    req = call(
        lo,
        "post",
        REQ,
        {"agency_id": w.agency.pk, "event": "Storm", "lines": [{"item_id": w.water.pk, "requested_qty": "12"}]},
        201,
    )
    assert (req["status"], req["urgency"], req["agency_name"]) == ("DRAFT", "MEDIUM", "Riverside shelter")
    assert req["lines"][0]["requested_qty"] == "12.000" and req["lines"][0]["outstanding_qty"] == "12.000"
    listed = call(api_as(w.reader), "get", f"{REQ}?status=DRAFT")
    assert [r["id"] for r in listed["results"]] == [req["id"]]
    assert call(api_as(w.reader), "get", f"{REQ}{req['id']}/")["event"] == "Storm"
    call(lo, "post", f"{REQ}{req['id']}/submit/", {}, 400, "validation_error")
    done = call(lo, "post", f"{REQ}{req['id']}/submit/", {"version": req["version"]})
    assert done["status"] == "SUBMITTED" and done["version"] == req["version"] + 1
    call(lo, "post", f"{REQ}{req['id']}/submit/", {"version": req["version"]}, 409, "stale_version")
    call(lo, "post", f"{REQ}{req['id']}/cancel/", {"version": done["version"]})
    call(api_as(w.reader), "get", f"{REQ}999999/", status=404, code="not_found")


def test_request_with_bad_lines_is_400(api_as, w):
    body = call(
        api_as(w.lo),
        "post",
        REQ,
        {"agency_id": w.agency.pk, "event": "x", "lines": [{"item_id": 999999, "requested_qty": 1}]},
        400,
        "validation_error",
    )
    assert "lines.0.item_id" in body["extra"]["fields"]
    call(api_as(w.lo), "post", REQ, {"agency_id": w.agency.pk, "event": "x", "lines": []}, 400, "validation_error")


def test_draft_submit_approve_dispatch_over_the_api(api_as, w):
    b1, b2 = w.receive(w.water, 50, "W-1", expiry_days=30), w.receive(w.water, 40, "W-2", expiry_days=60)
    pkg = new_package(api_as, w)
    assert pkg["status"] == "BEING_PREPARED" and pkg["tracking_no"].startswith("RP-")
    lo, lm = api_as(w.lo), api_as(w.lm)
    pkg = call(lo, "put", f"{PKG}{pkg['id']}/draft/", {"version": 1, "allocations": [{"batch_id": b1.pk, "qty": 30}]})
    assert (fresh(b1).reserved_qty, inv(w.water, w.wh).reserved_qty) == (30, 30)
    pkg = call(lo, "put", f"{PKG}{pkg['id']}/draft/", {"version": 2, "allocations": [{"batch_id": b1.pk, "qty": 20}]})
    assert (fresh(b1).reserved_qty, inv(w.water, w.wh).reserved_qty) == (20, 20)
    pkg = call(lo, "post", f"{PKG}{pkg['id']}/submit/", {"version": pkg["version"]})
    assert pkg["status"] == "AWAITING_LM_APPROVAL"
    allocations = [{"batch_id": b1.pk, "qty": 50}, {"batch_id": b2.pk, "qty": 10, "version": fresh(b2).version}]
    done = call(
        lm, "post", f"{PKG}{pkg['id']}/approve-dispatch/", {"version": pkg["version"], "allocations": allocations}
    )
    assert done["status"] == "DISPATCHED"
    assert [(a["batch_no"], a["qty"]) for a in done["allocations"]] == [("W-1", "50.000"), ("W-2", "10.000")]
    row = inv(w.water, w.wh)
    assert (row.usable_qty, row.reserved_qty) == (30, 0)
    assert call(api_as(w.reader), "get", f"{PKG}{pkg['id']}/")["status"] == "DISPATCHED"
    assert [p["id"] for p in call(api_as(w.reader), "get", f"{PKG}?status=DISPATCHED")["results"]] == [pkg["id"]]
    check_invariants()


def test_draft_errors_missing_version_stale_over_allocation_other_item(api_as, w):
    b1 = w.receive(w.water, 50, "W-1")
    blanket = w.receive(w.blankets, 5, "B-1")
    pkg = new_package(api_as, w)
    lo, url = api_as(w.lo), f"{PKG}{pkg['id']}/draft/"
    before = counts()
    body = call(lo, "put", url, {"allocations": [{"batch_id": b1.pk, "qty": 5}]}, 400, "validation_error")
    assert "version" in body["extra"]["fields"]
    call(lo, "put", url, {"version": 7, "allocations": [{"batch_id": b1.pk, "qty": 5}]}, 409, "stale_version")
    body = call(lo, "put", url, {"version": 1, "allocations": [{"batch_id": b1.pk, "qty": 51}]}, 409, "over_allocation")
    assert body["extra"]["lines"][0]["available"] == "50.000"
    other = [{"batch_id": blanket.pk, "qty": 1, "item_id": w.water.pk}]
    call(lo, "put", url, {"version": 1, "allocations": other}, 400, "validation_error")
    call(lo, "put", f"{PKG}999999/draft/", {"version": 1, "allocations": []}, 404, "not_found")
    assert counts() == before
    assert ReliefPackage.objects.get(pk=pkg["id"]).version == 1
    check_invariants()


def test_role_matrix(api_as, w):
    b1 = w.receive(w.water, 50, "W-1")
    pkg = new_package(api_as, w)
    lo, lm, clerk, reader = api_as(w.lo), api_as(w.lm), api_as(w.clerk), api_as(w.reader)
    draft = {"version": 1, "allocations": [{"batch_id": b1.pk, "qty": 5}]}
    call(clerk, "put", f"{PKG}{pkg['id']}/draft/", draft, 403, "forbidden")
    call(reader, "put", f"{PKG}{pkg['id']}/draft/", draft, 403, "forbidden")
    pkg = call(lo, "put", f"{PKG}{pkg['id']}/draft/", draft)
    v = {"version": pkg["version"]}
    call(lo, "post", f"{PKG}{pkg['id']}/send-to-dispatch/", v, 403, "forbidden")
    call(clerk, "post", f"{PKG}{pkg['id']}/send-to-dispatch/", v, 403, "forbidden")
    call(reader, "post", f"{PKG}{pkg['id']}/submit/", v, 403, "forbidden")
    call(reader, "post", f"{PKG}{pkg['id']}/cancel/", v, 403, "forbidden")
    call(reader, "post", PKG, {"request_id": pkg["request_id"]}, 403, "forbidden")
    call(
        reader,
        "post",
        REQ,
        {"agency_id": w.agency.pk, "event": "x", "lines": [{"item_id": w.water.pk, "requested_qty": 1}]},
        403,
        "forbidden",
    )
    pkg = call(lo, "post", f"{PKG}{pkg['id']}/submit/", v)
    v = {"version": pkg["version"]}
    call(lo, "post", f"{PKG}{pkg['id']}/approve-dispatch/", v, 403, "forbidden")
    call(clerk, "post", f"{PKG}{pkg['id']}/approve-dispatch/", v, 403, "forbidden")
    call(reader, "post", f"{PKG}{pkg['id']}/approve-dispatch/", v, 403, "forbidden")
    pkg = call(lm, "post", f"{PKG}{pkg['id']}/approve-dispatch/", v)
    v = {"version": pkg["version"]}
    call(lo, "post", f"{PKG}{pkg['id']}/handover/", v, 403, "forbidden")
    call(reader, "post", f"{PKG}{pkg['id']}/handover/", v, 403, "forbidden")
    pkg = call(clerk, "post", f"{PKG}{pkg['id']}/handover/", v)
    v = {"version": pkg["version"]}
    call(clerk, "post", f"{PKG}{pkg['id']}/receive/", v, 403, "forbidden")
    call(reader, "post", f"{PKG}{pkg['id']}/receive/", v, 403, "forbidden")
    assert call(lo, "post", f"{PKG}{pkg['id']}/receive/", v)["status"] == "RECEIVED"
    for url in (PKG, f"{PKG}{pkg['id']}/", REQ, f"/api/v1/items/{w.water.pk}/batches/"):
        call(reader, "get", url)
    check_invariants()


def test_anonymous_reads_nothing(client, w):
    assert client.get(PKG).status_code == 401
    assert client.get(f"/api/v1/items/{w.water.pk}/batches/").status_code == 401


def test_cancel_over_the_api_releases_reservations(api_as, w):
    b1 = w.receive(w.water, 50, "W-1")
    pkg = new_package(api_as, w)
    lo = api_as(w.lo)
    pkg = call(lo, "put", f"{PKG}{pkg['id']}/draft/", {"version": 1, "allocations": [{"batch_id": b1.pk, "qty": 9}]})
    call(lo, "post", f"{PKG}{pkg['id']}/cancel/", {}, 400, "validation_error")
    done = call(lo, "post", f"{PKG}{pkg['id']}/cancel/", {"version": pkg["version"], "reason": "wrong shelter"})
    assert done["status"] == "CANCELLED" and "wrong shelter" in done["notes"]
    assert (fresh(b1).reserved_qty, inv(w.water, w.wh).reserved_qty) == (0, 0)
    call(lo, "post", f"{PKG}{pkg['id']}/cancel/", {"version": done["version"]}, 409, "invalid_status")
    check_invariants()


def test_override_reason_required_over_the_api(api_as, w):
    w.receive(w.water, 40, "W-EARLY", expiry_days=20)
    late = w.receive(w.water, 40, "W-LATE", expiry_days=200)
    pkg = new_package(api_as, w, {w.water: 30})
    lo, lm = api_as(w.lo), api_as(w.lm)
    pkg = call(lo, "put", f"{PKG}{pkg['id']}/draft/", {"version": 1, "allocations": [{"batch_id": late.pk, "qty": 30}]})
    assert pkg["override"]["flagged"] and pkg["override"]["groups"][0]["planned"][0]["batch_no"] == "W-EARLY"
    url = f"{PKG}{pkg['id']}/send-to-dispatch/"
    body = call(lm, "post", url, {"version": pkg["version"]}, 400, "override_reason_required")
    assert "override_reason" in body["extra"]["fields"]
    done = call(lm, "post", url, {"version": pkg["version"], "override_reason": "road to W-EARLY flooded"})
    assert done["override"]["reason"] == "road to W-EARLY flooded"
    check_invariants()


def test_idempotency_key_on_put_and_post(api_as, w):
    b1 = w.receive(w.water, 50, "W-1")
    pkg = new_package(api_as, w)
    lo = api_as(w.lo)
    draft = {"version": 1, "allocations": [{"batch_id": b1.pk, "qty": 30}]}
    first = call(lo, "put", f"{PKG}{pkg['id']}/draft/", draft, HTTP_IDEMPOTENCY_KEY="k-draft")
    before = counts()
    again = call(lo, "put", f"{PKG}{pkg['id']}/draft/", draft, HTTP_IDEMPOTENCY_KEY="k-draft")
    assert again == first and counts() == before and fresh(b1).reserved_qty == 30
    v = {"version": first["version"]}
    sent = call(api_as(w.lm), "post", f"{PKG}{pkg['id']}/send-to-dispatch/", v, HTTP_IDEMPOTENCY_KEY="k-send")
    again = call(api_as(w.lm), "post", f"{PKG}{pkg['id']}/send-to-dispatch/", v, HTTP_IDEMPOTENCY_KEY="k-send")
    assert again == sent and fresh(b1).usable_qty == 20
    assert not Reservation.objects.exists()
    check_invariants()


def test_lo_limited_to_a_warehouse_gets_403_elsewhere(api_as, make_user, w):
    b1 = w.receive(w.water, 50, "W-1")
    pkg = new_package(api_as, w)
    stranger = api_as(make_user(Role.LOGISTICS_OFFICER, warehouses=[w.dest]))
    draft = {"version": 1, "allocations": [{"batch_id": b1.pk, "qty": 5}]}
    call(stranger, "put", f"{PKG}{pkg['id']}/draft/", draft, 403, "warehouse_not_assigned")
    assert fresh(b1).reserved_qty == 0


@pytest.mark.parametrize(
    ("method", "url"),
    [
        ("get", f"{REQ}abc/"),
        ("post", f"{REQ}abc/submit/"),
        ("get", f"{PKG}abc/"),
        ("post", f"{PKG}true/cancel/"),
        ("post", f"{PKG}1x/approve-dispatch/"),
    ],
)
def test_an_id_that_is_not_a_number_is_a_json_404_not_a_500(api_as, w, method, url):
    # Found by tests/api/test_schemathesis.py: the views int() the id, which raised ValueError (a 500).
    call(api_as(w.lo), method, url, {"version": 1}, 404, "not_found")
