"""Hypothesis drives random sequences of engine operations against a simple in-memory model.

After every step the database must agree with the model (batch usable/reserved, reservations per
document, inventory rows = Σ batches) and verify must find no drift.
"""

from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import strategies as st
from hypothesis.stateful import (
    RuleBasedStateMachine,
    initialize,
    invariant,
    precondition,
    rule,
    run_state_machine_as_test,
)

from stockledger.core.errors import Conflict, DomainError
from stockledger.core.roles import Role
from stockledger.stock import services as svc
from stockledger.stock.models import Batch, Inventory, Reservation
from tests import factories as f
from tests.hypothesis_settings import stateful_settings

pytestmark = pytest.mark.django_db
qty = st.integers(min_value=1, max_value=30)


def make_machine(users):
    boss = users

    class Engine(RuleBasedStateMachine):
        def __init__(self):
            super().__init__()
            # Each example runs in a savepoint rolled back at teardown: examples never see each other.
            self._atomic = transaction.atomic()
            self._atomic.__enter__()

        def teardown(self):
            transaction.set_rollback(True)
            self._atomic.__exit__(None, None, None)

        @initialize()
        def setup(self):
            self.items = [f.item(), f.item()]
            self.whs = [f.warehouse(), f.warehouse()]
            self.usable: dict[int, Decimal] = {}
            self.reserved: dict[int, Decimal] = {}
            self.held: dict[int, dict[int, Decimal]] = {}  # doc -> {batch: qty}

        def available(self, b):
            return self.usable[b] - self.reserved[b]

        @rule(i=st.integers(0, 1), w=st.integers(0, 1), q=qty)
        def receive(self, i, w, q):
            r = svc.batch_receive(actor=boss, item_id=self.items[i].pk, warehouse_id=self.whs[w].pk, qty=q)
            self.usable[r["batch_id"]], self.reserved[r["batch_id"]] = Decimal(q), Decimal(0)

        @precondition(lambda self: self.usable)
        @rule(data=st.data(), q=qty)
        def issue(self, data, q):
            b = data.draw(st.sampled_from(sorted(self.usable)))
            try:
                svc.stock_issue(actor=boss, lines=[{"batch_id": b, "qty": q}])
            except Conflict as e:
                assert q > self.available(b), e.message
                return
            assert q <= self.available(b)
            self.usable[b] -= q

        @precondition(lambda self: self.usable)
        @rule(data=st.data(), doc=st.integers(1, 3), q=st.integers(0, 20))
        def reserve(self, data, doc, q):
            b = data.draw(st.sampled_from(sorted(self.usable)))
            desired = dict(self.held.get(doc, {}))
            if q:
                desired[b] = Decimal(q)
            else:
                desired.pop(b, None)
            old = self.held.get(doc, {}).get(b, Decimal(0))
            try:
                svc.reservation_apply(actor=boss, doc_type="sm", doc_id=doc, allocations=desired)
            except DomainError:
                assert Decimal(q) - old > self.available(b)
                return
            self.reserved[b] += Decimal(q) - old
            self.held[doc] = {k: v for k, v in desired.items() if v}

        @precondition(lambda self: any(self.held.values()))
        @rule(data=st.data())
        def consume(self, data):
            doc = data.draw(st.sampled_from(sorted(d for d, h in self.held.items() if h)))
            svc.reservation_consume(actor=boss, doc_type="sm", doc_id=doc)
            for b, q in self.held.pop(doc).items():
                self.usable[b] -= q
                self.reserved[b] -= q

        @precondition(lambda self: self.usable)
        @rule(data=st.data(), q=qty)
        def transfer(self, data, q):
            b = data.draw(st.sampled_from(sorted(self.usable)))
            src = Batch.objects.get(pk=b)
            dest = self.whs[1] if src.warehouse_id == self.whs[0].pk else self.whs[0]
            try:
                out = svc.stock_transfer(actor=boss, lines=[{"batch_id": b, "qty": q}], to_warehouse_id=dest.pk)
            except Conflict:
                assert q > self.available(b)
                return
            self.usable[b] -= q
            t = out["to"][0]["batch_id"]
            self.usable[t] = self.usable.get(t, Decimal(0)) + q
            self.reserved.setdefault(t, Decimal(0))

        @invariant()
        def database_matches_model(self):
            if not hasattr(self, "usable"):
                return
            rows = {b.pk: (b.usable_qty, b.reserved_qty) for b in Batch.objects.all()}
            assert rows == {b: (self.usable[b], self.reserved[b]) for b in self.usable}
            held = {}
            for r in Reservation.objects.filter(doc_type="sm"):
                held.setdefault(int(r.doc_id), {})[r.batch_id] = r.qty
            assert held == {d: h for d, h in self.held.items() if h}
            for inv in Inventory.objects.all():
                batches = [
                    b
                    for b in self.usable
                    if Batch.objects.get(pk=b).item_id == inv.item_id
                    and Batch.objects.get(pk=b).warehouse_id == inv.warehouse_id
                ]
                assert inv.usable_qty == sum((self.usable[b] for b in batches), Decimal(0))
                assert inv.reserved_qty == sum((self.reserved[b] for b in batches), Decimal(0))

    return Engine


def test_engine_agrees_with_a_simple_model(make_user):
    machine = make_machine(make_user(Role.ADMIN))
    run_state_machine_as_test(
        machine,
        settings=stateful_settings(8, step_count=15),
    )
