"""The spec's rules for stock coming in and changing form, as requests (docs/pipes.md): production,
return, cut, split and combine. Each ✅ CAN succeeds; each ❌ CANNOT is refused with its status, error
code and a message that says why, and writes nothing."""

import pytest

from stockledger.core.roles import Role
from stockledger.pieces.models import Stock
from tests.api.test_pipes_support import API, cut_url, dispatch, ok, produce, refused
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


# --- 1. production -------------------------------------------------------------------------------


def test_two_production_entries_of_one_variant_make_two_batches(clerk):
    a, b = produce(clerk, hdpe(), rolls(1, 500)), produce(clerk, hdpe(), rolls(1, 500))
    assert a != b and current(a) == current(b) == 500
    assert_consistent()


def test_production_mixes_full_rolls_and_cut_rolls_in_one_batch(clerk):
    b = produce(clerk, hdpe(), rolls(2, 500), cuts(100, 50))
    assert sorted(Stock.objects.filter(batch_id=b).values_list("stock_type", flat=True)) == ["CUT_ROLL", "FULL_ROLL"]
    assert current(b) == 1150
    assert_consistent()


def test_production_mixes_bundles_and_spares_in_one_batch(clerk):
    b = produce(clerk, sprinkler(), bundles(2, 50), spares(7))
    assert sorted(Stock.objects.filter(batch_id=b).values_list("stock_type", flat=True)) == ["BUNDLE", "SPARE"]
    assert current(b) == 107
    assert_consistent()


def test_production_can_make_cut_pieces_without_full_rolls(clerk):
    b = produce(clerk, hdpe(), cuts(80))
    assert list(Stock.objects.filter(batch_id=b).values_list("stock_type", flat=True)) == ["CUT_ROLL"]
    assert_consistent()


def test_one_production_entry_is_one_batch_of_one_variant(clerk):
    other = hdpe(od=63)
    line = {**rolls(1, 100), "item_id": other.pk}
    refused(clerk, "/production/", {"item_id": hdpe().pk, "lines": [line]}, 400, "validation_error", "one batch")
    refused(
        clerk,
        "/production/",
        {"item_id": hdpe().pk, "lines": [rolls(1, 1)], "batch_id": 1},
        400,
        "validation_error",
        "new batch",
    )
    refused(
        clerk,
        "/production/",
        {"item_id": hdpe().pk, "lines": [bundles(1, 5)]},
        400,
        "validation_error",
        "FULL_ROLL, CUT_ROLL",
    )


@pytest.mark.parametrize(
    "line",
    [
        rolls(0, 500),
        rolls(-1, 500),
        rolls(2, 0),
        rolls(2, -5),
        cuts(200, 0),
        {"stock_type": "CUT_ROLL", "piece_lengths": []},
    ],
)
def test_production_refuses_zero_or_negative_counts_and_lengths(clerk, line):
    body = refused(clerk, "/production/", {"item_id": hdpe().pk, "lines": [line]}, 400, "validation_error", "")
    assert "greater than 0" in body["message"] or "non-empty" in str(body["extra"])


@pytest.mark.parametrize("line", [bundles(0, 50), bundles(2, 0), spares(0), spares(-3)])
def test_production_of_sprinkler_refuses_zero_counts(clerk, line):
    body = refused(clerk, "/production/", {"item_id": sprinkler().pk, "lines": [line]}, 400, "validation_error", "")
    assert body["message"] == "Quantity must be greater than 0"


@pytest.mark.parametrize(
    ("item", "line"),
    [(hdpe, rolls(1, "500.0001")), (hdpe, cuts("1.2345")), (sprinkler, spares("2.5")), (sprinkler, bundles(1, 1.5))],
)
def test_production_refuses_more_decimals_than_the_unit_allows(clerk, item, line):
    refused(clerk, "/production/", {"item_id": item().pk, "lines": [line]}, 400, "validation_error", "")


# --- 2. return -----------------------------------------------------------------------------------


def test_return_before_any_production_creates_the_first_batch_with_no_link_to_another(clerk):
    item = hdpe(od=250)
    r = ok(clerk, "/returns/", {"items": [{"item_id": item.pk, **cuts(40)}]})
    b = record(r["batch_ids"][0], "CUT_ROLL").batch
    assert (b.origin, b.source_batch_id, b.usable_qty) == ("return", None, 40)
    assert_consistent()


def test_return_naming_a_batch_is_refused(clerk):
    b = produce(clerk, hdpe(), rolls(1, 500))
    item = {"item_id": hdpe().pk, **rolls(1, 500)}
    refused(clerk, "/returns/", {"items": [item], "batch_id": b}, 400, "validation_error", "new batch")
    refused(clerk, "/returns/", {"items": [{**item, "batch_id": b}]}, 400, "validation_error", "new batch")
    assert current(b) == 500


def test_return_refuses_zero_quantity_and_unknown_items(clerk):
    refused(clerk, "/returns/", {"items": [{"item_id": hdpe().pk, **rolls(0, 5)}]}, 400, "validation_error", "than 0")
    refused(clerk, "/returns/", {"items": [{"item_id": 999999, **rolls(1, 5)}]}, 400, "validation_error", "unknown")
    refused(clerk, "/returns/", {"items": []}, 400, "validation_error", "at least one")


def test_return_revert_naming_items_is_refused(clerk, manager):
    r = ok(clerk, "/returns/", {"items": [{"item_id": hdpe().pk, **rolls(2, 100)}]})
    url = f"/returns/{r['return_id']}/revert/"
    refused(manager, url, {"items": [{"stock_id": 1, "quantity": 1}]}, 400, "validation_error", "reverted whole")
    assert current(r["batch_ids"][0]) == 200


# --- 3. cut --------------------------------------------------------------------------------------


def test_sequential_cuts_make_three_pieces_from_one_roll(clerk):
    b = produce(clerk, hdpe(), rolls(1, 500))
    ok(clerk, cut_url(b), {"piece1_length": 200, "piece2_length": 300}, 200)
    ok(clerk, cut_url(b, "CUT_ROLL"), {"piece_id": piece(b, 300).pk, "piece1_length": 150, "piece2_length": 150}, 200)
    assert lengths(b) == [200, 150, 150] and current(b) == 500
    assert_consistent()


def test_cut_from_a_return_batch(clerk):
    r = ok(clerk, "/returns/", {"items": [{"item_id": hdpe().pk, **rolls(1, 100)}]})
    b = r["batch_ids"][0]
    ok(clerk, cut_url(b), {"piece1_length": "99.5", "piece2_length": "0.5"}, 200)
    assert lengths(b) == [99.5, 0.5]
    assert_consistent()


def test_three_way_cut_is_refused(clerk):
    b = produce(clerk, hdpe(), rolls(1, 500))
    data = {"piece1_length": 100, "piece2_length": 100, "piece3_length": 300}
    refused(clerk, cut_url(b), data, 400, "validation_error", "exactly two pieces")
    refused(clerk, cut_url(b), {"lengths": [100, 100, 300]}, 400, "validation_error", "exactly two pieces")


def test_there_is_no_route_to_undo_a_cut_and_a_cut_piece_stays_cut(clerk):
    b = produce(clerk, hdpe(), cuts(300))
    parent = piece(b, 300)
    ok(clerk, cut_url(b, "CUT_ROLL"), {"piece_id": parent.pk, "piece1_length": 100, "piece2_length": 200}, 200)
    assert clerk.delete(f"{API}{cut_url(b, 'CUT_ROLL')}").status_code == 405
    assert clerk.post(f"{API}/stock/{record(b, 'CUT_ROLL').pk}/uncut/", {}, format="json").status_code == 404
    data = {"piece_id": parent.pk, "piece1_length": 100, "piece2_length": 200}
    refused(clerk, cut_url(b, "CUT_ROLL"), data, 409, "piece_not_in_stock", "is CUT")


@pytest.mark.parametrize(
    ("a", "b", "fragment"),
    [(0, 500, "greater than 0"), (-100, 600, "greater than 0"), (200, 200, "add up"), (300, 300, "add up")],
)
def test_cut_lengths_must_be_positive_and_add_up_to_the_source(clerk, a, b, fragment):
    batch = produce(clerk, hdpe(), rolls(1, 500))
    refused(clerk, cut_url(batch), {"piece1_length": a, "piece2_length": b}, 400, "validation_error", fragment)


def test_cutting_a_piece_that_is_not_in_stock_is_refused(clerk):
    b = produce(clerk, hdpe(), cuts(300))
    p = piece(b, 300)
    dispatch(clerk, {"stock_id": record(b, "CUT_ROLL").pk, "piece_ids": [p.pk]})
    data = {"piece_id": p.pk, "piece1_length": 100, "piece2_length": 200}
    refused(clerk, cut_url(b, "CUT_ROLL"), data, 409, "piece_not_in_stock", "DISPATCHED")


def test_cutting_a_cut_roll_needs_a_piece_of_that_record(clerk):
    b = produce(clerk, hdpe(), cuts(300))
    other = produce(clerk, hdpe(), cuts(300))
    refused(
        clerk, cut_url(b, "CUT_ROLL"), {"piece1_length": 1, "piece2_length": 299}, 400, "validation_error", "piece_id"
    )
    data = {"piece_id": piece(other, 300).pk, "piece1_length": 1, "piece2_length": 299}
    refused(clerk, cut_url(b, "CUT_ROLL"), data, 400, "validation_error", "not in stock record")


def test_cutting_an_empty_full_roll_record_is_refused(clerk):
    b = produce(clerk, hdpe(), rolls(1, 500))
    ok(clerk, cut_url(b), {"piece1_length": 250, "piece2_length": 250}, 200)
    refused(clerk, cut_url(b), {"piece1_length": 250, "piece2_length": 250}, 409, "insufficient_stock", "no full roll")


def test_cutting_a_bundle_or_spare_record_is_refused(clerk):
    b = produce(clerk, sprinkler(), bundles(1, 10), spares(2))
    for kind in ("BUNDLE", "SPARE"):
        refused(
            clerk,
            cut_url(b, kind),
            {"piece1_length": 1, "piece2_length": 1},
            409,
            "invalid_operation",
            "only hdpe rolls",
        )


# --- 4. split and 5. combine ---------------------------------------------------------------------


def test_split_two_bundles_one_after_the_other(clerk):
    b = produce(clerk, sprinkler(), bundles(2, 30))
    url = f"/stock/{record(b, 'BUNDLE').pk}/split-bundle/"
    ok(clerk, url, {}, 200)
    ok(clerk, url, {}, 200)
    assert (record(b, "BUNDLE").quantity, record(b, "SPARE").quantity, current(b)) == (0, 60, 60)
    refused(clerk, url, {}, 409, "insufficient_stock", "no bundle left")
    assert_consistent()


def test_partial_split_is_refused(clerk):
    b = produce(clerk, sprinkler(), bundles(1, 50))
    url = f"/stock/{record(b, 'BUNDLE').pk}/split-bundle/"
    for key in ("quantity", "pieces"):
        refused(clerk, url, {key: 20}, 400, "validation_error", "split whole")


def test_splitting_a_non_bundle_record_is_refused(clerk):
    b = produce(clerk, sprinkler(), spares(5))
    h = produce(clerk, hdpe(), rolls(1, 5))
    refused(clerk, f"/stock/{record(b, 'SPARE').pk}/split-bundle/", {}, 409, "invalid_operation", "only a bundle")
    refused(clerk, f"/stock/{record(h, 'FULL_ROLL').pk}/split-bundle/", {}, 409, "invalid_operation", "only a bundle")


def test_combining_spares_makes_a_new_bundle_record_never_refills_the_original(clerk):
    b = produce(clerk, sprinkler(), bundles(2, 50))
    original = record(b, "BUNDLE")
    ok(clerk, f"/stock/{original.pk}/split-bundle/", {}, 200)
    r = ok(clerk, f"/stock/{record(b, 'SPARE').pk}/combine-spares/", {"bundle_size": 50}, 200)
    assert r["bundle_stock_id"] != original.pk
    assert record(b, "BUNDLE", pk=original.pk).quantity == 1
    assert_consistent()


def test_combine_needs_a_bundle_size_whole_bundles_and_enough_spares(clerk):
    b = produce(clerk, sprinkler(), spares(30))
    url = f"/stock/{record(b, 'SPARE').pk}/combine-spares/"
    refused(clerk, url, {"quantity": 10}, 400, "validation_error", "bundle_size")
    refused(clerk, url, {"bundle_size": 0}, 400, "validation_error", "greater than 0")
    refused(clerk, url, {"bundle_size": 20, "quantity": 30}, 400, "validation_error", "whole bundles")
    refused(clerk, url, {"bundle_size": 20, "quantity": 40}, 409, "insufficient_stock", "30 spare pieces")
    ok(clerk, url, {"bundle_size": 7, "piece_ids": spare_ids(b, 14)}, 200)
    assert (record(b, "SPARE").quantity, current(b)) == (16, 30)
    assert_consistent()


@pytest.mark.parametrize("variant", ["same", "other"])
def test_combining_pieces_of_another_batch_or_variant_is_refused(clerk, variant):
    a = produce(clerk, sprinkler(), spares(10))
    b = produce(clerk, sprinkler() if variant == "same" else sprinkler(od=32), spares(10))
    ids = spare_ids(a, 5) + spare_ids(b, 5)
    url = f"/stock/{record(a, 'SPARE').pk}/combine-spares/"
    refused(clerk, url, {"bundle_size": 10, "piece_ids": ids}, 400, "validation_error", "one batch and variant")


def test_combining_a_non_spare_record_is_refused_cut_pieces_do_not_recombine(clerk):
    h = produce(clerk, hdpe(), cuts(100, 100))
    refused(
        clerk,
        f"/stock/{record(h, 'CUT_ROLL').pk}/combine-spares/",
        {"bundle_size": 2},
        409,
        "invalid_operation",
        "cannot be recombined into a roll",
    )
    s = produce(clerk, sprinkler(), bundles(1, 2))
    refused(
        clerk,
        f"/stock/{record(s, 'BUNDLE').pk}/combine-spares/",
        {"bundle_size": 2},
        409,
        "invalid_operation",
        "only spare pieces",
    )
