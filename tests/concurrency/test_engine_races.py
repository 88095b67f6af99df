"""Two writers race for the last unit: exactly one wins, the other gets 409, nothing goes negative.

Real threads with their own connections against committed data, on every backend (SQLite serialises
writers with BEGIN IMMEDIATE; PostgreSQL and MariaDB with row locks).
"""

import threading
from decimal import Decimal

import pytest
from django.db import connection

from stockledger.core.errors import Conflict
from stockledger.core.roles import Role
from stockledger.stock import services as svc
from stockledger.stock.models import Batch, Inventory, LedgerEntry
from tests import factories as f

pytestmark = [pytest.mark.concurrency]


def race(n: int, fn) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = ("ok", fn(i))
        except Conflict as e:
            results[i] = ("conflict", e.code)
        except Exception as e:  # noqa: BLE001 - reported in the assertion
            results[i] = ("error", repr(e))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=60)
    return results


def test_two_issues_of_the_last_unit_one_wins(committed_db, make_user):
    clerk = make_user(Role.INVENTORY_CLERK)
    wh, it = f.warehouse(), f.item()
    b = svc.batch_receive(actor=clerk, item_id=it.pk, warehouse_id=wh.pk, qty=1)["batch_id"]
    results = race(2, lambda i: svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 1}]))
    outcomes = sorted(r[0] for r in results)
    assert outcomes == ["conflict", "ok"], results
    assert {r[1] for r in results if r[0] == "conflict"} <= {"insufficient_stock", "stale_version"}
    batch = Batch.objects.get(pk=b)
    assert batch.usable_qty == 0
    assert Inventory.objects.get(item=it, warehouse=wh).usable_qty == 0
    assert sum(e.qty_delta for e in LedgerEntry.objects.filter(batch_id=b)) == Decimal(0)


def test_two_reservations_never_over_reserve(committed_db, make_user):
    lo = make_user(Role.LOGISTICS_OFFICER)
    wh, it = f.warehouse(), f.item()
    b = svc.batch_receive(actor=make_user(Role.ADMIN), item_id=it.pk, warehouse_id=wh.pk, qty=10)["batch_id"]
    results = race(2, lambda i: svc.reservation_apply(actor=lo, doc_type="race", doc_id=i, allocations={b: 6}))
    assert sorted(r[0] for r in results) == ["conflict", "ok"], results
    batch = Batch.objects.get(pk=b)
    assert batch.reserved_qty == 6
    assert Inventory.objects.get(item=it, warehouse=wh).reserved_qty == 6


def test_many_concurrent_issues_add_up(committed_db, make_user):
    clerk = make_user(Role.INVENTORY_CLERK)
    wh, it = f.warehouse(), f.item()
    b = svc.batch_receive(actor=clerk, item_id=it.pk, warehouse_id=wh.pk, qty=5)["batch_id"]
    results = race(8, lambda i: svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 1}]))
    wins = [r for r in results if r[0] == "ok"]
    assert len(wins) == 5 and all(r[0] in ("ok", "conflict") for r in results), results
    assert Batch.objects.get(pk=b).usable_qty == 0
    assert Inventory.objects.get(item=it, warehouse=wh).usable_qty == 0


def test_a_retry_racing_its_original_replays_the_answer(committed_db, make_user):
    """Same Idempotency-Key sent twice at once for the last unit: both get the first answer, one write."""
    clerk = make_user(Role.INVENTORY_CLERK)
    wh, it = f.warehouse(), f.item()
    b = svc.batch_receive(actor=clerk, item_id=it.pk, warehouse_id=wh.pk, qty=1)["batch_id"]
    results = race(
        2, lambda i: svc.stock_issue(actor=clerk, lines=[{"batch_id": b, "qty": 1}], idempotency_key="same-key")
    )
    assert [r[0] for r in results] == ["ok", "ok"], results
    assert results[0][1] == results[1][1]
    assert LedgerEntry.objects.filter(batch_id=b, kind="ISSUE").count() == 1
    assert Batch.objects.get(pk=b).usable_qty == 0
