"""Reconcile on every backend: verify finds exactly the injected drift, recompute repairs exactly it
(audited once per row, idempotent, dry-run writes nothing), the run lock, hash-chain tamper, and a
recompute racing real postings without losing any.

Stock is made through the engine's services; drift is injected by direct SQL, as a bad manual fix would.
"""

import io
import threading
from decimal import Decimal
from types import SimpleNamespace

import pytest
from django.contrib.auth.models import Group
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import connection, transaction
from django.db.models import Sum
from django.utils import timezone

from stockledger.catalog.models import Item
from stockledger.core.dbguards import drop_append_only, install_append_only
from stockledger.core.errors import PermissionDenied, ValidationError
from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.reconcile import registry
from stockledger.reconcile.models import RecomputeRun
from stockledger.reconcile.recompute import RunContext
from stockledger.reconcile.services import RecomputeRunning, recompute, verify
from stockledger.stock import services as svc
from stockledger.stock.models import Batch, Inventory, LedgerEntry, inventory_key
from tests import factories as f
from tests.invariants import assert_invariants

D = Decimal
BUILTIN = "I1,I2,I3,I4,I8"  # exact counts below are about these; other apps register I5–I7


def ensure_roles():
    """Role groups come from a data migration; a flush after a committed-data test removes them."""
    for role in Role:
        Group.objects.get_or_create(name=role.value)


def sql(statement: str, params=()):
    with connection.cursor() as cur:
        cur.execute(statement, list(params))


def build_world(boss) -> SimpleNamespace:
    """Batched pipe stock in two warehouses with a reservation; LPG cylinders at a depot, at a customer,
    and at the depot for that customer (the NULL-holder / customer-holder pair of one item+warehouse)."""
    pipe = f.item(f.product_type(unit="metre", decimals=3))
    gas = f.item(f.product_type(unit="cylinder", decimals=0, batch_tracked=False))
    wh1, wh2, cust = f.warehouse(), f.warehouse(), f.customer()

    def receive(item, wh, qty):
        return svc.batch_receive(actor=boss, item_id=item.pk, warehouse_id=wh.pk, qty=qty)["batch_id"]

    a, b, c = receive(pipe, wh1, "100.500"), receive(pipe, wh1, "40"), receive(pipe, wh2, "10")
    svc.stock_issue(actor=boss, lines=[{"batch_id": a, "qty": "0.500"}])
    svc.reservation_apply(actor=boss, doc_type="pkg", doc_id=1, allocations={a: "5"})
    leg = {"item_id": gas.pk}
    svc.ledger_post(actor=boss, kind="LOAD", legs=[{**leg, "warehouse_id": wh1.pk, "qty_delta": 20}])
    svc.ledger_post(
        actor=boss,
        kind="DELIVERY",
        legs=[{**leg, "warehouse_id": wh1.pk, "qty_delta": -3}, {**leg, "holder_id": cust.pk, "qty_delta": 3}],
    )
    svc.ledger_post(
        actor=boss, kind="LOAD", legs=[{**leg, "warehouse_id": wh1.pk, "holder_id": cust.pk, "qty_delta": 2}]
    )
    keys = {
        "pipe_wh1": inventory_key(pipe.pk, wh1.pk, None),
        "gas_wh1": inventory_key(gas.pk, wh1.pk, None),
        "gas_cust": inventory_key(gas.pk, None, cust.pk),
        "gas_wh1_cust": inventory_key(gas.pk, wh1.pk, cust.pk),
        "orphan": inventory_key(gas.pk, wh2.pk, None),
    }
    return SimpleNamespace(pipe=pipe, gas=gas, wh1=wh1, wh2=wh2, cust=cust, a=a, b=b, c=c, keys=keys)


def inv_id(key: str) -> int:
    return Inventory.objects.get(key=key).pk


def insert_orphan(w, usable=9):
    q = connection.ops.quote_name
    cols = ["key", "item_id", "warehouse_id", "holder_id", "usable_qty", "reserved_qty", "reorder_qty"]
    cols += ["ledger_head", "last_updated", "version"]
    now = connection.ops.adapt_datetimefield_value(timezone.now())
    sql(
        f"INSERT INTO stock_inventory ({', '.join(q(c) for c in cols)}) VALUES ({', '.join(['%s'] * len(cols))})",
        [w.keys["orphan"], w.gas.pk, w.wh2.pk, None, usable, 0, 0, "", now, 1],
    )
    return inv_id(w.keys["orphan"])


def inject(w) -> dict:
    """Five drifted rows: a batch total, an inventory reserved total, a deleted (missing) row, an orphan
    row, and the customer-holder row of a NULL-holder / customer-holder pair."""
    ids = {k: inv_id(w.keys[k]) for k in ("pipe_wh1", "gas_cust", "gas_wh1_cust", "gas_wh1")}
    sql("UPDATE stock_batch SET usable_qty = usable_qty + 7 WHERE id = %s", [w.a])
    sql("UPDATE stock_inventory SET reserved_qty = 0 WHERE id = %s", [ids["pipe_wh1"]])
    sql("DELETE FROM stock_inventory WHERE id = %s", [ids["gas_cust"]])
    sql("UPDATE stock_inventory SET usable_qty = 99 WHERE id = %s", [ids["gas_wh1_cust"]])
    ids["orphan"] = insert_orphan(w)
    return ids


def expected_drift(w, ids, chain=False) -> set:
    """The five rows of inject(); with chain, also I8's: the deleted row took its chain's head along."""
    extra = {("I8", "inventory", None, "ledger_head")} if chain else set()
    return extra | {
        ("I4", "batch", w.a, "usable_qty"),
        ("I2", "inventory", ids["pipe_wh1"], "reserved_qty"),
        ("I1", "inventory", None, "usable_qty"),
        ("I1", "inventory", ids["orphan"], "usable_qty"),
        ("I1", "inventory", ids["gas_wh1_cust"], "usable_qty"),
    }


def state():
    """Every batch and inventory row's totals and version, and the audit row count."""
    batches = {b.pk: (b.usable_qty, b.reserved_qty, b.version) for b in Batch.objects.all()}
    rows = {i.key: (i.usable_qty, i.reserved_qty, i.version, i.ledger_head) for i in Inventory.objects.all()}
    return batches, rows, AuditLog.objects.count()


@pytest.fixture
def boss(make_user):
    return make_user(Role.ADMIN)


@pytest.fixture
def world(db, boss):
    return build_world(boss)


# --- verify --------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_verify_is_clean_after_real_postings(world):
    report = verify(BUILTIN)
    assert report.ok, report.table()
    assert report.invariants == ["I1", "I2", "I3", "I4", "I8"]
    assert report.checked["batch"] == 3 and report.checked["inventory"] == 5
    assert report.checked["ledger_entry"] == LedgerEntry.objects.count()
    assert_invariants()


@pytest.mark.django_db
def test_verify_reports_exactly_the_injected_rows(world):
    ids = inject(world)
    report = verify(BUILTIN)
    drift = {(d.invariant, d.object_type, d.object_id, d.field) for d in report.drift}
    assert drift == expected_drift(world, ids, chain=True)
    rows = {(d.invariant, d.object_id): d for d in report.drift}
    assert (rows[("I4", world.a)].stored, rows[("I4", world.a)].derived) == (D("107.000"), D("100.000"))
    assert rows[("I4", world.a)].difference == D(7)
    missing = rows[("I1", None)]
    assert (missing.key, missing.stored, missing.derived, missing.note) == (
        world.keys["gas_cust"],
        None,
        D(3),
        "missing row",
    )
    orphan = rows[("I1", ids["orphan"])]
    assert (orphan.stored, orphan.derived, orphan.note) == (D(9), D(0), "orphan row: no ledger entries")
    pair = rows[("I1", ids["gas_wh1_cust"])]
    assert (pair.key, pair.stored, pair.derived) == (world.keys["gas_wh1_cust"], D(99), D(2))
    assert report.counts["drift"] == {"I1": 3, "I2": 1, "I3": 0, "I4": 1, "I8": 1}
    assert verify(["I4"]).drift == [rows[("I4", world.a)]]


@pytest.mark.django_db
def test_reservations_mismatch_is_reported_but_not_repaired(world):
    sql("UPDATE stock_reservation SET qty = 4 WHERE batch_id = %s", [world.a])
    (row,) = verify("I2").drift
    assert (row.object_id, row.stored, row.derived, row.repairable) == (world.a, D(5), D(4), False)
    run = recompute(scope=BUILTIN)
    assert run.rows_changed == 0 and run.summary["invariants"]["I2"]["drift"] == 1
    assert Batch.objects.get(pk=world.a).reserved_qty == D(5)


@pytest.mark.django_db
def test_head_mismatch_is_reported_by_i8(world):
    sql("UPDATE stock_batch SET ledger_head = %s WHERE id = %s", ["f" * 64, world.b])
    (row,) = verify("I8").drift
    assert (row.object_type, row.object_id, row.field, row.stored) == ("batch", world.b, "ledger_head", "f" * 16)


@pytest.mark.django_db
def test_unknown_scope_is_a_validation_error(world):
    with pytest.raises(ValidationError) as err:
        verify("I1,I99")
    assert err.value.code == "unknown_invariant"


@pytest.mark.django_db
def test_another_app_can_register_an_invariant(world):
    def check(chunk):  # every item of the chunk "drifts"
        for pk in Item.objects.filter(pk__gte=chunk.lo, pk__lte=chunk.hi).values_list("pk", flat=True):
            yield registry.Drift("I97", "item", pk, str(pk), "x", D(1), D(0))

    registry.register(registry.Invariant("I97", "demo", check))
    try:
        report = verify("I97")
        assert {d.object_id for d in report.drift} == {world.pipe.pk, world.gas.pk}
        assert verify("I4,I97").counts["drift"] == {"I4": 0, "I97": 2}
    finally:
        registry.unregister("I97")


# --- recompute -----------------------------------------------------------------------------------


@pytest.mark.django_db
def test_recompute_repairs_exactly_the_drifted_rows_and_audits_each_once(world):
    ids = inject(world)
    batches, rows, _ = state()
    run = recompute(chunk_size=1, scope=BUILTIN)
    assert (run.status, run.rows_changed, run.dry_run, run.actor_name) == ("done", 5, False, "system")
    assert run.checkpoint == world.gas.pk and run.rows_checked > 0
    per = run.summary["invariants"]
    assert {k: per[k]["changed"] for k in per} == {"I1": 3, "I2": 1, "I3": 0, "I4": 1, "I8": 0}

    audits = AuditLog.objects.filter(job_id=str(run.pk))
    assert audits.count() == 5 and set(audits.values_list("action", flat=True)) == {"recompute.repair"}
    new_id = inv_id(world.keys["gas_cust"])
    changed = {("batch", world.a)} | {
        ("inventory", i) for i in (ids["pipe_wh1"], ids["gas_wh1_cust"], ids["orphan"], new_id)
    }
    assert {(a.object_type, int(a.object_id)) for a in audits} == changed
    a = audits.get(object_type="batch")
    assert (a.before, a.after) == (
        {"usable_qty": "107.000", "reserved_qty": "5.000"},
        {"usable_qty": "100.000", "reserved_qty": "5.000"},
    )
    assert audits.get(object_id=str(new_id)).after == {"usable_qty": "3.000", "reserved_qty": "0.000", "created": True}
    assert audits.get(object_id=str(new_id)).actor.username == "system"

    after_b, after_rows, _ = state()
    assert after_b[world.a] == (D(100), D(5), batches[world.a][2] + 1)
    assert {pk: v for pk, v in after_b.items() if pk != world.a} == {
        pk: v for pk, v in batches.items() if pk != world.a
    }
    assert after_rows[world.keys["pipe_wh1"]][:3] == (D("140.000"), D(5), rows[world.keys["pipe_wh1"]][2] + 1)
    assert after_rows[world.keys["gas_wh1_cust"]][:2] == (D(2), D(0))
    assert after_rows[world.keys["orphan"]][:3] == (D(0), D(0), 2)
    last = LedgerEntry.objects.filter(holder=world.cust, warehouse=None).latest("id")
    assert after_rows[world.keys["gas_cust"]] == (D(3), D(0), 1, last.hash)
    untouched = [world.keys["gas_wh1"], inventory_key(world.pipe.pk, world.wh2.pk, None)]
    assert all(after_rows[k] == rows[k] for k in untouched)
    assert_invariants()


@pytest.mark.django_db
def test_a_second_recompute_changes_and_audits_nothing(world):
    inject(world)
    assert recompute().rows_changed == 5
    before = state()
    again = recompute()
    assert (again.rows_changed, again.status) == (0, "done")
    assert state() == before
    assert not AuditLog.objects.filter(job_id=str(again.pk)).exists()


@pytest.mark.django_db
def test_dry_run_writes_nothing_but_the_run(world):
    ids = inject(world)
    before = state()
    run = recompute(dry_run=True)
    assert state() == before
    assert RecomputeRun.objects.filter(pk=run.pk, dry_run=True, status="done").exists()
    assert (run.rows_changed, run.summary["would_change_rows"]) == (0, 5)
    assert {(d.invariant, d.object_type, d.object_id, d.field) for d in run.planned} == expected_drift(world, ids)
    assert not verify().ok


@pytest.mark.django_db
def test_scope_limits_what_is_repaired(world):
    ids = inject(world)
    run = recompute(scope="I4")
    assert (run.rows_changed, run.scope) == (1, ["I4"])
    assert Batch.objects.get(pk=world.a).usable_qty == D(100)
    assert {(d.invariant, d.object_id) for d in verify(BUILTIN).drift} == {
        (i, o) for i, _, o, _ in expected_drift(world, ids, chain=True) if i != "I4"
    }


@pytest.mark.django_db
def test_a_repair_that_would_break_a_check_constraint_is_skipped(world):
    sql("UPDATE stock_batch SET usable_qty = 200, reserved_qty = 150 WHERE id = %s", [world.a])
    run = recompute(scope="I4")
    assert (run.status, run.rows_changed) == ("done", 0)
    assert run.summary["skipped"] == [
        {"object_type": "batch", "object_id": world.a, "reason": "the derived reserved_qty exceeds usable_qty"}
    ]
    assert recompute().rows_changed == 1  # with I2 in scope both totals come from the ledger
    assert_invariants()


@pytest.mark.django_db
def test_repair_re_aggregates_under_lock_so_a_posting_after_the_check_is_kept(world, boss):
    sql("UPDATE stock_batch SET usable_qty = usable_qty + 7 WHERE id = %s", [world.a])
    chunk = next(registry.ITEMS.chunks(size=100))
    stale = list(registry.get("I4").check(chunk))  # derived 100 for batch a
    svc.stock_issue(actor=boss, lines=[{"batch_id": world.a, "qty": "2"}])  # lands between check and repair
    run = RecomputeRun.objects.create()
    with transaction.atomic():
        result = registry.get("I4").repair(chunk, RunContext(run, boss, frozenset({"I4"}), stale))
    assert result.rows == 1
    assert Batch.objects.get(pk=world.a).usable_qty == D(98)
    assert_invariants()


@pytest.mark.django_db
def test_only_admin_or_manager_may_recompute_and_the_system_user_has_no_password(world, make_user):
    with pytest.raises(PermissionDenied):
        recompute(actor=make_user(Role.LOGISTICS_OFFICER))
    assert recompute(actor=make_user(Role.LOGISTICS_MANAGER)).status == "done"
    run = recompute()
    assert run.actor.username == "system" and not run.actor.has_usable_password()


# --- CLI -----------------------------------------------------------------------------------------


@pytest.mark.django_db
def test_verify_cli_prints_a_table_and_exits_1_on_drift(world):
    out = io.StringIO()
    call_command("verify", stdout=out)
    assert "I1: ok" in out.getvalue()
    inject(world)
    out = io.StringIO()
    with pytest.raises(CommandError) as err:
        call_command("verify", "--scope", "I1,I4", stdout=out)
    assert err.value.returncode == 1
    text = out.getvalue()
    assert "invariant" in text and "missing row" in text and world.keys["gas_wh1_cust"] in text and "I2" not in text
    with pytest.raises(CommandError):
        call_command("verify", "--json", stdout=(out := io.StringIO()))
    assert '"ok": false' in out.getvalue()


@pytest.mark.django_db
def test_recompute_cli_prints_the_summary(world, make_user):
    inject(world)
    out = io.StringIO()
    call_command("recompute", "--dry-run", stdout=out)
    assert "(dry run) done (by system)" in out.getvalue() and "would change 3" in out.getvalue()
    make_user(Role.LOGISTICS_MANAGER, username="lm1")
    out = io.StringIO()
    call_command("recompute", "--user", "lm1", "--chunk-size", "1", stdout=out)
    run = RecomputeRun.objects.latest("id")
    assert f"recompute run {run.pk} done (by lm1)" in out.getvalue() and "5 changed" in out.getvalue()
    assert f"job_id={run.pk}" in out.getvalue()
    with pytest.raises(CommandError, match="Unknown user"):
        call_command("recompute", "--user", "nobody", stdout=io.StringIO())


# --- committed data: run lock, tamper, concurrency -------------------------------------------------


def _in_thread(fn):
    out = {}

    def run():
        try:
            out["value"] = fn()
        except Exception as e:  # noqa: BLE001 - asserted by the caller
            out["error"] = e
        finally:
            connection.close()

    t = threading.Thread(target=run)
    t.start()
    return t, out


def test_a_second_run_is_refused_while_one_is_running(committed_db, make_user):
    ensure_roles()
    build_world(make_user(Role.ADMIN))
    started, release = threading.Event(), threading.Event()

    def slow(chunk):
        started.set()
        release.wait(timeout=30)

    t, out = _in_thread(lambda: recompute(chunk_size=1, progress=slow))
    try:
        assert started.wait(timeout=30)
        with pytest.raises(RecomputeRunning) as err:
            recompute()
        assert err.value.code == "recompute_running" and err.value.status == 409
        with pytest.raises(CommandError) as cli:
            call_command("recompute", stdout=io.StringIO())
        assert cli.value.returncode == 2
    finally:
        release.set()
        t.join(timeout=60)
    assert out["value"].status == "done"
    assert RecomputeRun.objects.count() == 1
    assert recompute().status == "done"  # the lock is free again


def test_a_tampered_ledger_row_is_reported_by_i8(committed_db, make_user):
    ensure_roles()
    w = build_world(make_user(Role.ADMIN))
    target = LedgerEntry.objects.filter(batch_id=w.b).earliest("id")
    drop_append_only(connection, ["stock_ledgerentry"])
    try:
        sql("UPDATE stock_ledgerentry SET qty_delta = qty_delta + 1 WHERE id = %s", [target.pk])
    finally:
        install_append_only(connection, ["stock_ledgerentry"])
    (row,) = verify("I8").drift
    assert (row.object_type, row.object_id, row.field, row.stored) == (
        "ledger_entry",
        target.pk,
        "hash",
        target.hash[:16],
    )
    assert {(d.invariant, d.object_id) for d in verify("I1,I4").drift} == {
        ("I4", w.b),
        ("I1", inv_id(w.keys["pipe_wh1"])),
    }


@pytest.mark.concurrency
def test_recompute_racing_postings_loses_nothing(committed_db, make_user):
    """Three threads post to one hot batch and one hot LPG key while the main thread keeps injecting
    drift into exactly those rows and recomputing. The repair locks the rows and re-aggregates under
    the locks, so no posting is overwritten: at the end nothing has drifted and the totals add up."""
    ensure_roles()
    boss = make_user(Role.ADMIN)
    item, gas, wh = f.item(f.product_type()), f.item(f.product_type(batch_tracked=False)), f.warehouse()
    batch = svc.batch_receive(actor=boss, item_id=item.pk, warehouse_id=wh.pk, qty=1000)["batch_id"]
    n, stop = 100, threading.Event()

    def issue():
        for _ in range(n):
            if stop.is_set():
                return
            svc.stock_issue(actor=boss, lines=[{"batch_id": batch, "qty": 1}])

    def load():
        for _ in range(n):
            if stop.is_set():
                return
            svc.ledger_post(actor=boss, kind="LOAD", legs=[{"item_id": gas.pk, "warehouse_id": wh.pk, "qty_delta": 1}])

    workers = [_in_thread(issue), _in_thread(issue), _in_thread(load)]
    runs = 0
    try:
        while runs < 3 or any(t.is_alive() for t, _ in workers):
            sql("UPDATE stock_batch SET usable_qty = usable_qty + 1 WHERE id = %s", [batch])
            sql("UPDATE stock_inventory SET usable_qty = usable_qty + 1 WHERE warehouse_id = %s", [wh.pk])
            assert recompute(chunk_size=1).status == "done"
            runs += 1
    finally:
        stop.set()
        for t, _ in workers:
            t.join(timeout=120)
    assert [out.get("error") for _, out in workers] == [None, None, None]
    assert_invariants()
    assert Batch.objects.get(pk=batch).usable_qty == 1000 - 2 * n
    assert LedgerEntry.objects.filter(batch_id=batch).aggregate(s=Sum("qty_delta"))["s"] == 1000 - 2 * n
    assert Inventory.objects.get(item=item, warehouse=wh, holder=None).usable_qty == 1000 - 2 * n
    assert Inventory.objects.get(item=gas, warehouse=wh, holder=None).usable_qty == n


def test_recompute_as_the_named_system_user_works_from_a_scheduler(db):
    import io

    from django.core.management import call_command

    out = io.StringIO()
    call_command("recompute", "--user", "system", stdout=out)
    assert "(by system)" in out.getvalue()
