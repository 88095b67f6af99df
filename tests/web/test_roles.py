"""Every page works for its role only: each GET page and each POST action, for every role and for an
anonymous visitor; a refused action writes nothing; forms are CSRF-protected; the menu follows the role."""

import pytest
from django.test import Client

from stockledger.core.roles import Role, can

from .builders import ROLES, client_for, pages

pytestmark = pytest.mark.django_db


def actions(w) -> dict[str, str]:
    """Every POST endpoint of the web app → the action (core.roles.PERMISSIONS) it needs."""
    i = w.ids
    return {
        "/pipes/production/": "pipes.operate",
        "/pipes/returns/new/": "pipes.operate",
        f"/pipes/stock/{i['full_stock']}/cut/": "pipes.operate",
        f"/pipes/stock/{i['bundle_stock']}/split/": "pipes.operate",
        f"/pipes/stock/{i['spare_stock']}/combine/": "pipes.operate",
        "/pipes/dispatch/": "pipes.operate",
        "/pipes/scrap/": "pipes.operate",
        f"/pipes/operations/{i['dispatch']}/return/": "pipes.revert_dispatch",
        f"/pipes/operations/{i['dispatch']}/close/": "pipes.operate",
        f"/pipes/operations/{i['scrap']}/revert-scrap/": "pipes.revert_privileged",
        f"/pipes/operations/{i['pipe_return']}/revert-return/": "pipes.revert_privileged",
        "/relief/requests/new/": "relief.prepare",
        f"/relief/requests/{i['draft_request']}/submit/": "relief.prepare",
        f"/relief/requests/{i['draft_request']}/cancel/": "relief.prepare",
        f"/relief/requests/{i['request']}/packages/new/": "relief.prepare",
        f"/relief/packages/{i['package']}/draft/": "relief.prepare",
        f"/relief/packages/{i['package']}/submit/": "relief.prepare",
        f"/relief/packages/{i['package']}/cancel/": "relief.prepare",
        f"/relief/packages/{i['package']}/approve-dispatch/": "relief.approve",
        f"/relief/packages/{i['package']}/send-to-dispatch/": "relief.approve",
        f"/relief/packages/{i['package']}/handover/": "relief.handover",
        f"/relief/packages/{i['package']}/receive/": "relief.prepare",
        "/depot/ledger/": "ledger.post",
        "/depot/sales/new/": "sales.write",
        f"/depot/invoices/{i['invoice']}/send/": "sales.write",
        "/reconcile/verify/": "reconcile.run",
        "/reconcile/recompute/": "reconcile.run",
    }


ROW_PARTIALS = {
    "/pipes/lines/row/?n=3": "pipes.operate",
    "/relief/requests/row/?n=3": "relief.prepare",
    "/depot/ledger/row/?n=3": "ledger.post",
    "/depot/sales/row/?n=3": "sales.write",
}


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_each_page_answers_its_roles_and_refuses_the_others(world, role):
    user = world.user(role)
    c = client_for(user)
    wrong = []
    for url, action in {**pages(world), **ROW_PARTIALS}.items():
        status = c.get(url, HTTP_HX_REQUEST="true" if "row" in url else None).status_code
        expected = 200 if can(user, action) else 403
        if status != expected:
            wrong.append((url, status, expected))
    assert not wrong


@pytest.mark.parametrize("role", ROLES, ids=str)
def test_each_action_refuses_the_roles_it_is_not_for_and_writes_nothing(world, role, nothing_written):
    user = world.user(role)
    c = client_for(user)
    refused = [url for url, action in actions(world).items() if not can(user, action)]
    with nothing_written():
        for url in refused:
            response = c.post(url, {"version": 1, "scope": "all"})
            assert response.status_code == 403, url
            assert "Your role does not allow this page" in response.content.decode()


def test_a_user_without_a_role_is_refused_everywhere(world, django_user_model):
    nobody = django_user_model.objects.create_user("nobody", password="pass-word-1")
    c = client_for(nobody)
    assert {c.get(url).status_code for url in pages(world)} == {403}


def test_anonymous_visitors_are_sent_to_the_login_page(world):
    c = Client()
    for url in [*pages(world), *actions(world)]:
        response = c.get(url) if url in pages(world) else c.post(url)
        assert response.status_code == 302, url
        assert response["Location"].startswith("/login/?next="), url


def test_posting_without_the_csrf_token_is_refused(world, nothing_written):
    c = Client(enforce_csrf_checks=True)
    c.force_login(world.user(Role.INVENTORY_CLERK))
    with nothing_written():
        response = c.post("/pipes/production/", {"item": world.ids["hdpe"], "line-0-stock_type": "FULL_ROLL"})
    assert response.status_code == 403


def test_a_form_posted_with_its_csrf_token_is_accepted(world):
    c = Client(enforce_csrf_checks=True)
    c.force_login(world.user(Role.INVENTORY_CLERK))
    c.get("/pipes/production/")
    token = c.cookies["csrftoken"].value
    response = c.post(
        "/pipes/production/",
        {
            "csrfmiddlewaretoken": token,
            "item": world.ids["hdpe"],
            "line-0-stock_type": "FULL_ROLL",
            "line-0-count": "2",
            "line-0-size": "100",
        },
    )
    assert response.status_code == 302


@pytest.mark.parametrize(
    ("role", "shown", "hidden"),
    [
        (Role.INVENTORY_CLERK, ["Pipes", "Relief"], ["Approvals", "Depot", "Sales", "Reconcile"]),
        (Role.LOGISTICS_OFFICER, ["Relief"], ["Pipes", "Approvals", "Depot", "Reconcile"]),
        (Role.LOGISTICS_MANAGER, ["Pipes", "Relief", "Approvals", "Depot", "Sales", "Reconcile"], []),
        (Role.SALES, ["Depot", "Sales"], ["Pipes", "Relief", "Approvals", "Reconcile"]),
        (Role.READER, [], ["Pipes", "Relief", "Approvals", "Depot", "Sales", "Reconcile"]),
    ],
    ids=lambda v: str(v) if isinstance(v, Role) else None,
)
def test_the_menu_shows_the_screens_of_the_role(make_user, role, shown, hidden):
    page = client_for(make_user(role)).get("/").content.decode()
    menu = page[page.index('<nav aria-label="Main">') : page.index("</nav>")]
    for title in shown:
        assert f">{title}</a>" in menu, title
    for title in hidden:
        assert f">{title}</a>" not in menu, title
