"""Relief screens with Django's test client: requests, package preparation with the batch drawer (htmx),
Save Draft (htmx partial, reserved quantities, stale package version), submit, the approval queue,
Approve & Dispatch (override reason), Send to Dispatch, cancel, handover, receipt and the waybill links."""

from datetime import timedelta

import pytest
from django.utils import timezone

from stockledger.core.roles import Role
from stockledger.relief import services as relief
from stockledger.relief.models import ReliefPackage, ReliefRequest
from stockledger.stock import services as stock
from stockledger.stock.models import Batch, Inventory, Reservation
from tests import factories as f

from .builders import client_for

pytestmark = pytest.mark.django_db


class Relief:
    def __init__(self, make_user):
        self.admin, self.lo, self.lm = (
            make_user(r) for r in (Role.ADMIN, Role.LOGISTICS_OFFICER, Role.LOGISTICS_MANAGER)
        )
        self.clerk = make_user(Role.INVENTORY_CLERK)
        today = timezone.localdate()
        self.wh = f.warehouse(name="Central relief")
        self.north = f.warehouse(name="North relief")
        self.agency = f.customer(name="Riverside shelter")
        self.water = f.item(f.product_type(unit="unit"), issuance_order="FEFO", can_expire=True, name="Water 5L")
        self.batches = {}
        for no, qty, days, wh in (("W-1", 50, 20, self.wh), ("W-2", 100, 200, self.wh), ("W-3", 30, 60, self.north)):
            out = stock.batch_receive(
                actor=self.admin,
                item_id=self.water.pk,
                warehouse_id=wh.pk,
                qty=qty,
                batch_no=no,
                batch_date=today - timedelta(days=10),
                expiry_date=today + timedelta(days=days),
            )
            self.batches[no] = Batch.objects.get(pk=out["batch_id"])

    def request(self, qty=70, submit=True) -> dict:
        req = relief.relief_request_create(
            actor=self.lo,
            agency_id=self.agency.pk,
            event="Flood",
            lines=[{"item_id": self.water.pk, "requested_qty": qty}],
        )
        return (
            relief.relief_request_submit(actor=self.lo, request_id=req["id"], version=req["version"]) if submit else req
        )

    def package(self, **allocations) -> dict:
        pkg = relief.relief_package_create(actor=self.lo, request_id=self.request()["id"])
        if allocations:
            pkg = relief.relief_package_save_draft(
                actor=self.lo,
                package_id=pkg["id"],
                version=pkg["version"],
                allocations=[{"batch_id": self.batches[no].pk, "qty": q} for no, q in allocations.items()],
            )
        return pkg

    def submitted(self, **allocations) -> dict:
        pkg = self.package(**allocations)
        return relief.relief_package_submit(actor=self.lo, package_id=pkg["id"], version=pkg["version"])

    def inventory(self, wh=None) -> Inventory:
        return Inventory.objects.get(item=self.water, warehouse=wh or self.wh, holder=None)


@pytest.fixture
def r(make_user):
    return Relief(make_user)


def text(response) -> str:
    return response.content.decode()


# --- requests ------------------------------------------------------------------------------------


def test_create_a_request_with_its_lines(r):
    c = client_for(r.lo)
    form = text(c.get("/relief/requests/new/"))
    assert "Water 5L" in form and "Riverside shelter" in form
    response = c.post(
        "/relief/requests/new/",
        {"agency": r.agency.pk, "event": "Flood", "urgency": "HIGH", "line-0-item": r.water.pk, "line-0-qty": "70"},
    )
    req = ReliefRequest.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/relief/requests/{req.pk}/"
    page = text(c.get(response["Location"]))
    assert "Submit request" in page and "Draft" in page and ">70<" in page


def test_a_request_without_items_is_refused_in_place(r, nothing_written):
    with nothing_written():
        response = client_for(r.lo).post("/relief/requests/new/", {"agency": r.agency.pk, "event": "Flood"})
    assert response.status_code == 400 and "A request needs at least one item." in text(response)
    assert not ReliefRequest.objects.exists()


def test_request_row_partial(r):
    page = text(client_for(r.lo).get("/relief/requests/row/?n=2", HTTP_HX_REQUEST="true"))
    assert "<html" not in page and 'name="line-2-item"' in page and "n=3" in page


def test_submit_then_cancel_a_request(r):
    req = r.request(submit=False)
    c = client_for(r.lo)
    c.post(f"/relief/requests/{req['id']}/submit/", {"version": req["version"]})
    assert ReliefRequest.objects.get(pk=req["id"]).status == ReliefRequest.Status.SUBMITTED
    c.post(f"/relief/requests/{req['id']}/cancel/", {"version": req["version"] + 1})
    assert ReliefRequest.objects.get(pk=req["id"]).status == ReliefRequest.Status.CANCELLED


def test_submitting_a_request_from_a_stale_page_is_a_conflict(r, nothing_written):
    req = r.request(submit=False)
    with nothing_written():
        response = client_for(r.lo).post(f"/relief/requests/{req['id']}/submit/", {"version": req["version"] + 5})
    page = text(response)
    assert response.status_code == 409 and "Relief request was modified, please retry" in page
    assert "Reload this page" in page


def test_create_a_package_for_a_submitted_request(r):
    req = r.request()
    c = client_for(r.lo)
    assert "New package" in text(c.get(f"/relief/requests/{req['id']}/"))
    response = c.post(f"/relief/requests/{req['id']}/packages/new/", {"destination": ""})
    pkg = ReliefPackage.objects.get()
    assert response["Location"] == f"/relief/packages/{pkg.pk}/"
    assert "Batch drawer" in text(c.get(response["Location"]))


# --- the drawer and Save Draft -------------------------------------------------------------------


def test_the_drawer_lists_batches_in_fefo_order_with_reserved_and_available(r):
    other = r.package(**{"W-1": 10})  # another package holds 10 of W-1
    pkg = relief.relief_package_create(actor=r.lo, request_id=r.request()["id"])
    page = text(client_for(r.lo).get(f"/relief/packages/{pkg['id']}/"))
    assert page.index("#W-1") < page.index("#W-3") < page.index("#W-2")  # earliest expiry first
    assert 'data-testid="reserved-W-1">10<' in page and "Available <b>40</b>" in page
    assert other["id"] != pkg["id"]


def test_the_drawer_partial_filters_by_warehouse_and_fills_the_suggestion(r):
    pkg = r.package()
    c = client_for(r.lo)
    url = f"/relief/packages/{pkg['id']}/drawer/{r.water.pk}/"
    partial = text(c.get(f"{url}?wh-{r.water.pk}={r.wh.pk}", HTTP_HX_REQUEST="true"))
    assert "<html" not in partial and "#W-1" in partial and "#W-3" not in partial
    filled = text(c.get(f"{url}?fill=1&wh-{r.water.pk}={r.wh.pk}", HTTP_HX_REQUEST="true"))
    assert f'name="alloc-{r.batches["W-1"].pk}" min="0" max="50" step="any" inputmode="decimal" value="50"' in filled
    assert f'name="alloc-{r.batches["W-2"].pk}" min="0" max="100" step="any" inputmode="decimal" value="20"' in filled


def test_save_draft_with_htmx_returns_the_panel_with_reserved_quantities(r):
    pkg = r.package()
    w1, w2 = r.batches["W-1"], r.batches["W-2"]
    response = client_for(r.lo).post(
        f"/relief/packages/{pkg['id']}/draft/",
        {"version": pkg["version"], "shown": [w1.pk, w2.pk], f"alloc-{w1.pk}": "50", f"alloc-{w2.pk}": "20"},
        HTTP_HX_REQUEST="true",
    )
    page = text(response)
    assert response.status_code == 200 and "<html" not in page and 'id="package-panel"' in page
    assert "Draft saved" in page
    assert 'data-testid="reserved-W-1">50<' in page and 'data-testid="reserved-W-2">20<' in page
    assert f'name="version" value="{pkg["version"] + 1}"' in page
    assert (r.inventory().usable_qty, r.inventory().reserved_qty) == (150, 70)
    assert ReliefPackage.objects.get(pk=pkg["id"]).status == ReliefPackage.Status.BEING_PREPARED


def test_save_draft_keeps_allocations_in_batches_the_drawer_did_not_show(r):
    pkg = r.package(**{"W-3": 10})
    w1 = r.batches["W-1"]
    client_for(r.lo).post(
        f"/relief/packages/{pkg['id']}/draft/", {"version": pkg["version"], "shown": [w1.pk], f"alloc-{w1.pk}": "5"}
    )
    held = dict(Reservation.objects.values_list("batch__batch_no", "qty"))
    assert held == {"W-3": 10, "W-1": 5}


def test_save_draft_from_a_stale_page_is_a_conflict_shown_in_the_panel(r, nothing_written):
    pkg = r.package(**{"W-1": 10})
    w1 = r.batches["W-1"]
    with nothing_written():
        response = client_for(r.lo).post(
            f"/relief/packages/{pkg['id']}/draft/",
            {"version": pkg["version"] - 1, "shown": [w1.pk], f"alloc-{w1.pk}": "30"},
            HTTP_HX_REQUEST="true",
            HTTP_HX_CURRENT_URL=f"http://testserver/relief/packages/{pkg['id']}/",
        )
    page = text(response)
    assert response.status_code == 409 and "<html" not in page
    assert "Relief package was modified, please retry" in page
    assert f"Relief package {pkg['id']} was changed by someone else" in page
    assert f'href="http://testserver/relief/packages/{pkg["id"]}/"' in page  # reload the page, not the POST url
    assert 'value="30"' in page  # what was typed is kept


def test_save_draft_beyond_what_is_available_is_refused(r, nothing_written):
    pkg = r.package()
    w1 = r.batches["W-1"]
    with nothing_written():
        response = client_for(r.lo).post(
            f"/relief/packages/{pkg['id']}/draft/",
            {"version": pkg["version"], "shown": [w1.pk], f"alloc-{w1.pk}": "60"},
        )
    assert response.status_code in (400, 409)
    assert 'role="alert"' in text(response)
    assert r.inventory().reserved_qty == 0


# --- submit, approval, dispatch ------------------------------------------------------------------


def test_submit_for_approval_puts_the_package_in_the_lm_queue(r):
    pkg = r.package(**{"W-1": 40})
    client_for(r.lo).post(f"/relief/packages/{pkg['id']}/submit/", {"version": pkg["version"]})
    assert ReliefPackage.objects.get(pk=pkg["id"]).status == ReliefPackage.Status.AWAITING_APPROVAL
    queue = text(client_for(r.lm).get("/relief/approvals/"))
    assert pkg["tracking_no"] in queue and "40 × Water 5L (#W-1)" in queue


def test_approve_and_dispatch_drops_the_warehouse_totals(r):
    pkg = r.submitted(**{"W-1": 40})
    c = client_for(r.lm)
    page = text(c.get(f"/relief/packages/{pkg['id']}/"))
    assert "Approve &amp; Dispatch" in page and "Save Draft" in page
    response = c.post(f"/relief/packages/{pkg['id']}/approve-dispatch/", {"version": pkg["version"]})
    assert response.status_code == 302
    assert (r.inventory().usable_qty, r.inventory().reserved_qty) == (110, 0)
    page = text(c.get(response["Location"]))
    assert "approved and dispatched" in page and 'data-testid="package-status">Dispatched<' in page
    assert f"/api/v1/relief-packages/{pkg['id']}/waybill/" in page and "waybill.pdf" in page


def test_an_allocation_against_the_plan_needs_a_written_reason(r, nothing_written):
    pkg = r.submitted(**{"W-2": 40})  # FEFO says W-1 first
    c = client_for(r.lm)
    assert "depart from the issuance-order plan" in text(c.get(f"/relief/packages/{pkg['id']}/"))
    with nothing_written():
        response = c.post(f"/relief/packages/{pkg['id']}/approve-dispatch/", {"version": pkg["version"]})
    assert response.status_code == 400 and "give a written reason" in text(response)
    response = c.post(
        f"/relief/packages/{pkg['id']}/approve-dispatch/", {"version": pkg["version"], "override_reason": "W-1 is damp"}
    )
    assert response.status_code == 302
    assert ReliefPackage.objects.get(pk=pkg["id"]).override_reason == "W-1 is damp"


def test_send_to_dispatch_straight_from_preparation(r):
    pkg = r.package(**{"W-1": 30})
    response = client_for(r.lm).post(f"/relief/packages/{pkg['id']}/send-to-dispatch/", {"version": pkg["version"]})
    assert response.status_code == 302
    assert ReliefPackage.objects.get(pk=pkg["id"]).status == ReliefPackage.Status.DISPATCHED
    assert r.inventory().usable_qty == 120


def test_cancel_releases_the_reservations(r):
    pkg = r.package(**{"W-1": 30})
    client_for(r.lo).post(f"/relief/packages/{pkg['id']}/cancel/", {"version": pkg["version"], "reason": "duplicate"})
    assert ReliefPackage.objects.get(pk=pkg["id"]).status == ReliefPackage.Status.CANCELLED
    assert r.inventory().reserved_qty == 0


def test_handover_by_the_clerk_then_receipt_by_the_officer(r):
    pkg = r.submitted(**{"W-1": 10})
    pkg = relief.relief_package_approve_dispatch(actor=r.lm, package_id=pkg["id"], version=pkg["version"])
    clerk = client_for(r.clerk)
    assert "Hand over to carrier" in text(clerk.get(f"/relief/packages/{pkg['id']}/"))
    clerk.post(f"/relief/packages/{pkg['id']}/handover/", {"version": pkg["version"]})
    officer = client_for(r.lo)
    assert "Confirm receipt" in text(officer.get(f"/relief/packages/{pkg['id']}/"))
    officer.post(f"/relief/packages/{pkg['id']}/receive/", {"version": pkg["version"] + 1})
    assert ReliefPackage.objects.get(pk=pkg["id"]).status == ReliefPackage.Status.RECEIVED


def test_receipt_before_handover_is_refused_in_place(r, nothing_written):
    pkg = r.submitted(**{"W-1": 10})
    pkg = relief.relief_package_approve_dispatch(actor=r.lm, package_id=pkg["id"], version=pkg["version"])
    with nothing_written():
        response = client_for(r.lo).post(f"/relief/packages/{pkg['id']}/receive/", {"version": pkg["version"]})
    assert response.status_code == 409 and "has not been handed over" in text(response)


def test_packages_list_filters_by_status(r):
    r.package(**{"W-1": 5})
    r.submitted(**{"W-2": 5})
    page = text(client_for(r.lo).get("/relief/?status=AWAITING_LM_APPROVAL"))
    assert page.count("RP-") == 1


def test_unknown_package_is_404(r):
    assert client_for(r.lo).get("/relief/packages/999999/").status_code == 404


def test_two_htmx_saves_in_a_row_from_the_returned_panel_both_count(r):
    import re

    pkg = r.package()
    w1 = r.batches["W-1"]
    c = client_for(r.lo)
    page = c.get(f"/relief/packages/{pkg['id']}/").content.decode()
    for qty in ("10", "25"):
        key = re.search(r'name="idempotency_key" value="(\w+)"', page).group(1)
        version = re.search(r'name="version" value="(\d+)"', page).group(1)
        form = {"idempotency_key": key, "version": version, "shown": [w1.pk], f"alloc-{w1.pk}": qty}
        response = c.post(f"/relief/packages/{pkg['id']}/draft/", form, HTTP_HX_REQUEST="true")
        assert response.status_code == 200, response.content.decode()[:500]
        page = response.content.decode()
    assert Reservation.objects.get(batch=w1).qty == 25


def test_the_waybill_links_of_a_dispatched_package_open(r):
    pkg = r.submitted(**{"W-1": 10})
    relief.relief_package_approve_dispatch(actor=r.lm, package_id=pkg["id"], version=pkg["version"])
    c = client_for(r.clerk)
    html = c.get(f"/api/v1/relief-packages/{pkg['id']}/waybill/")
    pdf = c.get(f"/api/v1/relief-packages/{pkg['id']}/waybill.pdf")
    assert html.status_code == 200 and pkg["tracking_no"] in html.content.decode()
    assert pdf.status_code == 200 and pdf.content.startswith(b"%PDF")
