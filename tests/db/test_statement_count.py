"""Statement budget of the engine's hot path: a 3-line issue (3 batches of 3 items) on every backend.

Counting statements is allowed in tests (timing is not: that is bench/engine.py). The budget: BEGIN, lock
batches, item units, insert document, lock inventory, update batches (one CASE), update inventory (one
CASE), insert ledger, insert audit, COMMIT = 10 today; with an idempotency key, + the key's lookup and
the insert of its record = 12. The test allows 12 either way. Inside the test's own transaction the
service's BEGIN/COMMIT are a SAVEPOINT/RELEASE pair; CaptureQueriesContext shows them, so they count.
"""

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from stockledger.core.roles import Role
from stockledger.stock import services as svc
from stockledger.stock.models import Batch, LedgerEntry
from tests import factories as f

pytestmark = pytest.mark.django_db

BUDGET = 12


def _three_batches(clerk):
    wh = f.warehouse()
    pt = f.product_type(unit="piece", decimals=0)
    ids = []
    for _ in range(3):
        item = f.item(pt)
        r = svc.batch_receive(actor=clerk, item_id=item.pk, warehouse_id=wh.pk, qty=1000)
        ids.append(r["batch_id"])
    return ids


def _statements(ctx) -> list[str]:
    return [q["sql"] for q in ctx.captured_queries]


@pytest.mark.parametrize("key", [None, "issue-key-1"], ids=["no-key", "idempotency-key"])
def test_three_line_issue_stays_within_the_statement_budget(make_user, key):
    clerk = make_user(Role.INVENTORY_CLERK)
    a, b, c = _three_batches(clerk)
    # First call caches the user's roles and warehouse scope on the user object (as a request would).
    svc.stock_issue(actor=clerk, lines=[{"batch_id": a, "qty": 1}])

    lines = [{"batch_id": a, "qty": 1}, {"batch_id": b, "qty": 1}, {"batch_id": c, "qty": 1}]
    with CaptureQueriesContext(connection) as ctx:
        out = svc.stock_issue(actor=clerk, lines=lines, idempotency_key=key)

    sql = _statements(ctx)
    # In the test's transaction, the service's transaction is a savepoint: both ends are in the count.
    assert sum("SAVEPOINT" in s.upper() for s in sql) == 2, sql
    assert len(sql) <= BUDGET, f"{len(sql)} statements:\n" + "\n".join(sql)
    # ...and the issue did what it should, so the budget is not met by skipping work.
    assert LedgerEntry.objects.filter(doc_type="issue", doc_id=str(out["document_id"])).count() == 3
    assert all(Batch.objects.get(pk=pk).usable_qty == (998 if pk == a else 999) for pk in (a, b, c))
