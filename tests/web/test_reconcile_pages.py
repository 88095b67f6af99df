"""Reconcile screens with Django's test client: verify shows drift in place (htmx partial), recompute runs
as a dry run first (nothing changes), then for real (repaired, audited under the run's job id)."""

import pytest

from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.reconcile.models import RecomputeRun
from stockledger.stock import services as stock
from stockledger.stock.models import Inventory
from tests import factories as f

from .builders import client_for

pytestmark = pytest.mark.django_db


@pytest.fixture
def lm(make_user):
    return make_user(Role.LOGISTICS_MANAGER)


@pytest.fixture
def drifted(lm):
    """An inventory row whose usable_qty no longer matches its batches (a manual SQL fix gone wrong)."""
    item, wh = f.item(name="Tarpaulin"), f.warehouse(name="Central")
    stock.batch_receive(actor=lm, item_id=item.pk, warehouse_id=wh.pk, qty=10, batch_no="T-1")
    Inventory.objects.filter(item=item, warehouse=wh).update(usable_qty=7)
    return Inventory.objects.get(item=item, warehouse=wh)


def text(response) -> str:
    return response.content.decode()


def test_verify_with_htmx_shows_no_drift_in_place(lm):
    response = client_for(lm).post("/reconcile/verify/", HTTP_HX_REQUEST="true")
    page = text(response)
    assert response.status_code == 200 and "<html" not in page and "Verify: no drift" in page


def test_verify_shows_each_drift_row(lm, drifted):
    page = text(client_for(lm).post("/reconcile/verify/", {"scope": ["I1"]}))
    assert "<html" in page and "drift row" in page and 'data-testid="drift"' in page
    assert "usable_qty" in page and ">7" in page


def test_a_dry_run_reports_what_would_change_and_changes_nothing(lm, drifted):
    c = client_for(lm)
    response = c.post("/reconcile/recompute/", {"mode": "dry"})
    run = RecomputeRun.objects.get()
    assert response.status_code == 302 and response["Location"] == f"/reconcile/runs/{run.pk}/"
    assert run.dry_run and Inventory.objects.get(pk=drifted.pk).usable_qty == 7
    page = text(c.get(response["Location"]))
    assert "Dry run #" in page and "would change" in page and "Run recompute now" in page


def test_recompute_repairs_and_its_audit_rows_are_listed_by_job_id(lm, drifted):
    c = client_for(lm)
    response = c.post("/reconcile/recompute/", {"mode": "apply"})
    run = RecomputeRun.objects.get()
    assert not run.dry_run and run.rows_changed >= 1
    assert Inventory.objects.get(pk=drifted.pk).usable_qty == 10
    page = text(c.get(response["Location"]))
    assert f"Recompute #{run.pk}" in page and "recompute.repair" in page
    assert AuditLog.objects.filter(job_id=str(run.pk)).exists()
    audit = text(c.get(f"/audit/?job={run.pk}"))
    assert "recompute.repair" in audit


def test_the_reconcile_page_lists_the_runs(lm, drifted):
    c = client_for(lm)
    c.post("/reconcile/recompute/", {"mode": "dry"})
    page = text(c.get("/reconcile/"))
    assert "dry run" in page and "Run verify" in page and "I1" in page


def test_the_dashboard_of_the_manager_shows_the_drift_of_the_last_check(lm, drifted):
    c = client_for(lm)
    assert "no verify or recompute has run yet" in text(c.get("/"))
    c.post("/reconcile/recompute/", {"mode": "dry"})
    page = text(c.get("/"))
    assert "drift rows found by the last check (dry run #" in page
