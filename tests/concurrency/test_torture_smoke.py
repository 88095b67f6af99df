"""The torture harness in miniature, inside the normal suite (every backend): a few threads run the
harness's random operations through DRF's test client, then the checker judges the history against
the database; and the checker must flag a history and database that break the rules.

The real thing (a server, client processes, faults) is `make torture`; see docs/RELIABILITY.md.
"""

import sys
import threading
import traceback
import warnings
from datetime import timedelta
from decimal import Decimal

import pytest
from django.core.signals import got_request_exception
from django.db import connection
from django.utils import timezone

from stockledger.core.roles import Role
from stockledger.reconcile.models import RecomputeRun
from stockledger.stock import services as svc
from stockledger.stock.models import Batch, LedgerEntry
from tests import factories as f
from tests.torture import checker
from tests.torture.client import run_client
from tests.torture.history import History
from tests.torture.ops import load_all
from tests.torture.seed import available_ops, seed_catalog
from tests.torture.transport import DjangoTransport

pytestmark = [pytest.mark.concurrency]

THREADS, SECONDS = 3, 3.0


def _run_threads(seed: dict, history: History) -> None:
    ops = {n: op for n, op in load_all().items() if n in seed["available_ops"]}
    errors = []

    def worker(i):
        try:
            run_client(i, seed, DjangoTransport(), history, seconds=SECONDS, ops=ops, key_prefix="smoke")
        except Exception as e:  # noqa: BLE001 - reported below
            errors.append(repr(e))
        finally:
            connection.close()

    threads = [threading.Thread(target=worker, args=(i,)) for i in range(THREADS)]
    for t in threads:
        t.start()
    for t in threads:
        t.join(timeout=SECONDS + 120)
    assert not errors, errors


def _describe(res: checker.Result) -> str:
    return "\n".join(f"{v['kind']}: {v['detail'][:300]}" for v in res.violations[:20])


def test_a_short_concurrent_history_checks_out(committed_db):
    seed = seed_catalog("smoke")
    seed["available_ops"] = available_ops()
    seed["clients"] = 1  # each thread paces recompute and verify as if alone: a few of each in 3 s
    history = History()
    server_errors: list[str] = []

    def on_error(sender, request=None, **kw):  # the exception behind a 500, for the warning below
        exc = sys.exc_info()[1]
        ours = [f for f in traceback.extract_tb(exc.__traceback__) if "/stockledger/" in f.filename]
        where = " <- ".join(f"{f.filename.split('/stockledger/')[-1]}:{f.lineno} {f.line}" for f in ours[::-1][:4])
        server_errors.append(f"{getattr(request, 'path', '?')}: {exc!r} at {where}")

    got_request_exception.connect(on_error)
    try:
        _run_threads(seed, history)
    finally:
        got_request_exception.disconnect(on_error)

    res = checker.check(history.events, [], {}, checker.DbView(), checker.verify_inprocess)

    assert res.ok, _describe(res)
    assert res.stats["by_outcome"].get("ok", 0) >= 10, res.stats
    assert {"receive", "transfer"} <= set(res.stats["by_operation"]), res.stats
    assert "info" not in res.stats["by_outcome"], res.stats
    if server_errors:  # retried with the same key, so no count is wrong; the 500 itself is still a bug
        warnings.warn("500s during the smoke run:\n" + "\n".join(server_errors[:5]), stacklevel=1)


def _op(history: History, client: int, seq: int, f: str, key, outcome: str, status: int, body, req_body=None):
    ident = {"client": client, "op": seq, "f": f, "key": key}
    path = "/api/v1/receipts/" if key else "/api/v1/batches/"
    history.write(
        {"type": "invoke", **ident, "req": {"method": "POST", "path": path, "body": req_body, "role": "clerk"}}
    )
    history.write({"type": outcome, **ident, "status": status, "body": body, "attempts": 1})


def test_the_checker_flags_a_bad_history_and_database(committed_db, make_user):
    clerk = make_user(Role.INVENTORY_CLERK)
    wh, it = f.warehouse(), f.item()
    history = History()
    good_req = {"item_id": it.pk, "warehouse_id": wh.pk, "qty": "10"}
    good = svc.batch_receive(actor=clerk, item_id=it.pk, warehouse_id=wh.pk, qty=10, idempotency_key="fab-good")
    _op(history, 0, 1, "receive", "fab-good", "ok", 201, good, good_req)  # a correct acknowledged write
    _op(history, 0, 2, "receive", "fab-missing", "ok", 201, good, good_req)  # acknowledged, never written
    svc.batch_receive(actor=clerk, item_id=it.pk, warehouse_id=wh.pk, qty=3, idempotency_key="fab-refused")
    refused = {"code": "insufficient_stock", "message": "x", "extra": {}}
    _op(history, 0, 3, "receive", "fab-refused", "fail", 409, refused, {**good_req, "qty": "3"})  # refused, written
    _op(history, 0, 4, "read_batches", None, "ok", 200, {"results": [{"id": 1, "usable_qty": "-1.000"}]})
    drift = {"invariant": "I1", "object_type": "inventory", "object_id": 1, "stored": "3", "derived": "2"}
    _op(history, 0, 5, "verify_read", None, "ok", 200, {"ok": False, "drift": [drift]})  # drift seen mid-run
    changed = {"id": 7, "rows_changed": 2, "summary": {"invariants": {"I4": {"changed": 2}}}}
    _op(history, 0, 6, "recompute", "fab-recompute", "ok", 200, changed)  # an acknowledged run that repaired
    RecomputeRun.objects.create(status="failed", rows_changed=1)  # a run whose answer never came back
    # A ledger row nobody asked for, taking the batch below zero (inserting is all the append-only guard allows).
    batch = Batch.objects.get(pk=good["batch_id"])
    LedgerEntry.objects.create(
        created_at=timezone.now() + timedelta(seconds=1),
        item=it,
        warehouse=wh,
        batch=batch,
        qty_delta=Decimal("-25"),
        kind=LedgerEntry.Kind.ISSUE,
        doc_type="rogue",
        doc_id="1",
        idempotency_key="rogue-write",
        hash="0" * 64,
    )

    res = checker.check(
        history.events, [], {"faults_required": ["kill_worker"]}, checker.DbView(), checker.verify_inprocess
    )

    found = set(res.by_kind())
    assert {
        "ack_missing",
        "failed_write_present",
        "negative_observed",
        "unrequested_write",
        "negative_in_replay",
        "replay_mismatch",
        "verify_failed",
        "faults_not_executed",
        "verify_observed_drift",
        "recompute_changed",
    } <= found, _describe(res)
    assert res.by_kind()["recompute_changed"] == 2, _describe(res)
    assert not any(v.get("key") == "fab-good" for v in res.violations), _describe(res)
