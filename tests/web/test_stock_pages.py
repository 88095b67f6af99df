"""Server-rendered pages: status, permissions, content, htmx partials."""

import pytest
from django.test import Client

from stockledger.core.roles import Role
from stockledger.stock import services as svc
from tests import factories as f

pytestmark = pytest.mark.django_db


@pytest.fixture
def stocked(make_user):
    clerk = make_user(Role.INVENTORY_CLERK)
    wh = f.warehouse(name="Yard")
    it = f.item(name="Rope 10 mm")
    b = svc.batch_receive(actor=clerk, item_id=it.pk, warehouse_id=wh.pk, qty=25, batch_no="R-1")
    svc.stock_issue(actor=clerk, lines=[{"batch_id": b["batch_id"], "qty": 5}])
    return clerk, wh, it, b["batch_id"]


def browser(user) -> Client:
    c = Client()
    c.force_login(user)
    return c


def test_anonymous_is_sent_to_login():
    r = Client().get("/inventory/")
    assert r.status_code == 302 and r["Location"].startswith("/login/")


def test_login_page_and_login_flow(make_user):
    make_user(Role.READER, username="rita")
    c = Client()
    assert c.get("/login/").status_code == 200
    r = c.post("/login/", {"username": "rita", "password": "pass-word-1"})
    assert r.status_code == 302
    assert "Hello, rita" in c.get("/").content.decode()


def test_dashboard_lists_expiring_batches(make_user):
    from datetime import date, timedelta

    clerk = make_user(Role.INVENTORY_CLERK)
    it = f.item(name="Milk powder", can_expire=True)
    svc.batch_receive(
        actor=clerk,
        item_id=it.pk,
        warehouse_id=f.warehouse().pk,
        qty=3,
        batch_no="MP-9",
        expiry_date=date.today() + timedelta(days=10),
    )
    page = browser(clerk).get("/").content.decode()
    assert "#MP-9" in page and "Milk powder" in page


def test_inventory_list_groups_batches_with_variant_totals(stocked):
    clerk, wh, it, _ = stocked
    page = browser(clerk).get("/inventory/").content.decode()
    assert "Rope 10 mm" in page and "#R-1" in page
    assert "Total available for this variant: <strong>20 piece</strong>" in page


def test_inventory_filters_by_warehouse(stocked, make_user):
    clerk, wh, it, _ = stocked
    other = f.warehouse()
    page = browser(clerk).get(f"/inventory/?warehouse={other.pk}").content.decode()
    assert "#R-1" not in page and "No batches match" in page


def test_batch_page_shows_quantities_and_ledger(stocked):
    clerk, wh, it, b = stocked
    page = browser(clerk).get(f"/batches/{b}/").content.decode()
    assert "Batch #R-1" in page
    assert 'data-testid="current-quantity">20 piece' in page
    assert "RECEIVE" in page and "ISSUE" in page


def test_unknown_batch_is_404(stocked):
    assert browser(stocked[0]).get("/batches/999999/").status_code == 404


def test_item_chart_draws_running_total(stocked):
    clerk, wh, it, _ = stocked
    page = browser(clerk).get(f"/items/{it.pk}/chart/").content.decode()
    assert "<polyline" in page and ">20<" in page


def test_audit_search_full_page_and_htmx_partial(stocked):
    clerk, wh, it, b = stocked
    c = browser(clerk)
    full = c.get(f"/audit/?object_type=batch&object_id={b}").content.decode()
    assert "<html" in full and "batch.receive" in full
    partial = c.get(f"/audit/?object_type=batch&object_id={b}", HTTP_HX_REQUEST="true").content.decode()
    assert "<html" not in partial and "batch.issue" in partial


def test_user_without_role_gets_403(django_user_model):
    u = django_user_model.objects.create_user("norole", password="pass-word-1")
    assert browser(u).get("/inventory/").status_code == 403


def test_quantities_read_plainly_never_as_exponents(make_user):
    clerk = make_user(Role.INVENTORY_CLERK)
    it = f.item(f.product_type(unit="metre", decimals=3), name="Hose")
    b = svc.batch_receive(actor=clerk, item_id=it.pk, warehouse_id=f.warehouse().pk, qty="1300.000", batch_no="H-9")
    page = browser(clerk).get(f"/batches/{b['batch_id']}/").content.decode()
    assert 'data-testid="current-quantity">1,300 metre' in page and "E+" not in page


@pytest.mark.parametrize(
    ("role", "cards", "not_cards"),
    [
        (Role.LOGISTICS_MANAGER, ["packages awaiting LM approval", "drift rows found by the last check"], []),
        (Role.LOGISTICS_OFFICER, ["packages being prepared"], ["packages awaiting LM approval", "drift rows"]),
        (Role.INVENTORY_CLERK, ["dispatched packages to hand over"], ["packages awaiting LM approval"]),
        (Role.SALES, ["invoices not yet paid"], ["packages being prepared", "drift rows"]),
        (Role.READER, [], ["packages", "drift rows", "invoices not yet paid"]),
    ],
    ids=lambda v: str(v) if isinstance(v, Role) else None,
)
def test_the_dashboard_shows_what_needs_each_role(world, role, cards, not_cards):
    page = browser(world.user(role)).get("/").content.decode()
    for text in cards:
        assert text in page, text
    for text in not_cards:
        assert text not in page, text
    assert "batches expiring in 30 days" in page and "stock rows below reorder level" in page


def test_the_managers_dashboard_counts_the_packages_awaiting_approval(world):
    from stockledger.relief import services as relief
    from stockledger.relief.models import ReliefPackage

    pkg = ReliefPackage.objects.get(pk=world.ids["package"])
    relief.relief_package_submit(actor=world.user(Role.ADMIN), package_id=pkg.pk, version=pkg.version)
    page = browser(world.user(Role.LOGISTICS_MANAGER)).get("/").content.decode()
    assert "<strong>1</strong><span>packages awaiting LM approval</span>" in page
    assert 'href="/relief/approvals/"' in page


def test_the_dashboard_lists_stock_below_its_reorder_level(stocked):
    from stockledger.stock.models import Inventory

    clerk, wh, it, _ = stocked
    Inventory.objects.filter(item=it, warehouse=wh).update(reorder_qty=50)
    page = browser(clerk).get("/").content.decode()
    assert "Rope 10 mm" in page and "No stock is below its reorder level." not in page


def test_filters_that_do_not_parse_are_ignored_not_a_server_error(stocked):
    clerk = stocked[0]
    c = browser(clerk)
    for url in ("/inventory/?warehouse=abc", "/inventory/?date_from=xx&expiring_within=-3", "/audit/?date_from=xx"):
        r = c.get(url)
        assert r.status_code == 200, url
    assert "#R-1" in c.get("/inventory/?warehouse=abc").content.decode()


def test_unticking_in_stock_only_shows_empty_batches(stocked, make_user):
    clerk, wh, it, b = stocked
    svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 20}])
    c = browser(clerk)
    assert "#R-1" not in c.get("/inventory/?in_stock=0&in_stock=1").content.decode()
    assert "#R-1" in c.get("/inventory/?in_stock=0").content.decode()
