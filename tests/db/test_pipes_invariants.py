"""I5 and I6 in the reconcile catalogue: verify finds drift made outside the system; recompute repairs
I6 by recounting pieces and leaves I5 alone (report only: the ledger wins, a person approves a fix)."""

import pytest
from django.db import connection

from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.pieces.invariants import check_i5, check_i6
from stockledger.reconcile import registry
from stockledger.reconcile.services import Chunk, Partition, recompute, verify
from tests.db.test_pipes_support import (
    D,
    assert_consistent,
    batch,
    cuts,
    hdpe,
    produce,
    record,
    rolls,
    spares,
    sprinkler,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(make_user):
    return make_user(Role.INVENTORY_CLERK)


def tamper(sql, params):
    with connection.cursor() as cur:
        cur.execute(sql, params)


def test_i5_and_i6_are_registered_i5_report_only_i6_repairable():
    assert registry.get("I5").report_only
    assert registry.get("I6").repair is not None


def test_i6_drift_is_found_and_repaired_by_recounting_once(clerk):
    b = produce(clerk, hdpe(), cuts(100, 200))["batch_id"]
    s = produce(clerk, sprinkler(), spares(3))["batch_id"]
    cut_roll, spare = record(b, "CUT_ROLL"), record(s, "SPARE")
    tamper("UPDATE inventory_stock SET quantity = 7 WHERE id IN (%s, %s)", [cut_roll.pk, spare.pk])
    report = verify(["I6"])
    assert sorted((d.object_id, d.stored, d.derived) for d in report.drift) == [(cut_roll.pk, 7, 2), (spare.pk, 7, 3)]
    run = recompute(scope=["I6"])
    assert run.rows_changed == 2
    assert (record(b, "CUT_ROLL").quantity, record(s, "SPARE").quantity) == (2, 3)
    assert record(b, "CUT_ROLL").version == cut_roll.version + 1
    repaired = AuditLog.objects.filter(action="recompute.repair", object_type="stock")
    assert {(r.object_id, r.before["quantity"], r.after["quantity"]) for r in repaired} == {
        (str(cut_roll.pk), 7, 2),
        (str(spare.pk), 7, 3),
    }
    assert recompute(scope=["I6"]).rows_changed == 0
    assert_consistent()


def test_i5_drift_is_reported_and_never_repaired_because_the_ledger_wins(clerk):
    b = produce(clerk, hdpe(), rolls(5, 500))["batch_id"]
    full = record(b, "FULL_ROLL")
    tamper("UPDATE inventory_stock SET quantity = 4 WHERE id = %s", [full.pk])
    [drift] = verify(["I5"]).drift
    assert (drift.object_id, drift.stored, drift.derived, drift.repairable) == (b, D(2500), D(2000), False)
    assert "ledger wins" in drift.note
    assert recompute(scope=["I5", "I6"]).rows_changed == 0
    assert (record(b, "FULL_ROLL").quantity, batch(b).usable_qty) == (4, D(2500))
    tamper("UPDATE inventory_stock SET quantity = 5 WHERE id = %s", [full.pk])
    assert_consistent()


def test_the_checks_look_only_at_their_chunk_of_items(clerk):
    item = hdpe()
    b = produce(clerk, item, rolls(1, 10), cuts(10))["batch_id"]
    tamper("UPDATE inventory_stock SET quantity = 9 WHERE id = %s", [record(b, "CUT_ROLL").pk])
    tamper("UPDATE inventory_stock SET quantity = 2 WHERE id = %s", [record(b, "FULL_ROLL").pk])
    items = Partition("items", "catalog.Item")
    inside, outside = Chunk(items, item.pk, item.pk), Chunk(items, item.pk + 1, item.pk + 100)
    assert [d.invariant for d in (*check_i5(inside), *check_i6(inside))] == ["I5", "I6"]
    assert [*check_i5(outside), *check_i6(outside)] == []
    recompute(scope=["I6"])
    tamper("UPDATE inventory_stock SET quantity = 1 WHERE id = %s", [record(b, "FULL_ROLL").pk])
    assert_consistent()
