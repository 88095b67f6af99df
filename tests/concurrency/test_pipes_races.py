"""Two clerks dispatch the same roll or the same cut piece at the same moment: exactly one wins, the
other gets 409, nothing goes negative, and the trigger-kept piece count stays right.

Real threads with their own connections against committed data, on every backend (SQLite serialises
writers with BEGIN IMMEDIATE; PostgreSQL and MariaDB with row locks taken in pk order).
"""

import threading

import pytest
from django.db import connection

from stockledger.core.errors import Conflict
from stockledger.core.roles import Role
from stockledger.pieces import services as svc
from stockledger.pieces.models import CutPiece, PieceStatus
from stockledger.stock.models import Inventory, LedgerEntry
from tests import factories as f
from tests.db.test_pipes_support import D, assert_consistent, batch, cuts, hdpe, piece, produce, record, rolls

pytestmark = [pytest.mark.concurrency]
CONFLICTS = {"insufficient_stock", "stale_version", "piece_not_in_stock"}


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


def one_winner(results) -> None:
    assert sorted(r[0] for r in results) == ["conflict", "ok"], results
    assert {r[1] for r in results if r[0] == "conflict"} <= CONFLICTS, results


def test_two_dispatches_of_the_last_roll_one_wins(committed_db, make_user):
    clerk = make_user(Role.INVENTORY_CLERK)
    item, customer = hdpe(), f.customer()
    b = produce(clerk, item, rolls(1, 500))["batch_id"]
    line = {"stock_id": record(b, "FULL_ROLL").pk, "quantity": 1}
    one_winner(race(2, lambda i: svc.dispatch_create(actor=clerk, customer_id=customer.pk, lines=[line])))
    assert (batch(b).usable_qty, record(b, "FULL_ROLL").quantity) == (D(0), 0)
    assert sum(e.qty_delta for e in LedgerEntry.objects.filter(batch_id=b)) == D(0)
    assert Inventory.objects.get(item=item).usable_qty == D(0)
    assert_consistent()


def test_two_dispatches_of_the_same_cut_piece_one_wins_and_the_count_stays_right(committed_db, make_user):
    clerk = make_user(Role.INVENTORY_CLERK)
    customer = f.customer()
    b = produce(clerk, hdpe(), cuts(200, 300))["batch_id"]
    target = piece(b, 200)
    line = {"stock_id": record(b, "CUT_ROLL").pk, "piece_ids": [target.pk]}
    one_winner(race(2, lambda i: svc.dispatch_create(actor=clerk, customer_id=customer.pk, lines=[line])))
    assert CutPiece.objects.get(pk=target.pk).status == PieceStatus.DISPATCHED
    assert record(b, "CUT_ROLL").quantity == 1
    assert batch(b).usable_qty == D(300)
    assert_consistent()


def test_two_dispatches_sending_the_versions_they_displayed_the_second_is_stale(committed_db, make_user):
    clerk = make_user(Role.INVENTORY_CLERK)
    customer = f.customer()
    b = produce(clerk, hdpe(), rolls(2, 500))["batch_id"]
    rec = record(b, "FULL_ROLL")
    line = {"stock_id": rec.pk, "quantity": 1, "stock_version": rec.version, "batch_version": batch(b).version}
    results = race(2, lambda i: svc.dispatch_create(actor=clerk, customer_id=customer.pk, lines=[line]))
    assert sorted(results, key=lambda r: r[0])[0] == ("conflict", "stale_version"), results
    assert (batch(b).usable_qty, record(b, "FULL_ROLL").quantity) == (D(500), 1)
    assert_consistent()


def test_a_cut_and_a_dispatch_of_the_same_piece_race_one_wins(committed_db, make_user):
    clerk = make_user(Role.INVENTORY_CLERK)
    customer = f.customer()
    b = produce(clerk, hdpe(), cuts(300))["batch_id"]
    target, rec = piece(b, 300), record(b, "CUT_ROLL")

    def act(i):
        if i == 0:
            return svc.stock_cut(actor=clerk, stock_id=rec.pk, piece_id=target.pk, piece1_length=100, piece2_length=200)
        return svc.dispatch_create(
            actor=clerk, customer_id=customer.pk, lines=[{"stock_id": rec.pk, "piece_ids": [target.pk]}]
        )

    one_winner(race(2, act))
    status = CutPiece.objects.get(pk=target.pk).status
    assert status in (PieceStatus.CUT, PieceStatus.DISPATCHED)
    assert record(b, "CUT_ROLL").quantity == (2 if status == PieceStatus.CUT else 0)
    assert batch(b).usable_qty == (D(300) if status == PieceStatus.CUT else D(0))
    assert_consistent()
