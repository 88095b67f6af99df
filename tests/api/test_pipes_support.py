"""Helpers shared by the pipe rule tests (docs/pipes.md). Holds no tests."""

from tests import factories as f
from tests.db.test_pipes_support import counts, record

API = "/api/v1"


def ok(client, url, data=None, expect=201):
    r = client.post(f"{API}{url}", data or {}, format="json")
    assert r.status_code == expect, r.json()
    return r.json()


def refused(client, url, data, status, code, fragment) -> dict:
    before = counts()
    r = client.post(f"{API}{url}", data, format="json")
    body = r.json()
    assert (r.status_code, body["code"]) == (status, code), body
    assert fragment.lower() in (body["message"] + str(body["extra"])).lower(), body
    assert counts() == before
    return body


def produce(client, item, *lines, **kw):
    return ok(client, "/production/", {"item_id": item.pk, "lines": list(lines), **kw})["batch_id"]


def dispatch(client, *lines, **kw):
    return ok(client, "/dispatches/", {"customer_id": f.customer().pk, "lines": list(lines), **kw})


def cut_url(b, kind="FULL_ROLL"):
    return f"/stock/{record(b, kind).pk}/cut/"
