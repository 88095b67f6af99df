"""Pipe services on every backend beyond the spec's examples: the piece-count trigger and the piece
immutability guard, audit and ledger rows, roles and warehouse scope, idempotency, dispatch close,
and what every operation leaves unchanged (initial quantity, batch rows on transformations)."""

from decimal import Decimal

import pytest
from django.db import DatabaseError, connection, transaction

from stockledger.catalog.models import Warehouse
from stockledger.core.errors import Conflict, PermissionDenied, ValidationError
from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.pieces import services as svc
from stockledger.pieces.models import CutPiece, Operation, PieceStatus, SparePiece, Stock
from stockledger.stock.models import Batch, LedgerEntry
from tests import factories as f
from tests.db.test_pipes_support import (
    D,
    assert_consistent,
    batch,
    bundles,
    counts,
    current,
    cuts,
    hdpe,
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


def raw(sql, params=()):
    with connection.cursor() as cur:
        cur.execute(sql, list(params))
        return cur.rowcount


# --- the trigger -----------------------------------------------------------------------------------


def test_trigger_counts_in_stock_pieces_on_insert_update_and_delete_and_bumps_the_version(clerk):
    b = produce(clerk, hdpe(), cuts(100, 200))["batch_id"]
    rec = record(b, "CUT_ROLL")
    op = Operation.objects.get(pk=rec.created_by_op_id)
    extra = CutPiece.objects.create(stock=rec, length_meters=D(5), created_by_op=op)
    after_insert = record(b, "CUT_ROLL")
    assert (after_insert.quantity, after_insert.version) == (3, rec.version + 1)
    raw("UPDATE hdpe_cut_pieces SET status = 'SCRAPPED' WHERE id = %s", [extra.pk])
    after_update = record(b, "CUT_ROLL")
    assert (after_update.quantity, after_update.version) == (2, rec.version + 2)
    raw("DELETE FROM hdpe_cut_pieces WHERE id = %s", [extra.pk])
    assert (record(b, "CUT_ROLL").quantity, record(b, "CUT_ROLL").version) == (2, rec.version + 3)


def test_trigger_keeps_spare_counts_and_never_touches_full_roll_or_bundle_quantities(clerk):
    s = produce(clerk, sprinkler(), bundles(2, 10), spares(5))["batch_id"]
    raw("UPDATE sprinkler_spare_pieces SET status = 'SCRAPPED' WHERE id IN (%s, %s)", spare_ids(s, 2))
    assert record(s, "SPARE").quantity == 3
    bundle = record(s, "BUNDLE")
    op = Operation.objects.get(pk=bundle.created_by_op_id)
    SparePiece.objects.create(stock=bundle, created_by_op=op)  # a misfiled piece: the trigger leaves BUNDLE alone
    assert record(s, "BUNDLE").quantity == 2


def test_a_piece_cannot_change_its_length_stock_or_creating_operation_in_the_database(clerk):
    b = produce(clerk, hdpe(), cuts(100))["batch_id"]
    other = produce(clerk, hdpe(), cuts(100))["batch_id"]
    p = piece(b, 100)
    for sql, params in (
        ("UPDATE hdpe_cut_pieces SET length_meters = 999 WHERE id = %s", [p.pk]),
        ("UPDATE hdpe_cut_pieces SET stock_id = %s WHERE id = %s", [record(other, "CUT_ROLL").pk, p.pk]),
        ("UPDATE hdpe_cut_pieces SET created_by_op_id = NULL WHERE id = %s", [p.pk]),
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            raw(sql, params)
    s = produce(clerk, sprinkler(), spares(1))["batch_id"]
    with pytest.raises(DatabaseError), transaction.atomic():
        raw("UPDATE sprinkler_spare_pieces SET piece_count = 2 WHERE id = %s", spare_ids(s))
    assert CutPiece.objects.get(pk=p.pk).length_meters == D(100)
    assert_consistent()


def test_check_constraints_refuse_negative_quantities_and_zero_lengths(clerk):
    b = produce(clerk, hdpe(), rolls(1, 10))["batch_id"]
    rec = record(b, "FULL_ROLL")
    for sql in (
        "UPDATE inventory_stock SET quantity = -1 WHERE id = %s",
        "UPDATE inventory_stock SET length_per_unit = 0 WHERE id = %s",
    ):
        with pytest.raises(DatabaseError), transaction.atomic():
            raw(sql, [rec.pk])
    op = Operation.objects.get(pk=rec.created_by_op_id)
    with pytest.raises(DatabaseError), transaction.atomic():
        CutPiece.objects.create(stock=record(b, "FULL_ROLL"), length_meters=D(0), created_by_op=op)
    with pytest.raises(DatabaseError), transaction.atomic():  # one CUT_ROLL record per batch
        Stock.objects.create(batch_id=b, stock_type="CUT_ROLL", piece_slot="CUT_ROLL", created_by_op=op)
        Stock.objects.create(batch_id=b, stock_type="CUT_ROLL", piece_slot="CUT_ROLL", created_by_op=op)


# --- ledger, audit, lineage ------------------------------------------------------------------------


def test_transformations_write_audit_rows_but_no_ledger_row_and_leave_the_batch_row_alone(clerk):
    b = produce(clerk, sprinkler(), bundles(2, 10))["batch_id"]
    before = batch(b)
    ledger, audit_rows = LedgerEntry.objects.count(), AuditLog.objects.count()
    r = svc.bundle_split(actor=clerk, stock_id=record(b, "BUNDLE").pk)
    svc.spares_combine(actor=clerk, stock_id=r["spare_stock_id"], bundle_size=5, quantity=10)
    after = batch(b)
    assert (after.usable_qty, after.version, after.ledger_head) == (
        before.usable_qty,
        before.version,
        before.ledger_head,
    )
    assert LedgerEntry.objects.count() == ledger
    actions = set(AuditLog.objects.filter(pk__gt=0).values_list("action", flat=True)[: AuditLog.objects.count()])
    assert {"stock.split", "stock.combine", "pipes.split", "pipes.combine"} <= actions
    assert AuditLog.objects.count() > audit_rows
    assert set(Operation.objects.values_list("kind", flat=True)) >= {"SPLIT", "COMBINE"}
    assert_consistent()


def test_every_operation_leaves_initial_quantity_unchanged(clerk, manager):
    b = produce(clerk, hdpe(), rolls(3, 100), cuts(50))["batch_id"]
    svc.stock_cut(actor=clerk, stock_id=record(b, "FULL_ROLL").pk, piece1_length=60, piece2_length=40)
    d = svc.dispatch_create(
        actor=clerk, customer_id=f.customer().pk, lines=[{"stock_id": record(b, "FULL_ROLL").pk, "quantity": 1}]
    )
    line = {"stock_id": record(b, "CUT_ROLL").pk, "piece_ids": [piece(b, 50).pk]}
    s = svc.scrap_create(actor=clerk, reason="x", lines=[line])
    svc.scrap_revert(actor=manager, scrap_id=s["scrap_id"])
    svc.dispatch_revert(actor=clerk, dispatch_id=d["dispatch_id"])
    assert batch(b).initial_qty == D(350)
    assert current(b) == D(250)
    assert_consistent()


def test_a_dispatch_writes_one_issue_row_per_batch_and_audits_its_stock_records(clerk):
    b = produce(clerk, hdpe(), rolls(3, 100), cuts(10, 20))["batch_id"]
    d = svc.dispatch_create(
        actor=clerk,
        customer_id=f.customer().pk,
        lines=[
            {"stock_id": record(b, "FULL_ROLL").pk, "quantity": 1},
            {"stock_id": record(b, "CUT_ROLL").pk, "piece_ids": [piece(b, 10).pk, piece(b, 20).pk]},
        ],
    )
    rows = LedgerEntry.objects.filter(doc_type="pipe_dispatch", doc_id=str(d["dispatch_id"]))
    assert [(e.kind, e.qty_delta, e.batch_id) for e in rows] == [("ISSUE", D(-130), b)]
    audited = set(AuditLog.objects.filter(action="stock.dispatch").values_list("object_id", flat=True))
    assert audited == {str(record(b, "FULL_ROLL").pk), str(record(b, "CUT_ROLL").pk)}
    assert set(CutPiece.objects.filter(stock__batch_id=b).values_list("status_op_id", flat=True)) == {d["dispatch_id"]}
    assert_consistent()


def test_dispatch_close_marks_pieces_sold_out_and_closes_the_dispatch_once(clerk):
    s = produce(clerk, sprinkler(), spares(4))["batch_id"]
    d = svc.dispatch_create(
        actor=clerk, customer_id=f.customer().pk, lines=[{"stock_id": record(s, "SPARE").pk, "quantity": 3}]
    )
    out = svc.dispatch_close(actor=clerk, dispatch_id=d["dispatch_id"])
    assert (out["status"], out["sold_out"]) == ("CLOSED", 3)
    assert SparePiece.objects.filter(stock__batch_id=s, status=PieceStatus.SOLD_OUT).count() == 3
    with pytest.raises(Conflict) as err:
        svc.dispatch_close(actor=clerk, dispatch_id=d["dispatch_id"])
    assert err.value.code == "invalid_operation"
    assert_consistent()


def test_a_dispatch_revert_can_return_what_a_reverted_return_gave_back(clerk, manager):
    b = produce(clerk, hdpe(), rolls(2, 100))["batch_id"]
    d = svc.dispatch_create(
        actor=clerk, customer_id=f.customer().pk, lines=[{"stock_id": record(b, "FULL_ROLL").pk, "quantity": 2}]
    )
    first = svc.dispatch_revert(actor=clerk, dispatch_id=d["dispatch_id"])
    svc.return_revert(actor=manager, return_id=first["return_id"])  # entered by mistake
    again = svc.dispatch_revert(actor=clerk, dispatch_id=d["dispatch_id"])
    assert current(again["new_batch_id"]) == D(200)
    assert current(first["new_batch_id"]) == D(0)
    assert_consistent()


def test_a_return_with_a_scrap_can_be_reverted_but_the_scrap_then_cannot(clerk, manager):
    r = svc.return_create(actor=clerk, items=[{"item_id": hdpe().pk, **rolls(3, 100)}])
    b = r["batch_ids"][0]
    s = svc.scrap_create(actor=clerk, reason="x", lines=[{"stock_id": record(b, "FULL_ROLL").pk, "quantity": 1}])
    svc.return_revert(actor=manager, return_id=r["return_id"])
    assert (batch(b).status, current(b), record(b, "FULL_ROLL").quantity) == ("REVERTED", D(0), 0)
    with pytest.raises(Conflict) as err:
        svc.scrap_revert(actor=manager, scrap_id=s["scrap_id"])
    assert "reverted" in err.value.message
    with pytest.raises(Conflict):  # nothing can be taken from a reverted batch
        svc.stock_cut(actor=clerk, stock_id=record(b, "FULL_ROLL").pk, piece1_length=1, piece2_length=99)
    assert_consistent()


# --- roles, scope, idempotency ---------------------------------------------------------------------


@pytest.mark.parametrize("role", [Role.ADMIN, Role.LOGISTICS_MANAGER, Role.INVENTORY_CLERK])
def test_clerk_manager_and_admin_operate(make_user, role):
    actor = make_user(role)
    b = produce(actor, sprinkler(), bundles(1, 2))["batch_id"]
    svc.bundle_split(actor=actor, stock_id=record(b, "BUNDLE").pk)
    assert record(b, "SPARE").quantity == 2
    assert_consistent()


@pytest.mark.parametrize("role", [Role.READER, Role.SALES, Role.LOGISTICS_OFFICER])
def test_other_roles_cannot_operate(make_user, role):
    with pytest.raises(PermissionDenied):
        produce(make_user(role), hdpe(), rolls(1, 1))
    assert Batch.objects.count() == 0


def test_a_clerk_limited_to_one_warehouse_cannot_produce_or_dispatch_elsewhere(make_user):
    here, there = f.warehouse(), f.warehouse()
    clerk = make_user(Role.INVENTORY_CLERK, warehouses=[here])
    boss = make_user(Role.ADMIN)
    produce(clerk, hdpe(), rolls(1, 1), warehouse_id=here.pk)
    with pytest.raises(PermissionDenied):
        produce(clerk, hdpe(), rolls(1, 1), warehouse_id=there.pk)
    b = produce(boss, hdpe(), rolls(1, 1), warehouse_id=there.pk)["batch_id"]
    before = counts()
    with pytest.raises(PermissionDenied):
        svc.dispatch_create(
            actor=clerk, customer_id=f.customer().pk, lines=[{"stock_id": record(b, "FULL_ROLL").pk, "quantity": 1}]
        )
    assert counts() == before
    assert_consistent()


def test_the_factory_yard_is_created_once_when_no_warehouse_is_given(clerk):
    Warehouse.objects.filter(kind=Warehouse.Kind.FACTORY_YARD).delete()
    a = produce(clerk, hdpe(), rolls(1, 1))
    b = produce(clerk, hdpe(), rolls(1, 1))
    yard = Warehouse.objects.get(kind=Warehouse.Kind.FACTORY_YARD)
    assert a["warehouse_id"] == b["warehouse_id"] == yard.pk and yard.code == "factory-yard"
    assert_consistent()


def test_the_same_idempotency_key_runs_a_dispatch_once(clerk):
    s = produce(clerk, sprinkler(), spares(5))["batch_id"]
    line = [{"stock_id": record(s, "SPARE").pk, "quantity": 2}]
    c = f.customer().pk
    first = svc.dispatch_create(actor=clerk, customer_id=c, lines=line, idempotency_key="same")
    again = svc.dispatch_create(actor=clerk, customer_id=c, lines=line, idempotency_key="same")
    assert again == first
    assert current(s) == D(3)
    with pytest.raises(Conflict) as err:
        svc.dispatch_create(actor=clerk, customer_id=c, lines=[{**line[0], "quantity": 1}], idempotency_key="same")
    assert err.value.code == "idempotency_key_reused"
    assert LedgerEntry.objects.get(doc_type="pipe_dispatch").idempotency_key == "same"
    assert_consistent()


def test_bad_input_lists_every_problem_and_writes_nothing(clerk):
    before = counts()
    with pytest.raises(ValidationError) as err:
        produce(clerk, hdpe(), rolls(0, 5), cuts(-1), {"stock_type": "BUNDLE"}, {"stock_type": "FULL_ROLL"})
    fields = err.value.extra["fields"]
    assert {"lines.0.quantity", "lines.1.piece_lengths.0", "lines.2.stock_type", "lines.3.quantity"} <= set(fields)
    assert "more problem" in err.value.message
    assert counts() == before


def test_pieces_are_written_in_bulk_for_large_spare_counts(clerk, django_assert_max_num_queries):
    with django_assert_max_num_queries(60):
        b = produce(clerk, sprinkler(), spares(1200))["batch_id"]
    assert record(b, "SPARE").quantity == 1200
    assert current(b) == Decimal(1200)
    assert_consistent()
