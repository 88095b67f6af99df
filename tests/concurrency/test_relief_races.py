"""Two officers save drafts of different packages on the same batch at the same time: no version
conflict between them (only package versions are checked), and the batch is never over-reserved —
availability is checked under the batch row lock. Real threads, committed data, every backend."""

import threading

import pytest
from django.db import connection

from stockledger.core.errors import DomainError
from stockledger.core.roles import Role
from stockledger.relief import services as rs
from tests.db.test_relief_support import World, check_invariants, fresh, inv

pytestmark = [pytest.mark.concurrency]


def race(n: int, fn) -> list:
    barrier = threading.Barrier(n)
    results: list = [None] * n

    def run(i):
        try:
            barrier.wait(timeout=10)
            results[i] = ("ok", fn(i))
        except DomainError as e:
            results[i] = ("refused", e.code)
        except Exception as e:  # noqa: BLE001 - reported in the assertion
            results[i] = ("error", repr(e))
        finally:
            connection.close()

    threads = [threading.Thread(target=run, args=(i,)) for i in range(n)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=120)
    assert not any(t.is_alive() for t in threads), "a thread did not finish"
    return results


def test_two_officers_drafting_on_one_batch_never_over_reserve(committed_db, make_user):
    w = World.build(make_user)
    officers = [w.lo, make_user(Role.LOGISTICS_OFFICER)]
    batch = w.receive(w.water, 50, "W-RACE")
    packages = [w.package({w.water: 40}) for _ in officers]

    def save(i):
        return rs.relief_package_save_draft(
            actor=officers[i],
            package_id=packages[i]["id"],
            version=packages[i]["version"],
            allocations=[{"batch_id": batch.pk, "qty": 30}],
        )

    results = race(2, save)
    assert sorted(r[0] for r in results) == ["ok", "refused"], results
    assert [r[1] for r in results if r[0] == "refused"] == ["over_allocation"]
    assert (fresh(batch).reserved_qty, inv(w.water, w.wh).reserved_qty) == (30, 30)
    check_invariants()


def test_officers_drafting_small_amounts_all_fit_and_add_up(committed_db, make_user):
    w = World.build(make_user)
    n = 4
    officers = [make_user(Role.LOGISTICS_OFFICER) for _ in range(n)]
    batch = w.receive(w.water, 50, "W-MANY")
    packages = [w.package({w.water: 10}) for _ in range(n)]

    def save(i):
        return rs.relief_package_save_draft(
            actor=officers[i],
            package_id=packages[i]["id"],
            version=packages[i]["version"],
            allocations=[{"batch_id": batch.pk, "qty": 10}],
        )

    results = race(n, save)
    assert [r[0] for r in results] == ["ok"] * n, results
    assert (fresh(batch).reserved_qty, inv(w.water, w.wh).reserved_qty) == (40, 40)
    check_invariants()


def test_concurrent_draft_and_dispatch_of_the_same_package_one_wins(committed_db, make_user):
    w = World.build(make_user)
    batch = w.receive(w.water, 50, "W-PKG")
    pkg = w.draft(w.package({w.water: 40}), {batch: 20})

    def act(i):
        if i == 0:
            return rs.relief_package_send_to_dispatch(actor=w.lm, package_id=pkg["id"], version=pkg["version"])
        return w.draft(pkg, {batch: 40})

    results = race(2, act)
    assert sorted(r[0] for r in results) == ["ok", "refused"], results
    assert [r[1] for r in results if r[0] == "refused"] == ["stale_version"]
    b = fresh(batch)
    assert (b.usable_qty, b.reserved_qty) in {(30, 0), (50, 40)}
    check_invariants()
