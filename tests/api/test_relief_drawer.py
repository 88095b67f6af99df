"""The batch drawer: GET /api/v1/items/{id}/batches/ — issuance order, expired batches left out,
available = usable − reserved + what this package holds, and a suggested greedy allocation."""

import pytest

from tests import factories as f
from tests.db.test_relief_support import World

pytestmark = pytest.mark.django_db


@pytest.fixture
def w(make_user):
    return World.build(make_user)


def drawer(api_as, w, item, **params):
    resp = api_as(w.reader).get(f"/api/v1/items/{item.pk}/batches/", params)
    assert resp.status_code == 200, resp.content
    return resp.json()


def numbers(body):
    return [b["batch_no"] for b in body["batches"]]


def test_fefo_earliest_expiry_first_no_expiry_last_expired_left_out(api_as, w):
    w.receive(w.water, 10, "LATE", expiry_days=300)
    w.receive(w.water, 10, "SOON", expiry_days=10)
    w.receive(w.water, 10, "GONE", expiry_days=-1, age=400)
    w.receive(w.water, 10, "TODAY", expiry_days=0)
    body = drawer(api_as, w, w.water, warehouse=w.wh.pk)
    assert numbers(body) == ["TODAY", "SOON", "LATE"]
    assert body["item"]["issuance_order"] == "FEFO"


def test_fefo_puts_batches_without_expiry_last(api_as, w):
    rice = f.item(issuance_order="FEFO", can_expire=False)
    w.receive(rice, 5, "NONE")
    w.receive(rice, 5, "DATED", expiry_days=50)
    assert numbers(drawer(api_as, w, rice)) == ["DATED", "NONE"]


def test_fifo_oldest_batch_first_and_lifo_newest_first(api_as, w):
    w.receive(w.blankets, 10, "NEW", age=1)
    w.receive(w.blankets, 10, "OLD", age=300)
    w.receive(w.blankets, 10, "MID", age=30)
    assert numbers(drawer(api_as, w, w.blankets)) == ["OLD", "MID", "NEW"]
    tents = f.item(issuance_order="LIFO")
    w.receive(tents, 10, "T-OLD", age=300)
    w.receive(tents, 10, "T-NEW", age=1)
    assert numbers(drawer(api_as, w, tents)) == ["T-NEW", "T-OLD"]


def test_available_and_suggestion_count_what_this_package_holds(api_as, w):
    soon = w.receive(w.water, 30, "SOON", expiry_days=10)
    later = w.receive(w.water, 50, "LATER", expiry_days=100)
    mine = w.draft(w.package({w.water: 60}), {soon: 20})
    w.draft(w.package({w.water: 10}), {soon: 10})  # another package takes the rest of SOON
    body = drawer(api_as, w, w.water, warehouse=w.wh.pk, package=mine["id"], qty=40)
    rows = {b["batch_no"]: b for b in body["batches"]}
    assert (rows["SOON"]["reserved_qty"], rows["SOON"]["held_by_this_package"]) == ("30.000", "20.000")
    assert rows["SOON"]["available_qty"] == "20.000"
    assert body["suggestion"]["lines"] == [
        {"batch_id": soon.pk, "qty": "20.000"},
        {"batch_id": later.pk, "qty": "20.000"},
    ]
    assert (rows["SOON"]["suggested_qty"], rows["LATER"]["suggested_qty"]) == ("20.000", "20.000")
    # Without a package, SOON has nothing left and is not offered.
    assert numbers(drawer(api_as, w, w.water, qty=5)) == ["LATER"]
    # Without qty, the suggestion covers what the package's request still needs (60).
    body = drawer(api_as, w, w.water, package=mine["id"])
    assert (body["suggestion"]["requested_qty"], body["suggestion"]["shortfall_qty"]) == ("60.000", "0.000")


def test_shortfall_and_warehouse_filter(api_as, w):
    w.receive(w.water, 10, "HERE", expiry_days=10)
    w.receive(w.water, 10, "THERE", expiry_days=5, wh=w.dest)
    body = drawer(api_as, w, w.water, warehouse=w.wh.pk, qty=15)
    assert numbers(body) == ["HERE"]
    assert (body["suggestion"]["allocated_qty"], body["suggestion"]["shortfall_qty"]) == ("10.000", "5.000")
    both = drawer(api_as, w, w.water, warehouse=f"{w.wh.pk},{w.dest.pk}")
    assert numbers(both) == ["THERE", "HERE"]


def test_drawer_errors(api_as, w):
    client = api_as(w.reader)
    assert client.get("/api/v1/items/999999/batches/").json()["code"] == "not_found"
    resp = client.get(f"/api/v1/items/{w.water.pk}/batches/", {"warehouse": "abc"})
    assert resp.status_code == 400 and resp.json()["code"] == "validation_error"
    resp = client.get(f"/api/v1/items/{w.water.pk}/batches/", {"package": 999999})
    assert resp.status_code == 400
    resp = client.get(f"/api/v1/items/{w.water.pk}/batches/", {"qty": "lots"})
    assert resp.status_code == 400


def test_item_detail_route_still_served_by_the_catalog(api_as, w):
    resp = api_as(w.reader).get(f"/api/v1/items/{w.water.pk}/")
    assert resp.status_code == 200 and resp.json()["id"] == w.water.pk
