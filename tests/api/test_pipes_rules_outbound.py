"""The spec's rules for stock going out and coming back, as requests (docs/pipes.md): dispatch, scrap,
the three reverts, and batches that no request can edit. Each ✅ CAN succeeds; each ❌ CANNOT is
refused with its status, error code and a message that says why, and writes nothing."""

from datetime import date, timedelta

import pytest

from stockledger.core.roles import Role
from stockledger.pieces.models import CutPiece, PieceStatus, Stock
from stockledger.stock import services as stock_svc
from tests import factories as f
from tests.api.test_pipes_support import API, dispatch, ok, produce, refused
from tests.db.test_pipes_support import (
    assert_consistent,
    bundles,
    current,
    cuts,
    hdpe,
    lengths,
    piece,
    record,
    rolls,
    spare_ids,
    spares,
    sprinkler,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def clerk(api_as):
    return api_as(Role.INVENTORY_CLERK)


@pytest.fixture
def manager(api_as):
    return api_as(Role.LOGISTICS_MANAGER)


# --- 6. dispatch ---------------------------------------------------------------------------------


def test_dispatch_from_production_and_return_batches_in_part(clerk):
    p = produce(clerk, sprinkler(), spares(10))
    r = ok(clerk, "/returns/", {"items": [{"item_id": sprinkler().pk, **bundles(2, 5)}]})["batch_ids"][0]
    dispatch(
        clerk, {"stock_id": record(p, "SPARE").pk, "quantity": 4}, {"stock_id": record(r, "BUNDLE").pk, "quantity": 1}
    )
    assert (current(p), current(r)) == (6, 5)
    assert_consistent()


def test_dispatching_more_than_in_stock_is_refused_listing_every_short_line(clerk):
    b = produce(clerk, hdpe(), rolls(2, 100))
    s = produce(clerk, sprinkler(), spares(3))
    lines = [{"stock_id": record(b, "FULL_ROLL").pk, "quantity": 3}, {"stock_id": record(s, "SPARE").pk, "quantity": 4}]
    body = refused(
        clerk,
        "/dispatches/",
        {"customer_id": f.customer().pk, "lines": lines},
        409,
        "insufficient_stock",
        "has 2 rolls, 3 requested",
    )
    assert len(body["extra"]["lines"]) == 2


def test_dispatch_without_specific_stock_records_is_refused(clerk):
    c = f.customer().pk
    refused(clerk, "/dispatches/", {"customer_id": c, "lines": []}, 400, "validation_error", "stock_id")
    refused(
        clerk,
        "/dispatches/",
        {"customer_id": c, "lines": [{"quantity": 2}]},
        400,
        "validation_error",
        "specific stock record",
    )
    refused(
        clerk,
        "/dispatches/",
        {"customer_id": c, "lines": [{"stock_id": 999999, "quantity": 1}]},
        400,
        "validation_error",
        "unknown stock record",
    )
    b = produce(clerk, hdpe(), cuts(10, 20))
    refused(
        clerk,
        "/dispatches/",
        {"customer_id": c, "lines": [{"stock_id": record(b, "CUT_ROLL").pk, "quantity": 1}]},
        400,
        "validation_error",
        "piece_ids",
    )
    refused(
        clerk,
        "/dispatches/",
        {"lines": [{"stock_id": record(b, "CUT_ROLL").pk, "piece_ids": [1]}]},
        400,
        "validation_error",
        "customer",
    )


def test_dispatching_a_scrapped_or_dispatched_piece_is_refused(clerk):
    b = produce(clerk, hdpe(), cuts(100, 200))
    cut_roll = record(b, "CUT_ROLL").pk
    scrapped, sent = piece(b, 100).pk, piece(b, 200).pk
    ok(clerk, "/scraps/", {"reason": "kinked", "lines": [{"stock_id": cut_roll, "piece_ids": [scrapped]}]})
    dispatch(clerk, {"stock_id": cut_roll, "piece_ids": [sent]})
    for pk, status in ((scrapped, "SCRAPPED"), (sent, "DISPATCHED")):
        data = {"customer_id": f.customer().pk, "lines": [{"stock_id": cut_roll, "piece_ids": [pk]}]}
        refused(clerk, "/dispatches/", data, 409, "piece_not_in_stock", f"is {status}")


def test_dispatch_checks_the_batch_current_quantity_too(clerk, make_user):
    b = produce(clerk, hdpe(), rolls(2, 100))
    officer = make_user(Role.LOGISTICS_OFFICER)
    stock_svc.reservation_apply(actor=officer, doc_type="hold", doc_id=1, allocations={b: 150})
    data = {"customer_id": f.customer().pk, "lines": [{"stock_id": record(b, "FULL_ROLL").pk, "quantity": 1}]}
    refused(clerk, "/dispatches/", data, 409, "insufficient_stock", "batch #")


def test_stale_batch_or_stock_version_is_409_batch_was_modified(clerk):
    b = produce(clerk, hdpe(), rolls(3, 100))
    rec = record(b, "FULL_ROLL")
    shown = {"stock_id": rec.pk, "quantity": 1, "stock_version": rec.version, "batch_version": rec.batch.version}
    dispatch(clerk, dict(shown))
    for stale in ({**shown}, {**shown, "stock_version": None}, {**shown, "batch_version": None}):
        body = refused(
            clerk, "/dispatches/", {"customer_id": f.customer().pk, "lines": [stale]}, 409, "stale_version", ""
        )
        assert body["message"] == "Batch was modified, please retry"
    fresh = record(b, "FULL_ROLL")
    dispatch(
        clerk,
        {"stock_id": fresh.pk, "quantity": 1, "stock_version": fresh.version, "batch_version": fresh.batch.version},
    )
    assert_consistent()


# --- 7. scrap ------------------------------------------------------------------------------------


def test_scrap_named_pieces_full_rolls_and_bundles(clerk):
    h = produce(clerk, hdpe(), rolls(3, 100), cuts(10, 20))
    s = produce(clerk, sprinkler(), bundles(2, 5), spares(4))
    lines = [
        {"stock_id": record(h, "FULL_ROLL").pk, "quantity": 2},
        {"stock_id": record(h, "CUT_ROLL").pk, "piece_ids": [piece(h, 20).pk]},
        {"stock_id": record(s, "BUNDLE").pk, "quantity": 1},
        {"stock_id": record(s, "SPARE").pk, "piece_ids": spare_ids(s, 2)},
    ]
    ok(clerk, "/scraps/", {"reason": "flood", "lines": lines})
    assert (current(h), current(s)) == (110, 7)
    assert_consistent()


def test_scrapping_a_dispatched_piece_is_refused(clerk):
    b = produce(clerk, hdpe(), cuts(100))
    line = {"stock_id": record(b, "CUT_ROLL").pk, "piece_ids": [piece(b, 100).pk]}
    dispatch(clerk, line)
    refused(clerk, "/scraps/", {"reason": "x", "lines": [line]}, 409, "piece_not_in_stock", "is DISPATCHED")


def test_scrap_needs_a_reason_and_enough_stock(clerk):
    b = produce(clerk, hdpe(), rolls(1, 100))
    line = {"stock_id": record(b, "FULL_ROLL").pk, "quantity": 1}
    refused(clerk, "/scraps/", {"reason": " ", "lines": [line]}, 400, "validation_error", "reason")
    refused(
        clerk, "/scraps/", {"reason": "x", "lines": [{**line, "quantity": 2}]}, 409, "insufficient_stock", "has 1 rolls"
    )


# --- 8. reverts ----------------------------------------------------------------------------------


def test_revert_an_old_dispatch_in_part(clerk):
    b = produce(clerk, hdpe(), rolls(4, 100), cuts(30, 40))
    old = (date.today() - timedelta(days=400)).isoformat()
    d = dispatch(
        clerk,
        {"stock_id": record(b, "FULL_ROLL").pk, "quantity": 3},
        {"stock_id": record(b, "CUT_ROLL").pk, "piece_ids": [piece(b, 30).pk, piece(b, 40).pk]},
        dispatch_date=old,
    )
    lines = {
        (x["stock_type"], x["quantity"]): x["line_id"]
        for x in clerk.get(f"{API}/dispatches/{d['dispatch_id']}/").json()["lines"]
    }
    chosen = [{"line_id": lines[("FULL_ROLL", "300.000")], "quantity": 2}, {"line_id": lines[("CUT_ROLL", "40.000")]}]
    r = ok(clerk, f"/dispatches/{d['dispatch_id']}/revert/", {"lines": chosen})
    new = r["new_batch_id"]
    assert (current(new), record(new, "FULL_ROLL").quantity, lengths(new)) == (240, 2, [40])
    assert current(b) == 100  # 470 − 370 dispatched: the original batch is never restored
    assert_consistent()


def test_revert_of_returned_or_sold_out_items_is_refused(clerk):
    b = produce(clerk, hdpe(), rolls(2, 100), cuts(50))
    d = dispatch(clerk, {"stock_id": record(b, "FULL_ROLL").pk, "quantity": 2})
    ok(clerk, f"/dispatches/{d['dispatch_id']}/revert/", {})
    refused(clerk, f"/dispatches/{d['dispatch_id']}/revert/", {}, 409, "invalid_operation", "already returned")
    d2 = dispatch(clerk, {"stock_id": record(b, "CUT_ROLL").pk, "piece_ids": [piece(b, 50).pk]})
    ok(clerk, f"/dispatches/{d2['dispatch_id']}/close/", {}, 200)
    assert CutPiece.objects.get(stock__batch_id=b).status == PieceStatus.SOLD_OUT
    refused(clerk, f"/dispatches/{d2['dispatch_id']}/revert/", {}, 409, "invalid_operation", "SOLD_OUT")
    assert_consistent()


def test_partial_scrap_revert_is_refused_and_a_scrap_is_reverted_once(clerk, manager):
    b = produce(clerk, sprinkler(), spares(10))
    s = ok(clerk, "/scraps/", {"reason": "x", "lines": [{"stock_id": record(b, "SPARE").pk, "quantity": 4}]})
    url = f"/scraps/{s['scrap_id']}/revert/"
    refused(manager, url, {"piece_ids": spare_ids(b, 1)}, 400, "validation_error", "reverted whole")
    ok(manager, url, {}, 200)
    refused(manager, url, {}, 409, "invalid_operation", "already reverted")
    assert current(b) == 10
    assert_consistent()


def test_scrap_revert_scrap_revert_and_an_earlier_scrap_cannot_be_reverted_after_a_rescrap(clerk, manager):
    b = produce(clerk, hdpe(), cuts(100))
    line = {"stock_id": record(b, "CUT_ROLL").pk, "piece_ids": [piece(b, 100).pk]}
    first = ok(clerk, "/scraps/", {"reason": "x", "lines": [line]})["scrap_id"]
    ok(manager, f"/scraps/{first}/revert/", {}, 200)
    second = ok(clerk, "/scraps/", {"reason": "y", "lines": [line]})["scrap_id"]
    refused(manager, f"/scraps/{first}/revert/", {}, 409, "invalid_operation", "already reverted")
    ok(manager, f"/scraps/{second}/revert/", {}, 200)
    assert current(b) == 100
    assert_consistent()


def test_a_scrap_revert_is_refused_when_a_piece_was_dispatched_since(clerk, manager):
    b = produce(clerk, hdpe(), cuts(100))
    line = {"stock_id": record(b, "CUT_ROLL").pk, "piece_ids": [piece(b, 100).pk]}
    first = ok(clerk, "/scraps/", {"reason": "x", "lines": [line]})["scrap_id"]
    ok(manager, f"/scraps/{first}/revert/", {}, 200)
    dispatch(clerk, line)
    refused(manager, f"/scraps/{first}/revert/", {}, 409, "invalid_operation", "")


def test_a_clerk_cannot_revert_a_scrap_or_a_return(clerk):
    b = produce(clerk, hdpe(), rolls(1, 100))
    s = ok(clerk, "/scraps/", {"reason": "x", "lines": [{"stock_id": record(b, "FULL_ROLL").pk, "quantity": 1}]})
    r = ok(clerk, "/returns/", {"items": [{"item_id": hdpe().pk, **rolls(1, 5)}]})
    refused(clerk, f"/scraps/{s['scrap_id']}/revert/", {}, 403, "forbidden", "LOGISTICS_MANAGER")
    refused(clerk, f"/returns/{r['return_id']}/revert/", {}, 403, "forbidden", "LOGISTICS_MANAGER")


def test_return_revert_after_a_dispatch_is_refused_and_a_return_is_reverted_once(clerk, manager):
    r = ok(clerk, "/returns/", {"items": [{"item_id": hdpe().pk, **rolls(2, 100)}]})
    b = r["batch_ids"][0]
    dispatch(clerk, {"stock_id": record(b, "FULL_ROLL").pk, "quantity": 1})
    refused(manager, f"/returns/{r['return_id']}/revert/", {}, 409, "invalid_operation", "were dispatched")
    r2 = ok(clerk, "/returns/", {"items": [{"item_id": hdpe().pk, **rolls(2, 100)}]})
    ok(manager, f"/returns/{r2['return_id']}/revert/", {}, 200)
    refused(manager, f"/returns/{r2['return_id']}/revert/", {}, 409, "invalid_operation", "already reverted")
    assert_consistent()


def test_pipe_batches_and_stock_records_cannot_be_modified_through_the_api(clerk, api_as):
    b = produce(clerk, hdpe(), rolls(5, 500))
    admin = api_as(Role.ADMIN)
    for client in (clerk, admin):
        for url in (f"{API}/pipe-batches/{b}/", f"{API}/batches/{b}/"):
            for method in ("put", "patch", "delete"):
                r = getattr(client, method)(url, {"initial_quantity": 1}, format="json")
                assert (r.status_code, r.json()["code"]) == (405, "method_not_allowed")
        assert client.post(f"{API}/pipe-batches/", {}, format="json").status_code == 405
    detail = clerk.get(f"{API}/pipe-batches/{b}/").json()
    assert (detail["initial_quantity"], detail["current_quantity"]) == ("2500.000", "2500.000")


def test_pipe_stock_is_read_only_in_the_admin(admin_client):
    from django.contrib import admin

    from stockledger.pieces.models import Operation, SparePiece
    from stockledger.stock.models import Batch

    for model in (Batch, Stock, CutPiece, SparePiece, Operation):
        model_admin = admin.site._registry[model]
        assert not model_admin.has_add_permission(None)
        assert not model_admin.has_change_permission(None)
        assert not model_admin.has_delete_permission(None)
