"""A recompute killed in the middle resumes after its last committed chunk and ends exactly as a fresh
run would: the same totals, the same audit rows (one per changed row, under the one run's job id), the
same counters. Every backend.

The kill is simulated inside a chunk, after its repairs wrote and audited, with a BaseException (as
SIGKILL, nothing in recompute gets to handle it): the chunk's transaction rolls back with its
checkpoint, the run record stays `running`. The drift spans both partitions recompute walks: items
(batch and inventory totals, I1/I2/I4) and sales transactions (I7).
"""

import io
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.db import transaction

from stockledger.catalog.models import Warehouse
from stockledger.core.errors import NotFound
from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.reconcile.models import RecomputeRun
from stockledger.reconcile.recompute import INTERRUPTED, RunContext
from stockledger.reconcile.services import NothingToResume, recompute, system_user, verify
from stockledger.sales.models import Invoice, SalesTransaction
from stockledger.sales.services import lpg_product_setup, sale_create
from stockledger.stock.models import Batch, Inventory
from stockledger.stock.services import ledger_post
from tests import factories as f
from tests.db.test_reconcile import build_world, inject, sql

pytestmark = pytest.mark.django_db
D = Decimal
SCOPE = "I1,I2,I4,I7"


class Killed(BaseException):
    """Stands for SIGKILL: not an Exception, so recompute's failure handler never sees it."""


@pytest.fixture
def drifted(make_user):
    """Drift in two item chunks (pipe; gas) and in three sales transactions, one with a sent invoice."""
    boss = make_user(Role.ADMIN)
    world = build_world(boss)
    inject(world)
    lpg = lpg_product_setup(actor=boss, code="lpg-9", name="LPG 9 kg", size_kg="9")
    depot, cust = f.warehouse(kind=Warehouse.Kind.DEPOT), f.customer()
    load = {"item_id": lpg.full_item_id, "warehouse_id": depot.pk, "qty_delta": 100}
    ledger_post(actor=boss, kind="LOAD", legs=[load], idempotency_key="resume-load")
    sales = []
    for n in (1, 2, 3):
        line = {"product_id": lpg.pk, "kind": "SALE", "quantity": n, "unit_price": "12.50"}
        out = sale_create(actor=boss, customer_id=cust.pk, depot_id=depot.pk, lines=[line])
        sales.append((out["sale_id"], out["invoice_id"]))
        sql("UPDATE sales_transaction SET total_amount = 1 WHERE id = %s", [out["sale_id"]])
        sql("UPDATE sales_invoice SET total_amount = 1 WHERE id = %s", [out["invoice_id"]])
    sql("UPDATE sales_invoice SET status = 'sent' WHERE id = %s", [sales[2][1]])  # reported, never rewritten
    sql("UPDATE stock_inventory SET usable_qty = 7 WHERE item_id = %s", [lpg.full_item_id])
    system_user()  # made once here, not inside the rolled-back fresh run (its id would differ after)
    return sales


def totals() -> dict:
    return {
        "batch": sorted(Batch.objects.values_list("pk", "usable_qty", "reserved_qty", "version")),
        "inventory": sorted(Inventory.objects.values_list("key", "usable_qty", "reserved_qty", "version")),
        "sale": sorted(SalesTransaction.objects.values_list("pk", "total_amount")),
        "invoice": sorted(Invoice.objects.values_list("pk", "total_amount", "status")),
    }


def repairs(run) -> list[tuple]:
    """The run's audit rows; an inventory row by its key (a re-created row's id depends on the sequence)."""
    keys = dict(Inventory.objects.values_list("pk", "key"))
    rows = AuditLog.objects.filter(action="recompute.repair", job_id=str(run.pk))
    return sorted(
        (a.object_type, keys.get(int(a.object_id)) if a.object_type == "inventory" else a.object_id)
        + (repr(a.before), repr(without_run(a.after)), a.actor_id)
        for a in rows
    )


def without_run(after: dict) -> dict:
    return {k: v for k, v in after.items() if k != "run"}  # the run's id differs between the two runs


def fresh_result() -> dict:
    """What an uninterrupted run gives, from the same starting data (rolled back afterwards)."""
    out = {}
    try:
        with transaction.atomic():
            run = recompute(scope=SCOPE, chunk_size=1)
            out = {"totals": totals(), "repairs": repairs(run), "per": counters(run)}
            out["counts"] = (run.rows_changed, run.rows_checked)
            raise Killed
    except Killed:
        pass
    return out


def counters(run) -> dict:
    return {k: (v["drift"], v["changed"], v["skipped"]) for k, v in run.summary["invariants"].items()}


def kill_at(monkeypatch, n: int) -> None:
    """The n-th repair call dies right after writing its changes and their audit rows."""
    calls = {"n": 0}
    audit = RunContext.audit

    def dying(self, changes):
        written = audit(self, changes)
        calls["n"] += 1
        if calls["n"] == n:
            raise Killed
        return written

    monkeypatch.setattr(RunContext, "audit", dying)


def repair_calls() -> int:
    """How many chunk repairs a fresh run makes (each audits once)."""
    n = 0
    try:
        with transaction.atomic():
            original = RunContext.audit

            def counting(self, changes):
                nonlocal n
                n += 1
                return original(self, changes)

            RunContext.audit = counting
            try:
                recompute(scope=SCOPE, chunk_size=1)
            finally:
                RunContext.audit = original
            raise Killed
    except Killed:
        pass
    return n


def test_the_fixture_spans_both_partitions_and_several_repair_calls(drifted):
    per = {d.invariant for d in verify(SCOPE).drift}
    assert per == {"I1", "I2", "I4", "I7"}
    assert repair_calls() == 6  # item chunks: pipe, gas, LPG full; sales chunks: one per sale
    assert not verify(SCOPE).ok  # the counting run was rolled back


@pytest.mark.parametrize("kill", [1, 2, 3, 4, 5, 6])
def test_a_run_killed_in_any_chunk_resumes_to_the_same_result_as_a_fresh_run(drifted, monkeypatch, kill):
    fresh = fresh_result()
    assert fresh["counts"][0] > 0 and not verify(SCOPE).ok

    kill_at(monkeypatch, kill)
    with pytest.raises(Killed):
        recompute(scope=SCOPE, chunk_size=1)
    monkeypatch.undo()
    killed = RecomputeRun.objects.latest("pk")
    assert killed.status == "running"  # as after SIGKILL: nobody marked it
    done_before = len(repairs(killed))
    assert done_before < len(fresh["repairs"])  # the dying chunk's audit rows rolled back with it

    seen = []
    run = recompute(resume=True, progress=seen.append)
    assert run.pk == killed.pk and run.status == "done" and len(run.summary["resumed"]) == 1
    # it went on from the checkpoint: no chunk committed before the kill was looked at again
    checkpoints, finished = killed.summary.get("checkpoints", {}), killed.summary.get("partitions_done", [])
    assert seen and all(c.lo > checkpoints.get(c.partition.name, 0) for c in seen)
    assert not {c.partition.name for c in seen} & set(finished)
    assert totals() == fresh["totals"]
    assert repairs(run) == fresh["repairs"]
    assert ((run.rows_changed, run.rows_checked), counters(run)) == (fresh["counts"], fresh["per"])
    assert verify("I1,I2,I4").ok
    assert {(d.object_type, d.field) for d in verify("I7").drift} == {("invoice", "total_amount")}  # sent one
    assert recompute(scope=SCOPE).rows_changed == 0


def test_a_failed_run_resumes_by_id_from_its_checkpoint(drifted, monkeypatch):
    def broken(self, changes):
        raise RuntimeError("disk full")

    original = RunContext.audit
    calls = {"n": 0}

    def second_fails(self, changes):
        calls["n"] += 1
        return broken(self, changes) if calls["n"] == 2 else original(self, changes)

    monkeypatch.setattr(RunContext, "audit", second_fails)
    with pytest.raises(RuntimeError):
        recompute(scope=SCOPE, chunk_size=1)
    monkeypatch.undo()
    failed = RecomputeRun.objects.latest("pk")
    assert failed.status == "failed" and "disk full" in failed.error
    assert failed.rows_changed == len(repairs(failed)) == 2  # the first chunk: a batch and an inventory row
    checkpoint = failed.summary["checkpoints"]["items"]
    run = recompute(resume=failed.pk)
    assert (run.pk, run.status, run.error) == (failed.pk, "done", "")
    assert run.summary["checkpoints"]["items"] > checkpoint
    assert run.rows_changed == len(repairs(run))
    assert verify("I1,I2,I4").ok
    assert [d.object_type for d in verify("I7").drift] == ["invoice"]  # the sent one, reported only


def test_a_new_run_marks_a_killed_one_interrupted_and_it_can_still_be_resumed(drifted, monkeypatch):
    kill_at(monkeypatch, 1)
    with pytest.raises(Killed):
        recompute(scope=SCOPE, chunk_size=1)
    monkeypatch.undo()
    killed = RecomputeRun.objects.latest("pk")
    dry = recompute(dry_run=True)
    killed.refresh_from_db()
    assert (killed.status, killed.error) == ("failed", INTERRUPTED)
    with pytest.raises(NothingToResume):  # the latest run is the dry run, which finished
        recompute(resume=True)
    with pytest.raises(NothingToResume):
        recompute(resume=dry.pk)
    assert recompute(resume=killed.pk).status == "done"
    assert verify("I1,I2,I4").ok


def test_nothing_to_resume_and_unknown_runs(db):
    with pytest.raises(NothingToResume) as err:
        recompute(resume=True)
    assert err.value.status == 409 and err.value.code == "nothing_to_resume"
    done = recompute()
    with pytest.raises(NothingToResume):
        recompute(resume=done.pk)
    with pytest.raises(NotFound):
        recompute(resume=done.pk + 1000)


def test_the_cli_resumes_and_says_so(drifted, monkeypatch):
    kill_at(monkeypatch, 2)
    with pytest.raises(Killed):
        call_command("recompute", "--scope", SCOPE, "--chunk-size", "1", stdout=io.StringIO())
    monkeypatch.undo()
    out = io.StringIO()
    call_command("recompute", "--resume", stdout=out)
    run = RecomputeRun.objects.latest("pk")
    assert f"recompute run {run.pk} done" in out.getvalue() and "(resumed 1×)" in out.getvalue()
    with pytest.raises(Exception, match="nothing to resume"):
        call_command("recompute", "--resume", str(run.pk), stdout=io.StringIO())


def test_the_api_resumes_a_run_by_id(drifted, monkeypatch, api_as):
    kill_at(monkeypatch, 1)
    with pytest.raises(Killed):
        recompute(scope=SCOPE, chunk_size=1)
    monkeypatch.undo()
    killed = RecomputeRun.objects.latest("pk")
    manager = api_as(Role.LOGISTICS_MANAGER)
    resp = manager.post("/api/v1/recompute/", {"resume": killed.pk}, format="json")
    assert resp.status_code == 200, resp.content
    assert (resp.json()["id"], resp.json()["status"]) == (killed.pk, "done")
    again = manager.post("/api/v1/recompute/", {"resume": killed.pk}, format="json")
    assert again.status_code == 409 and again.json()["code"] == "nothing_to_resume"
    assert manager.post("/api/v1/recompute/", {"resume": 0}, format="json").status_code == 400
