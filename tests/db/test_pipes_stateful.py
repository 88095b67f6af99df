"""Random sequences of pipe operations against a small in-memory model (Hypothesis, stateful).

Production, cut, split, combine, dispatch, scrap, scrap revert, dispatch revert and return revert run
in any order; after every step each batch's current quantity and stock records must match the model,
and I1–I6 must hold. Each example runs in a savepoint that is rolled back at its end.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from decimal import Decimal

import pytest
from django.db import transaction
from hypothesis import strategies as st
from hypothesis.stateful import RuleBasedStateMachine, invariant, precondition, rule, run_state_machine_as_test

from stockledger.core.errors import Conflict, ValidationError
from stockledger.core.roles import Role
from stockledger.pieces import services as svc
from stockledger.pieces.models import CutPiece, SparePiece, Stock
from stockledger.reconcile.services import verify
from stockledger.stock.models import Batch
from tests import factories as f
from tests.db.test_pipes_support import bundles, cuts, hdpe, pipe_drift, rolls, spares, sprinkler
from tests.hypothesis_settings import stateful_settings

pytestmark = pytest.mark.django_db
D = Decimal
LENGTHS = [D(100), D("250.5"), D(500)]


@dataclass
class Model:
    """What one batch holds: records by id -> [count, size], IN_STOCK pieces by id (-> length)."""

    kind: str
    item_id: int
    rolls: dict[int, list] = field(default_factory=dict)
    bundles: dict[int, list] = field(default_factory=dict)
    cut: dict[int, Decimal] = field(default_factory=dict)
    spares: set[int] = field(default_factory=set)
    active: bool = True
    dispatched: bool = False

    def total(self) -> Decimal:
        return (
            sum((c * size for c, size in self.rolls.values()), D(0))
            + sum((D(c * size) for c, size in self.bundles.values()), D(0))
            + sum(self.cut.values(), D(0))
            + len(self.spares)
        )


def load(batch_id: int, kind: str, item_id: int) -> Model:
    """A model of a batch just created (production or return), read from its records and pieces."""
    m = Model(kind, item_id)
    for s in Stock.objects.filter(batch_id=batch_id):
        if s.stock_type == "FULL_ROLL":
            m.rolls[s.pk] = [s.quantity, s.length_per_unit]
        elif s.stock_type == "BUNDLE":
            m.bundles[s.pk] = [s.quantity, s.pieces_per_bundle]
    m.cut = dict(
        CutPiece.objects.filter(stock__batch_id=batch_id, status="IN_STOCK").values_list("pk", "length_meters")
    )
    m.spares = set(SparePiece.objects.filter(stock__batch_id=batch_id, status="IN_STOCK").values_list("pk", flat=True))
    return m


class PipeMachine(RuleBasedStateMachine):
    clerk = manager = customer = None

    def __init__(self):
        super().__init__()
        self.atomic = transaction.atomic()
        self.atomic.__enter__()
        self.items = {"hdpe": hdpe(od=90), "sprinkler": sprinkler(od=25)}
        self.batches: dict[int, Model] = {}
        self.scraps: list[dict] = []  # {"id", "batch", "rolls", "bundles", "cut", "spares", "reverted"}
        self.dispatches: list[dict] = []  # {"id", "returned", "content": {item_id: ...}}
        self.returns: list[dict] = []  # {"id", "batches", "reverted"}

    def teardown(self):
        transaction.set_rollback(True)
        self.atomic.__exit__(None, None, None)

    def active(self, kind=None, has=None):
        return sorted(
            pk
            for pk, m in self.batches.items()
            if m.active and (kind is None or m.kind == kind) and (has is None or has(m))
        )

    # --- intake -------------------------------------------------------------------------------------

    @rule(n=st.integers(0, 3), length=st.sampled_from(LENGTHS), pieces=st.lists(st.sampled_from(LENGTHS), max_size=3))
    def produce_hdpe(self, n, length, pieces):
        lines = ([rolls(n, length)] if n else []) + ([cuts(*pieces)] if pieces else [])
        if not lines:
            with pytest.raises(ValidationError):
                svc.production_create(actor=self.clerk, item_id=self.items["hdpe"].pk, lines=[rolls(0, length)])
            return
        r = svc.production_create(actor=self.clerk, item_id=self.items["hdpe"].pk, lines=lines)
        self.batches[r["batch_id"]] = load(r["batch_id"], "hdpe", self.items["hdpe"].pk)
        assert self.batches[r["batch_id"]].total() == n * length + sum(pieces, D(0))

    @rule(n=st.integers(0, 3), size=st.integers(1, 6), k=st.integers(0, 8))
    def produce_sprinkler(self, n, size, k):
        lines = ([bundles(n, size)] if n else []) + ([spares(k)] if k else [])
        if not lines:
            return
        r = svc.production_create(actor=self.clerk, item_id=self.items["sprinkler"].pk, lines=lines)
        self.batches[r["batch_id"]] = load(r["batch_id"], "sprinkler", self.items["sprinkler"].pk)
        assert self.batches[r["batch_id"]].total() == n * size + k

    # --- transformations ----------------------------------------------------------------------------

    @precondition(lambda self: self.active("hdpe", lambda m: m.cut or any(c for c, _ in m.rolls.values())))
    @rule(data=st.data())
    def cut(self, data):
        b = data.draw(st.sampled_from(self.active("hdpe", lambda m: m.cut or any(c for c, _ in m.rolls.values()))))
        m = self.batches[b]
        sources = [("roll", pk) for pk, (c, _) in m.rolls.items() if c] + [("piece", pk) for pk in m.cut]
        what, pk = data.draw(st.sampled_from(sorted(sources)))
        length = m.rolls[pk][1] if what == "roll" else m.cut[pk]
        if length <= D("0.001"):
            return
        a = D(data.draw(st.integers(1, int(length * 1000) - 1))) / 1000
        if what == "roll":
            r = svc.stock_cut(actor=self.clerk, stock_id=pk, piece1_length=a, piece2_length=length - a)
            m.rolls[pk][0] -= 1
        else:
            stock = CutPiece.objects.get(pk=pk).stock_id
            r = svc.stock_cut(actor=self.clerk, stock_id=stock, piece_id=pk, piece1_length=a, piece2_length=length - a)
            del m.cut[pk]
        m.cut.update(zip(r["piece_ids"], (a, length - a), strict=True))

    @precondition(lambda self: self.active("sprinkler", lambda m: any(c for c, _ in m.bundles.values())))
    @rule(data=st.data())
    def split(self, data):
        b = data.draw(st.sampled_from(self.active("sprinkler", lambda m: any(c for c, _ in m.bundles.values()))))
        m = self.batches[b]
        pk = data.draw(st.sampled_from(sorted(pk for pk, (c, _) in m.bundles.items() if c)))
        r = svc.bundle_split(actor=self.clerk, stock_id=pk)
        m.bundles[pk][0] -= 1
        m.spares |= set(r["piece_ids"])
        assert len(r["piece_ids"]) == m.bundles[pk][1]

    @precondition(lambda self: self.active("sprinkler", lambda m: m.spares))
    @rule(data=st.data())
    def combine(self, data):
        b = data.draw(st.sampled_from(self.active("sprinkler", lambda m: m.spares)))
        m = self.batches[b]
        size = data.draw(st.integers(1, len(m.spares)))
        k = data.draw(st.integers(1, len(m.spares) // size))
        stock = SparePiece.objects.get(pk=min(m.spares)).stock_id
        r = svc.spares_combine(actor=self.clerk, stock_id=stock, bundle_size=size, quantity=k * size)
        m.spares -= set(r["piece_ids"])
        m.bundles[r["bundle_stock_id"]] = [k, size]

    # --- taking: dispatch and scrap -----------------------------------------------------------------

    def draw_take(self, data, b) -> tuple[list, dict]:
        """Lines taking something from batch b, and what they take (for the model)."""
        m = self.batches[b]
        lines, took = [], {"rolls": [], "bundles": [], "cut": [], "spares": []}
        for pk, (c, size) in sorted(m.rolls.items()) + sorted(m.bundles.items()):
            if c and data.draw(st.booleans()):
                n = data.draw(st.integers(1, c))
                lines.append({"stock_id": pk, "quantity": n})
                took["rolls" if pk in m.rolls else "bundles"].append((pk, n, size))
        if m.cut and data.draw(st.booleans()):
            chosen = data.draw(st.lists(st.sampled_from(sorted(m.cut)), min_size=1, unique=True))
            lines.append({"stock_id": CutPiece.objects.get(pk=chosen[0]).stock_id, "piece_ids": chosen})
            took["cut"] = [(pk, m.cut[pk]) for pk in chosen]
        if m.spares and data.draw(st.booleans()):
            chosen = data.draw(st.lists(st.sampled_from(sorted(m.spares)), min_size=1, unique=True))
            lines.append({"stock_id": SparePiece.objects.get(pk=chosen[0]).stock_id, "piece_ids": chosen})
            took["spares"] = chosen
        return lines, took

    def take(self, b, took, sign=-1):
        m = self.batches[b]
        for pk, n, _ in took["rolls"]:
            m.rolls[pk][0] += sign * n
        for pk, n, _ in took["bundles"]:
            m.bundles[pk][0] += sign * n
        for pk, length in took["cut"]:
            if sign < 0:
                del m.cut[pk]
            else:
                m.cut[pk] = length
        m.spares = m.spares - set(took["spares"]) if sign < 0 else m.spares | set(took["spares"])

    @precondition(lambda self: self.active(has=lambda m: m.total() > 0))
    @rule(data=st.data())
    def dispatch(self, data):
        b = data.draw(st.sampled_from(self.active(has=lambda m: m.total() > 0)))
        lines, took = self.draw_take(data, b)
        if not lines:
            return
        counted = [x for x in lines if "quantity" in x]
        if counted and data.draw(st.booleans()):  # one more unit than the record holds: refused, no change
            m = self.batches[b]
            held = (m.rolls | m.bundles)[counted[0]["stock_id"]][0]
            bad = [{**x, "quantity": held + 1} if x is counted[0] else x for x in lines]
            with pytest.raises(Conflict) as err:
                svc.dispatch_create(actor=self.clerk, customer_id=self.customer.pk, lines=bad)
            assert err.value.code == "insufficient_stock"
        r = svc.dispatch_create(actor=self.clerk, customer_id=self.customer.pk, lines=lines)
        self.take(b, took)
        self.batches[b].dispatched = True
        self.dispatches.append({"id": r["dispatch_id"], "returned": False})

    @precondition(lambda self: self.active(has=lambda m: m.total() > 0))
    @rule(data=st.data())
    def scrap(self, data):
        b = data.draw(st.sampled_from(self.active(has=lambda m: m.total() > 0)))
        lines, took = self.draw_take(data, b)
        if not lines:
            return
        r = svc.scrap_create(actor=self.clerk, reason="damaged", lines=lines)
        self.take(b, took)
        self.scraps.append({"id": r["scrap_id"], "batch": b, "took": took, "reverted": False})

    # --- reverts ------------------------------------------------------------------------------------

    @precondition(lambda self: self.scraps)
    @rule(data=st.data())
    def revert_scrap(self, data):
        s = data.draw(st.sampled_from(self.scraps))
        if s["reverted"] or not self.batches[s["batch"]].active:
            with pytest.raises(Conflict):
                svc.scrap_revert(actor=self.manager, scrap_id=s["id"])
            return
        svc.scrap_revert(actor=self.manager, scrap_id=s["id"])
        self.take(s["batch"], s["took"], sign=+1)
        s["reverted"] = True

    @precondition(lambda self: self.dispatches)
    @rule(data=st.data())
    def revert_dispatch(self, data):
        d = data.draw(st.sampled_from(self.dispatches))
        if d["returned"]:
            with pytest.raises(Conflict):
                svc.dispatch_revert(actor=self.clerk, dispatch_id=d["id"])
            return
        r = svc.dispatch_revert(actor=self.clerk, dispatch_id=d["id"])
        d["returned"] = True
        for out in r["batches"]:
            kind = "hdpe" if out["item_id"] == self.items["hdpe"].pk else "sprinkler"
            self.batches[out["batch_id"]] = load(out["batch_id"], kind, out["item_id"])
        self.returns.append({"id": r["return_id"], "batches": r["batch_ids"], "reverted": False, "dispatch": d})

    @precondition(lambda self: self.returns)
    @rule(data=st.data())
    def revert_return(self, data):
        ret = data.draw(st.sampled_from(self.returns))
        if ret["reverted"] or any(self.batches[b].dispatched for b in ret["batches"]):
            with pytest.raises(Conflict):
                svc.return_revert(actor=self.manager, return_id=ret["id"])
            return
        svc.return_revert(actor=self.manager, return_id=ret["id"])
        ret["reverted"], ret["dispatch"]["returned"] = True, False
        for b in ret["batches"]:
            self.batches[b] = Model(self.batches[b].kind, self.batches[b].item_id, active=False)

    # --- after every step ---------------------------------------------------------------------------

    @invariant()
    def batches_match_the_model(self):
        stored = {b.pk: b for b in Batch.objects.filter(pk__in=list(self.batches))}
        for pk, m in self.batches.items():
            b = stored[pk]
            assert b.usable_qty == m.total(), (pk, b.usable_qty, m)
            assert b.status == ("ACTIVE" if m.active else "REVERTED")
            quantities = dict(Stock.objects.filter(batch_id=pk).values_list("pk", "quantity"))
            for rec, (c, _) in (m.rolls | m.bundles).items():
                assert quantities[rec] == c
            kinds = defaultdict(int)
            for rec in Stock.objects.filter(batch_id=pk, stock_type__in=["CUT_ROLL", "SPARE"]):
                kinds[rec.stock_type] = rec.quantity
            assert (kinds["CUT_ROLL"], kinds["SPARE"]) == (len(m.cut), len(m.spares))

    @invariant()
    def invariants_hold(self):
        assert pipe_drift() == []
        report = verify(["I1", "I2", "I3", "I4", "I5", "I6"])
        assert report.ok, report.table()


def test_random_pipe_operations_keep_every_total_equal_to_its_detail(db, make_user):
    PipeMachine.clerk = make_user(Role.INVENTORY_CLERK)
    PipeMachine.manager = make_user(Role.LOGISTICS_MANAGER)
    PipeMachine.customer = f.customer()
    run_state_machine_as_test(
        PipeMachine,
        settings=stateful_settings(15, step_count=20),
    )
