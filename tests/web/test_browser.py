"""Browser tests: Playwright driving Debian's Chromium against the live server, on every backend.

Three journeys of the issue (a clerk at the factory gate, a logistics officer preparing a package, the
manager approving it) and one sweep of every page at 375 px that fails on horizontal overflow. Kept few
and fast: one browser for the module, data made through the services.
"""

import os
from datetime import timedelta
from decimal import Decimal

import pytest
from django.db import connections
from django.utils import timezone
from playwright.sync_api import expect, sync_playwright

from stockledger.core.roles import Role
from stockledger.relief import services as relief
from stockledger.relief.models import ReliefPackage
from stockledger.stock import services as stock
from stockledger.stock.models import Batch, Inventory
from tests import factories as f
from tests.web.builders import build_world, hdpe, pages

pytestmark = pytest.mark.usefixtures("committed_db")

CHROMIUM_ARGS = [
    "--headless",
    "--no-sandbox",
    "--disable-gpu",
    "--disable-background-networking",
    "--disable-component-update",
    "--disable-sync",
]
PASSWORD = "pass-word-1"  # tests/conftest.py make_user
PHONE = {"width": 375, "height": 740}
TIMEOUT_MS = 10_000


@pytest.fixture
def chromium(committed_db, live_server):
    """Chromium for one test, started after the database is set up and stopped before it is flushed.

    Playwright's sync API runs an event loop in this thread while it is open; Django keeps its connections
    per thread *and* per async context, so flushing or restoring the database then would act on another
    connection object. Inside the test, Django's async-safety check is lifted (the ORM calls are plain
    sync code)."""
    before = os.environ.get("DJANGO_ALLOW_ASYNC_UNSAFE")
    os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = "true"
    try:
        with sync_playwright() as pw:
            browser = pw.chromium.launch(executable_path="/usr/bin/chromium", args=CHROMIUM_ARGS)
            yield browser
            browser.close()
            connections.close_all()  # the ones opened in the loop's context, before the database is flushed
    finally:
        if before is None:
            os.environ.pop("DJANGO_ALLOW_ASYNC_UNSAFE", None)
        else:
            os.environ["DJANGO_ALLOW_ASYNC_UNSAFE"] = before


@pytest.fixture
def page_for(chromium, live_server):
    contexts = []

    def open_as(user, viewport=PHONE):
        ctx = chromium.new_context(viewport=viewport, base_url=live_server.url)
        ctx.set_default_timeout(TIMEOUT_MS)
        contexts.append(ctx)
        page = ctx.new_page()
        page.goto("/login/")
        page.get_by_label("Username").fill(user.username)
        page.get_by_label("Password").fill(PASSWORD)
        page.get_by_role("button", name="Log in").click()
        expect(page.get_by_role("heading", name=f"Hello, {user.username}")).to_be_visible()
        return page

    yield open_as
    for ctx in contexts:
        ctx.close()


def test_clerk_records_production_cuts_a_roll_and_dispatches(make_user, page_for, live_server):
    admin, clerk = make_user(Role.ADMIN), make_user(Role.INVENTORY_CLERK)
    pipe = hdpe(admin)
    f.customer(name="Agro Supplies")
    page = page_for(clerk)

    page.get_by_role("link", name="Record production").first.click()
    page.get_by_label("Variant").select_option(label="HDPE OD=110, PN=8, PE=63, Brand=Tarko")
    line = page.locator("fieldset.line").first
    line.get_by_label("Form").select_option("FULL_ROLL")
    line.get_by_label("Count").fill("5")
    line.get_by_label("Size").fill("500")
    page.get_by_role("button", name="Record production").click()
    spec = page.get_by_test_id("pipe-display")
    expect(spec).to_contain_text("- 5 Full Rolls (500m each) = 2,500m")

    page.get_by_role("link", name="Cut a roll").click()
    page.get_by_label("First piece (m)").fill("200")
    page.get_by_label("Second piece (m)").fill("300")
    page.get_by_role("button", name="Cut", exact=True).click()
    expect(spec).to_contain_text("- 4 Full Rolls (500m each) = 2,000m")
    expect(spec).to_contain_text("- 2 Cut Pieces (200m, 300m) = 500m")
    expect(spec).to_contain_text("Total Available: 2,500m")

    page.get_by_role("link", name="Dispatch from this batch").click()
    page.get_by_label("Customer").select_option(label="Agro Supplies")
    page.get_by_label("Rolls to take").fill("2")
    page.get_by_label("200 m").check()
    page.get_by_role("button", name="Review dispatch").click()
    expect(page.get_by_text("Dispatching 1,200m")).to_be_visible()
    page.get_by_role("button", name="Confirm dispatch").click()
    expect(page.get_by_role("status")).to_contain_text("Dispatch DSP-")

    batch = Batch.objects.get(item=pipe)
    page.goto(f"/batches/{batch.pk}/")
    expect(page.get_by_test_id("current-quantity")).to_have_text("1,300 metre")
    expect(page.get_by_test_id("pipe-display")).to_contain_text("Initial Quantity: 2,500m | Current Quantity: 1,300m")
    expect(page.get_by_test_id("pipe-display")).to_contain_text("- 1 Cut Piece (300m) = 300m")
    assert batch.usable_qty == Decimal("1300")


def _relief_setup(make_user):
    admin = make_user(Role.ADMIN)
    lo, lm = make_user(Role.LOGISTICS_OFFICER), make_user(Role.LOGISTICS_MANAGER)
    today = timezone.localdate()
    wh = f.warehouse(name="Central relief")
    agency = f.customer(name="Riverside shelter")
    water = f.item(f.product_type(unit="unit"), issuance_order="FEFO", can_expire=True, name="Water 5L")
    for no, qty, days in (("W-1", 50, 20), ("W-2", 100, 200)):
        stock.batch_receive(
            actor=admin,
            item_id=water.pk,
            warehouse_id=wh.pk,
            qty=qty,
            batch_no=no,
            batch_date=today - timedelta(days=10),
            expiry_date=today + timedelta(days=days),
        )
    req = relief.relief_request_create(
        actor=lo, agency_id=agency.pk, event="Flood", lines=[{"item_id": water.pk, "requested_qty": 70}]
    )
    req = relief.relief_request_submit(actor=lo, request_id=req["id"], version=req["version"])
    pkg = relief.relief_package_create(actor=lo, request_id=req["id"])
    return lo, lm, wh, water, pkg


def test_officer_saves_a_draft_from_the_drawer_and_sees_reserved_quantities(make_user, page_for):
    lo, lm, wh, water, pkg = _relief_setup(make_user)
    page = page_for(lo)
    page.goto(f"/relief/packages/{pkg['id']}/")
    page.get_by_role("button", name="Use suggested allocation").click()
    expect(page.get_by_label("Allocate from batch #W-1")).to_have_value("50")  # FEFO: the earliest expiry first
    expect(page.get_by_label("Allocate from batch #W-2")).to_have_value("20")
    page.get_by_role("button", name="Save Draft").click()
    expect(page.get_by_test_id("draft-saved")).to_contain_text("Draft saved")
    expect(page.get_by_test_id("reserved-W-1")).to_have_text("50")
    expect(page.get_by_test_id("reserved-W-2")).to_have_text("20")
    expect(page.get_by_test_id("warehouse-totals")).to_contain_text("150")
    inv = Inventory.objects.get(item=water, warehouse=wh)
    assert (inv.usable_qty, inv.reserved_qty) == (150, 70)


def test_manager_approves_and_dispatches_and_warehouse_totals_drop(make_user, page_for):
    lo, lm, wh, water, pkg = _relief_setup(make_user)
    w1 = Batch.objects.get(batch_no="W-1")
    pkg = relief.relief_package_save_draft(
        actor=lo, package_id=pkg["id"], version=pkg["version"], allocations=[{"batch_id": w1.pk, "qty": 40}]
    )
    relief.relief_package_submit(actor=lo, package_id=pkg["id"], version=pkg["version"])
    page = page_for(lm)
    page.get_by_role("link", name="Approval queue").first.click()
    page.get_by_role("link", name=pkg["tracking_no"]).click()
    totals = page.get_by_test_id("warehouse-totals")
    expect(totals.locator("tbody tr").first).to_contain_text("150")
    page.get_by_role("button", name="Approve & Dispatch").click()
    expect(page.get_by_test_id("package-status")).to_have_text("Dispatched")
    row = page.get_by_test_id("warehouse-totals").locator("tbody tr").first
    expect(row.locator("td").nth(2)).to_have_text("110")  # usable 150 − 40
    expect(row.locator("td").nth(3)).to_have_text("0")  # nothing reserved any more
    assert ReliefPackage.objects.get(pk=pkg["id"]).status == ReliefPackage.Status.DISPATCHED


UNLABELLED = """() => [...document.querySelectorAll('input:not([type=hidden]), select, textarea')]
    .filter(el => !(el.labels && el.labels.length) && !el.getAttribute('aria-label'))
    .map(el => el.name)"""


def overflow(page, label: str) -> list[tuple[str, object]]:
    """The page is wider than the phone, or has a form control without a label."""
    width, inner = page.evaluate("[document.documentElement.scrollWidth, window.innerWidth]")
    problems = [(label, f"{width} px wide")] if width > inner else []
    if unlabelled := page.evaluate(UNLABELLED):
        problems.append((label, f"inputs without a label: {unlabelled}"))
    return problems


def test_every_page_fits_a_375_px_phone_and_labels_its_inputs(make_user, page_for):
    w = build_world(make_user)
    page = page_for(w.user(Role.ADMIN))
    wide = []
    for url in [*pages(w), "/login/"]:
        response = page.goto(url)
        assert response.status == 200, url
        wide += overflow(page, url)
    # the dispatch review and an error shown in place
    page.goto("/pipes/dispatch/")
    page.locator("select[name=customer]").select_option(index=1)
    page.locator("input[name^=take-]").first.fill("1")
    page.get_by_role("button", name="Review dispatch").click()
    expect(page.get_by_role("heading", name="What leaves stock")).to_be_visible()
    wide += overflow(page, "dispatch review")
    page.goto("/pipes/production/")
    page.locator("#intake-form select[name=item]").evaluate("el => el.removeAttribute('required')")
    page.get_by_role("button", name="Record production").click()
    expect(page.get_by_role("alert")).to_contain_text("An item id is required")
    wide += overflow(page, "production error")
    assert not wide, f"pages wider than the phone, or with unlabelled inputs: {wide}"
