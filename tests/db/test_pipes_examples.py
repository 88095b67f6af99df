"""Every worked example of the pipe-factory spec (seed 003), with its exact numbers, through the
services on every backend. Each builds its starting state with real operations (docs/pipes.md,
"Consistent starting states") and ends with every invariant checked (I1–I8, and I5/I6 directly)."""

import re
from datetime import date

import pytest

from stockledger.core.roles import Role
from stockledger.pieces import services as svc
from stockledger.pieces.models import CutPiece, Operation, PieceStatus, SparePiece, Stock
from stockledger.pieces.selectors import batch_detail
from stockledger.stock.models import Batch, LedgerEntry
from tests import factories as f
from tests.db.test_pipes_support import (
    D,
    assert_consistent,
    batch,
    bundles,
    current,
    cuts,
    hdpe,
    lengths,
    piece,
    produce,
    record,
    rolls,
    spare_ids,
    spares,
    sprinkler,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(make_user):
    return make_user(Role.INVENTORY_CLERK)


@pytest.fixture
def manager(make_user):
    return make_user(Role.LOGISTICS_MANAGER)


def batch_123(clerk):
    """Production: 5 full rolls × 500m (the spec's batch #123)."""
    return produce(clerk, hdpe(), rolls(5, 500), batch_no="123", batch_date=date(2025, 12, 1))["batch_id"]


def cut_123(clerk, b):
    """Cut roll #3 (500m) into [200m + 300m]."""
    return svc.stock_cut(actor=clerk, stock_id=record(b, "FULL_ROLL").pk, piece1_length="200", piece2_length="300")


def batch_456(clerk):
    """Production: 3 bundles × 50 pieces (the spec's batch #456)."""
    return produce(clerk, sprinkler(), bundles(3, 50), batch_no="456")["batch_id"]


# --- 1. production -------------------------------------------------------------------------------


def test_production_of_five_full_rolls_makes_one_batch_of_2500m(clerk):
    r = produce(clerk, hdpe(), rolls(5, 500), batch_no="123")
    b = batch(r["batch_id"])
    assert (b.batch_no, b.initial_qty, b.usable_qty, b.origin) == ("123", D(2500), D(2500), "production")
    assert D(r["current_quantity"]) == D(2500)
    fr = record(b.pk, "FULL_ROLL")
    assert (fr.quantity, fr.length_per_unit) == (5, D(500))
    assert LedgerEntry.objects.get(batch=b).qty_delta == D(2500)
    assert batch_detail(b)["stock_records"][0]["display"] == "5 Full Rolls (500m each) = 2,500m"
    assert_consistent()


def test_production_of_three_cut_pieces_makes_500m_with_a_trigger_counted_cut_roll(clerk):
    b = produce(clerk, hdpe(), cuts(200, 150, 150))["batch_id"]
    assert current(b) == D(500)
    assert record(b, "CUT_ROLL").quantity == 3
    assert lengths(b) == [200, 150, 150]
    assert batch_detail(batch(b))["stock_records"][0]["display"] == "3 Cut Pieces (200m, 150m, 150m) = 500m"
    assert_consistent()


def test_production_of_three_bundles_of_fifty_makes_150_pieces(clerk):
    b = produce(clerk, sprinkler(), bundles(3, 50))["batch_id"]
    assert current(b) == D(150)
    bundle = record(b, "BUNDLE")
    assert (bundle.quantity, bundle.pieces_per_bundle) == (3, 50)
    assert batch_detail(batch(b))["stock_records"][0]["display"] == "3 Bundles (50 pieces each) = 150 pieces"
    assert_consistent()


def test_production_of_twenty_five_spares_makes_25_pieces(clerk):
    b = produce(clerk, sprinkler(), spares(25))["batch_id"]
    assert current(b) == D(25)
    assert record(b, "SPARE").quantity == 25
    assert SparePiece.objects.filter(stock__batch_id=b, piece_count=1, status=PieceStatus.IN_STOCK).count() == 25
    assert batch_detail(batch(b))["stock_records"][0]["display"] == "25 Spare Pieces = 25 pieces"
    assert_consistent()


# --- 3. cut --------------------------------------------------------------------------------------


def test_cutting_roll_3_into_200_and_300_keeps_batch_123_at_2500m(clerk):
    b = batch_123(clerk)
    ledger_before = LedgerEntry.objects.filter(batch_id=b).count()
    r = cut_123(clerk, b)
    assert current(b) == D(2500)
    assert record(b, "FULL_ROLL").quantity == 4
    cut_roll = record(b, "CUT_ROLL")
    assert (r["new_stock_id"], cut_roll.quantity) == (cut_roll.pk, 2)
    assert lengths(b) == [200, 300]
    assert sorted(r["piece_ids"]) == sorted(CutPiece.objects.filter(stock=cut_roll).values_list("pk", flat=True))
    assert LedgerEntry.objects.filter(batch_id=b).count() == ledger_before  # a transformation: no ledger row
    op = Operation.objects.get(pk=r["operation_id"])
    assert op.kind == "CUT"
    assert all(p.created_by_op_id == op.pk for p in CutPiece.objects.filter(stock=cut_roll))
    assert all(p.cut_from_stock_id == record(b, "FULL_ROLL").pk for p in CutPiece.objects.filter(stock=cut_roll))
    assert_consistent()


def test_cutting_the_300m_piece_into_150_and_150_leaves_200_150_150(clerk):
    b = batch_123(clerk)
    cut_123(clerk, b)
    parent = piece(b, 300)
    r = svc.stock_cut(
        actor=clerk, stock_id=record(b, "CUT_ROLL").pk, piece_id=parent.pk, piece1_length="150", piece2_length="150"
    )
    assert current(b) == D(2500)
    assert record(b, "CUT_ROLL").quantity == 3
    assert lengths(b) == [200, 150, 150]
    parent.refresh_from_db()
    assert parent.status == PieceStatus.CUT
    assert sorted(parent.cut_into.values_list("pk", flat=True)) == sorted(r["piece_ids"])
    assert_consistent()


# --- 4. split and 5. combine ---------------------------------------------------------------------


def test_splitting_bundle_2_of_batch_456_makes_50_spares_and_keeps_150(clerk):
    b = batch_456(clerk)
    r = svc.bundle_split(actor=clerk, stock_id=record(b, "BUNDLE").pk)
    assert current(b) == D(150)
    assert record(b, "BUNDLE").quantity == 2
    assert record(b, "SPARE").quantity == 50
    assert len(r["piece_ids"]) == 50
    assert SparePiece.objects.filter(stock__batch_id=b, split_from_stock=record(b, "BUNDLE")).count() == 50
    assert_consistent()


def test_combining_50_of_75_spares_into_a_bundle_leaves_25_spares_and_150(clerk):
    b = batch_456(clerk)
    bundle = record(b, "BUNDLE")
    svc.bundle_split(actor=clerk, stock_id=bundle.pk)
    svc.bundle_split(actor=clerk, stock_id=bundle.pk)
    spare = record(b, "SPARE")
    svc.spares_combine(actor=clerk, stock_id=spare.pk, bundle_size=25, quantity=25)  # custom size
    assert record(b, "SPARE").quantity == 75  # the spec's "before"
    r = svc.spares_combine(actor=clerk, stock_id=spare.pk, bundle_size=50, quantity=50)
    assert current(b) == D(150)
    assert record(b, "SPARE").quantity == 25
    new = Stock.objects.get(pk=r["bundle_stock_id"])
    assert (new.stock_type, new.quantity, new.pieces_per_bundle) == ("BUNDLE", 1, 50)
    assert SparePiece.objects.filter(combined_into=new, status=PieceStatus.COMBINED).count() == 50
    assert record(b, "BUNDLE", pk=bundle.pk).quantity == 1  # the original bundle record is not refilled
    assert_consistent()


# --- 6. dispatch ---------------------------------------------------------------------------------


def test_complex_dispatch_leaves_1300m_on_batch_123_and_100_pieces_on_batch_456(clerk):
    b123 = batch_123(clerk)
    cut_123(clerk, b123)  # 4 rolls × 500m + [200, 300] = 2,500m
    b456 = batch_456(clerk)
    r = svc.dispatch_create(
        actor=clerk,
        customer_id=f.customer().pk,
        invoice_number="INV-42",
        lines=[
            {"stock_id": record(b123, "FULL_ROLL").pk, "quantity": 2},
            {"stock_id": record(b123, "CUT_ROLL").pk, "piece_ids": [piece(b123, 200).pk]},
            {"stock_id": record(b456, "BUNDLE").pk, "quantity": 1},
        ],
    )
    assert re.fullmatch(r"DSP-\d{4}-\d{6}", r["dispatch_number"])
    assert current(b123) == D(1300)
    assert current(b456) == D(100)
    assert record(b123, "FULL_ROLL").quantity == 2
    assert record(b456, "BUNDLE").quantity == 2
    assert CutPiece.objects.get(stock__batch_id=b123, length_meters=200).status == PieceStatus.DISPATCHED
    assert lengths(b123) == [300]
    issued = LedgerEntry.objects.filter(doc_type="pipe_dispatch", doc_id=str(r["dispatch_id"]))
    assert sorted(e.qty_delta for e in issued) == [D(-1200), D(-50)]
    assert batch(b123).initial_qty == D(2500)
    assert_consistent()


# --- 7. scrap and 8B. scrap revert ---------------------------------------------------------------


def test_scrapping_100_of_1000_spares_leaves_900_and_its_revert_restores_1000(clerk, manager):
    b = produce(clerk, sprinkler(), spares(1000), batch_no="789")["batch_id"]
    r = svc.scrap_create(
        actor=clerk, reason="crushed by forklift", lines=[{"stock_id": record(b, "SPARE").pk, "quantity": 100}]
    )
    assert current(b) == D(900)
    assert record(b, "SPARE").quantity == 900
    assert SparePiece.objects.filter(stock__batch_id=b, status=PieceStatus.SCRAPPED).count() == 100
    assert_consistent()
    svc.scrap_revert(actor=manager, scrap_id=r["scrap_id"])
    assert current(b) == D(1000)
    assert record(b, "SPARE").quantity == 1000
    assert SparePiece.objects.filter(stock__batch_id=b, status=PieceStatus.IN_STOCK).count() == 1000
    restore = LedgerEntry.objects.get(batch_id=b, kind="RESTORE")
    assert restore.qty_delta == D(100)
    assert restore.reverts.doc_type == "pipe_scrap"
    assert_consistent()


# --- 8A. dispatch revert and the batch detail view -----------------------------------------------


def test_batch_123_detail_view_and_revert_dispatch_into_new_batch_999(clerk):
    b = batch_123(clerk)
    cut_123(clerk, b)
    svc.stock_cut(
        actor=clerk, stock_id=record(b, "CUT_ROLL").pk, piece_id=piece(b, 300).pk, piece1_length=150, piece2_length=150
    )
    d = svc.dispatch_create(
        actor=clerk,
        customer_id=f.customer().pk,
        lines=[{"stock_id": record(b, "CUT_ROLL").pk, "piece_ids": [piece(b, 200).pk]}],
    )
    assert current(b) == D(2300)
    assert batch_detail(batch(b))["display"] == [
        "Batch #123 (HDPE OD=110, PN=8, PE=63) - Created: 2025-12-01",
        "Initial Quantity: 2,500m | Current Quantity: 2,300m",
        "Stock Records:",
        "- 4 Full Rolls (500m each) = 2,000m",
        "- 2 Cut Pieces (150m, 150m) = 300m",
        "Total Available: 2,300m",
    ]
    r = svc.dispatch_revert(actor=clerk, dispatch_id=d["dispatch_id"], batch_no="999")
    new = batch(r["new_batch_id"])
    assert (new.batch_no, new.initial_qty, new.usable_qty, new.origin) == ("999", D(200), D(200), "return")
    assert lengths(new.pk) == [200]
    assert current(b) == D(2300)  # never restored
    assert Operation.objects.get(pk=r["return_id"]).reverts_id == d["dispatch_id"]
    assert_consistent()


# --- 8C. return revert ---------------------------------------------------------------------------


def test_reverting_the_return_of_batch_888_takes_its_500m_to_zero(clerk, manager):
    r = svc.return_create(actor=clerk, items=[{"item_id": hdpe().pk, **rolls(1, 500)}])
    b = r["batch_ids"][0]
    assert current(b) == D(500)
    out = svc.return_revert(actor=manager, return_id=r["return_id"])
    reverted = batch(b)
    assert (reverted.status, reverted.usable_qty, reverted.initial_qty) == ("REVERTED", D(0), D(500))
    assert record(b, "FULL_ROLL").quantity == 0
    assert out["status"] == "REVERTED"
    entry = LedgerEntry.objects.get(batch_id=b, kind="REVERT")
    assert (entry.qty_delta, entry.reverts.kind) == (D(-500), "RECEIVE")
    assert_consistent()


def test_reverting_a_return_marks_its_pieces_reverted(clerk, manager):
    r = svc.return_create(actor=clerk, items=[{"item_id": hdpe().pk, **cuts(200, 300)}])
    b = r["batch_ids"][0]
    svc.return_revert(actor=manager, return_id=r["return_id"])
    assert set(CutPiece.objects.filter(stock__batch_id=b).values_list("status", flat=True)) == {"REVERTED"}
    assert record(b, "CUT_ROLL").quantity == 0
    assert_consistent()


# --- 2. return -----------------------------------------------------------------------------------


def test_multi_item_return_creates_a_1500m_batch_and_a_55_piece_batch(clerk):
    pipe, sprink = hdpe(), sprinkler()
    r = svc.return_create(
        actor=clerk,
        items=[
            {"item_id": pipe.pk, **rolls(2, 500)},
            {"item_id": pipe.pk, **cuts(200, 150, 150)},
            {"item_id": sprink.pk, **bundles(1, 50)},
            {"item_id": sprink.pk, **spares(5)},
        ],
    )
    assert len(r["batch_ids"]) == 2
    h, s = (Batch.objects.get(pk=pk, item=it) for pk, it in zip(r["batch_ids"], (pipe, sprink), strict=True))
    assert (h.usable_qty, h.initial_qty, h.origin) == (D(1500), D(1500), "return")
    assert (record(h.pk, "FULL_ROLL").quantity, record(h.pk, "FULL_ROLL").length_per_unit) == (2, D(500))
    assert record(h.pk, "CUT_ROLL").quantity == 3
    assert lengths(h.pk) == [200, 150, 150]
    assert s.usable_qty == D(55)
    assert (record(s.pk, "BUNDLE").quantity, record(s.pk, "BUNDLE").pieces_per_bundle) == (1, 50)
    assert record(s.pk, "SPARE").quantity == 5
    assert len(spare_ids(s.pk)) == 5
    assert_consistent()


def test_a_return_of_2x500m_and_3x300m_rolls_is_one_batch_with_two_full_roll_records(clerk):
    r = svc.return_create(
        actor=clerk, items=[{"item_id": hdpe().pk, **rolls(2, 500)}, {"item_id": hdpe().pk, **rolls(3, 300)}]
    )
    assert len(r["batch_ids"]) == 1
    b = r["batch_ids"][0]
    assert current(b) == D(1900)
    records = {(s.quantity, s.length_per_unit) for s in Stock.objects.filter(batch_id=b, stock_type="FULL_ROLL")}
    assert records == {(2, D(500)), (3, D(300))}
    assert batch_detail(batch(b))["display"][3:5] == [
        "- 2 Full Rolls (500m each) = 1,000m",
        "- 3 Full Rolls (300m each) = 900m",
    ]
    assert_consistent()
