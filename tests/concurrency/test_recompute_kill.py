"""A real `stockledger recompute` process, SIGKILLed in the middle of a chunk, and then resumed.

The process runs with tests/concurrency/slow_recompute_settings.py (each chunk's repair sleeps after
writing, inside the chunk's transaction), against this test's committed database. It is killed once
at least one chunk has committed: the database rolls the open chunk back, the lock dies with the
process, the run stays `running` with the checkpoint of its last committed chunk. `--resume` then
finishes it: every drifted row repaired exactly once, each with one audit row under the run's job id.
Every backend.
"""

import os
import signal
import subprocess
import sys
import time
from decimal import Decimal
from pathlib import Path

import pytest
from django.conf import settings
from django.db import connection

from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.reconcile.models import RecomputeRun
from stockledger.reconcile.services import RecomputeRunning, recompute, system_user, verify
from stockledger.stock import services as svc
from stockledger.stock.models import Batch
from tests import factories as f

pytestmark = [pytest.mark.concurrency]
ROOT = Path(__file__).resolve().parents[2]
ITEMS = 6


def database_url() -> str:
    """This test's own database, for another process."""
    s = connection.settings_dict
    if connection.vendor == "sqlite":
        return f"sqlite:///{s['NAME']}"
    scheme = {"postgresql": "postgres", "mysql": "mysql"}[connection.vendor]
    return f"{scheme}://{s['USER']}:{s['PASSWORD'] or ''}@{s['HOST'] or '127.0.0.1'}:{s['PORT']}/{s['NAME']}"


def wait_for(predicate, timeout: float = 60):
    end = time.monotonic() + timeout
    while time.monotonic() < end:
        value = predicate()
        if value:
            return value
        time.sleep(0.05)
    raise AssertionError("timed out")


def test_a_recompute_killed_with_sigkill_resumes_to_a_clean_result(committed_db, make_user):
    boss = make_user(Role.ADMIN)
    system_user()
    wh = f.warehouse()
    batches = []
    for n in range(ITEMS):  # one drifted batch per item: one chunk each with --chunk-size 1
        item = f.item(f.product_type())
        batches.append(svc.batch_receive(actor=boss, item_id=item.pk, warehouse_id=wh.pk, qty=10 + n)["batch_id"])
    Batch.objects.filter(pk__in=batches).update(usable_qty=Decimal(999))
    assert {d.object_id for d in verify("I4").drift} == set(batches)

    env = {
        **os.environ,
        "DATABASE_URL": database_url(),
        "DJANGO_SETTINGS_MODULE": "tests.concurrency.slow_recompute_settings",
        "STOCKLEDGER_VAR_DIR": str(settings.VAR_DIR),  # the SQLite run lock is a file there
        "STOCKLEDGER_TEST_REPAIR_SLEEP": "1",
        "PYTHONPATH": os.pathsep.join([str(ROOT), str(ROOT / "src"), os.environ.get("PYTHONPATH", "")]),
    }
    cmd = [sys.executable, "-m", "stockledger", "recompute", "--scope", "I1,I4", "--chunk-size", "1"]
    proc = subprocess.Popen(cmd, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT, cwd=ROOT)
    try:
        run = wait_for(lambda: RecomputeRun.objects.filter(checkpoint__isnull=False).first())
        time.sleep(0.3)  # into the next chunk's transaction (each sleeps 1 s after writing)
    finally:
        proc.send_signal(signal.SIGKILL)
        output = proc.communicate(timeout=30)[0].decode(errors="replace")
    assert proc.returncode == -signal.SIGKILL, output

    run.refresh_from_db()
    assert run.status == "running"
    committed = AuditLog.objects.filter(job_id=str(run.pk), action="recompute.repair").count()
    assert 1 <= committed < ITEMS and run.rows_changed == committed  # counters committed with their chunk
    assert len(verify("I4").drift) == ITEMS - committed

    def resume():  # the server may take a moment to notice the dead connection and free its lock
        try:
            return recompute(resume=True)
        except RecomputeRunning:
            return None

    done = wait_for(resume, timeout=30)
    assert (done.pk, done.status, done.rows_changed) == (run.pk, "done", ITEMS)
    audits = AuditLog.objects.filter(job_id=str(run.pk), action="recompute.repair", object_type="batch")
    assert sorted(int(a.object_id) for a in audits) == sorted(batches)  # each exactly once
    assert verify("I1,I2,I4").ok
    assert [b.usable_qty for b in Batch.objects.filter(pk__in=batches).order_by("pk")] == [
        Decimal(10 + n) for n in range(ITEMS)
    ]
