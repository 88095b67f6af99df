"""Allocation rules for relief packages: pure functions, no database."""

from datetime import date, timedelta
from decimal import Decimal

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockledger.relief.allocation import (
    BatchOption,
    Deviation,
    IssuanceOrder,
    order_batches,
    plan_deviation,
    reservation_deltas,
    suggest_allocation,
)

TODAY = date(2026, 1, 15)
D = Decimal


def batch(
    batch_id,
    *,
    expiry=None,
    made=None,
    usable="10",
    reserved="0",
    held="0",
    batch_no=None,
):
    return BatchOption(
        batch_id=batch_id,
        batch_no=batch_no or f"B-{batch_id}",
        batch_date=made,
        expiry_date=expiry,
        usable_qty=D(usable),
        reserved_qty=D(reserved),
        held_by_this_package=D(held),
    )


def ids(options):
    return [option.batch_id for option in options]


# --- available -------------------------------------------------------------------------------------------


def test_available_is_usable_minus_reserved():
    assert batch(1, usable="10", reserved="4").available == D("6")


def test_available_counts_what_this_package_holds():
    # 10 usable, 8 reserved of which 5 by the package being edited: it may take 7.
    assert batch(1, usable="10", reserved="8", held="5").available == D("7")


def test_available_never_goes_below_zero():
    assert batch(1, usable="3", reserved="5").available == D("0")


def test_held_by_this_package_defaults_to_zero():
    option = BatchOption(1, "B-1", None, None, D("10"), D("4"))
    assert option.held_by_this_package == 0
    assert option.available == D("6")


# --- ordering --------------------------------------------------------------------------------------------


def test_prefers_earlier_expiry():
    late = batch(1, expiry=date(2026, 9, 1))
    early = batch(2, expiry=date(2026, 3, 1))
    assert ids(order_batches([late, early], IssuanceOrder.FEFO, TODAY)) == [2, 1]


def test_null_expiry_goes_last_under_fefo():
    never = batch(1, expiry=None, made=date(2020, 1, 1))
    dated = batch(2, expiry=date(2030, 1, 1), made=date(2025, 1, 1))
    assert ids(order_batches([never, dated], IssuanceOrder.FEFO, TODAY)) == [2, 1]


def test_fefo_breaks_expiry_ties_by_batch_date_then_batch_id():
    expiry = date(2026, 6, 1)
    options = [
        batch(4, expiry=expiry, made=None),
        batch(3, expiry=expiry, made=date(2025, 5, 1)),
        batch(2, expiry=expiry, made=date(2025, 2, 1)),
        batch(1, expiry=expiry, made=date(2025, 5, 1)),
    ]
    assert ids(order_batches(options, IssuanceOrder.FEFO, TODAY)) == [2, 1, 3, 4]


def test_excludes_expired_batches():
    expired = batch(1, expiry=TODAY - timedelta(days=1))
    fresh = batch(2, expiry=TODAY + timedelta(days=30))
    assert ids(order_batches([expired, fresh], IssuanceOrder.FEFO, TODAY)) == [2]


def test_expired_batches_are_excluded_under_every_order():
    expired = batch(1, expiry=TODAY - timedelta(days=1), made=date(2020, 1, 1))
    for order in IssuanceOrder:
        assert order_batches([expired], order, TODAY) == []


def test_batch_expiring_today_is_still_usable():
    assert ids(order_batches([batch(1, expiry=TODAY)], IssuanceOrder.FEFO, TODAY)) == [1]


def test_excludes_batches_with_nothing_available():
    empty = batch(1, usable="5", reserved="5")
    overdrawn = batch(2, usable="5", reserved="7")
    full = batch(3, usable="5")
    assert ids(order_batches([empty, overdrawn, full], IssuanceOrder.FIFO, TODAY)) == [3]


def test_a_fully_reserved_batch_stays_open_to_the_package_holding_it():
    option = batch(1, usable="5", reserved="5", held="2")
    assert ids(order_batches([option], IssuanceOrder.FIFO, TODAY)) == [1]


def test_fifo_takes_oldest_batch_first():
    options = [
        batch(1, made=date(2025, 6, 1), expiry=date(2026, 2, 1)),
        batch(2, made=date(2025, 1, 1), expiry=date(2027, 1, 1)),
        batch(3, made=None),
        batch(4, made=date(2025, 1, 1)),
    ]
    assert ids(order_batches(options, IssuanceOrder.FIFO, TODAY)) == [2, 4, 1, 3]


def test_lifo_takes_newest_first():
    options = [
        batch(1, made=date(2025, 1, 1)),
        batch(2, made=None),
        batch(3, made=date(2025, 6, 1)),
        batch(4, made=date(2025, 1, 1)),
    ]
    assert ids(order_batches(options, IssuanceOrder.LIFO, TODAY)) == [3, 4, 1, 2]


def test_lifo_puts_every_undated_batch_last_by_descending_id():
    options = [batch(1), batch(5), batch(3, made=date(2024, 1, 1))]
    assert ids(order_batches(options, IssuanceOrder.LIFO, TODAY)) == [3, 5, 1]


def test_order_accepts_the_plain_string_name():
    options = [batch(1, made=date(2025, 6, 1)), batch(2, made=date(2025, 1, 1))]
    assert ids(order_batches(options, "FIFO", TODAY)) == [2, 1]


def test_unknown_order_name_is_rejected():
    with pytest.raises(ValueError):
        order_batches([batch(1)], "RANDOM", TODAY)


def test_the_same_batch_twice_is_rejected():
    with pytest.raises(ValueError):
        order_batches([batch(1), batch(1)], IssuanceOrder.FEFO, TODAY)


# --- suggestion ------------------------------------------------------------------------------------------


def test_suggestion_takes_from_the_first_batch_when_it_suffices():
    options = [batch(1, expiry=date(2026, 9, 1)), batch(2, expiry=date(2026, 3, 1))]
    plan = suggest_allocation(options, IssuanceOrder.FEFO, D("4"), TODAY)
    assert plan.lines == [(2, D("4"))]
    assert plan.allocated == D("4")
    assert plan.shortfall == D("0")


def test_suggestion_spans_batches_greedily():
    options = [
        batch(1, expiry=date(2026, 9, 1), usable="10"),
        batch(2, expiry=date(2026, 3, 1), usable="6", reserved="2"),
        batch(3, expiry=date(2026, 6, 1), usable="5"),
    ]
    plan = suggest_allocation(options, IssuanceOrder.FEFO, D("12.5"), TODAY)
    assert plan.lines == [(2, D("4")), (3, D("5")), (1, D("3.5"))]
    assert plan.allocated == D("12.5")
    assert plan.shortfall == D("0")


def test_shortfall_when_not_enough():
    options = [
        batch(1, usable="3"),
        batch(2, usable="4", reserved="1"),
        batch(3, expiry=TODAY - timedelta(1)),
    ]
    plan = suggest_allocation(options, IssuanceOrder.FIFO, D("10"), TODAY)
    assert plan.lines == [(1, D("3")), (2, D("3"))]
    assert plan.allocated == D("6")
    assert plan.shortfall == D("4")


def test_suggestion_with_no_usable_batch_is_all_shortfall():
    plan = suggest_allocation([], IssuanceOrder.FEFO, D("5"), TODAY)
    assert plan.lines == []
    assert plan.allocated == D("0")
    assert plan.shortfall == D("5")


@pytest.mark.parametrize("requested", [D("0"), D("-1")])
def test_requesting_nothing_or_less_is_rejected(requested):
    with pytest.raises(ValueError):
        suggest_allocation([batch(1)], IssuanceOrder.FEFO, requested, TODAY)


# --- deviation -------------------------------------------------------------------------------------------


def test_deviation_none_when_choice_matches_plan():
    options = [batch(1, expiry=date(2026, 9, 1)), batch(2, expiry=date(2026, 3, 1), usable="5")]
    assert plan_deviation(options, IssuanceOrder.FEFO, {2: D("5"), 1: D("2")}, TODAY) is None


def test_deviation_ignores_zero_quantity_lines():
    options = [batch(1, expiry=date(2026, 9, 1)), batch(2, expiry=date(2026, 3, 1))]
    assert plan_deviation(options, IssuanceOrder.FEFO, {2: D("5"), 1: D("0")}, TODAY) is None


def test_deviation_explains_skipped_batch():
    options = [
        batch(7, batch_no="B-7", expiry=date(2026, 9, 1)),
        batch(2, batch_no="B-2", expiry=date(2026, 3, 1)),
    ]
    deviation = plan_deviation(options, IssuanceOrder.FEFO, {7: D("4")}, TODAY)
    assert deviation == Deviation(
        planned=[(2, D("4"))],
        chosen=[(7, D("4"))],
        reasons=["Batch B-2 (expires 2026-03-01) would be issued before batch B-7 (expires 2026-09-01) under FEFO"],
    )


def test_deviation_when_same_batches_but_different_split():
    options = [batch(1, made=date(2025, 1, 1)), batch(2, made=date(2025, 2, 1))]
    deviation = plan_deviation(options, IssuanceOrder.FIFO, {1: D("4"), 2: D("6")}, TODAY)
    assert deviation is not None
    assert deviation.planned == [(1, D("10"))]
    assert deviation.chosen == [(1, D("4")), (2, D("6"))]
    assert deviation.reasons == [
        "Batch B-1 (batch date 2025-01-01) would be issued before batch B-2 (batch date 2025-02-01) under FIFO"
    ]


def test_deviation_gives_one_reason_per_chosen_batch_that_skips():
    options = [
        batch(1, expiry=date(2026, 2, 1), usable="3"),
        batch(2, expiry=date(2026, 4, 1), usable="3"),
        batch(3, expiry=date(2026, 6, 1), usable="3"),
    ]
    deviation = plan_deviation(options, IssuanceOrder.FEFO, {2: D("3"), 3: D("3")}, TODAY)
    assert deviation is not None
    assert deviation.planned == [(1, D("3")), (2, D("3"))]
    assert deviation.reasons == [
        "Batch B-1 (expires 2026-02-01) would be issued before batch B-2 (expires 2026-04-01) under FEFO",
        "Batch B-1 (expires 2026-02-01) would be issued before batch B-3 (expires 2026-06-01) under FEFO",
    ]


def test_a_batch_used_up_by_the_choice_is_not_reported_as_skipped():
    options = [
        batch(1, expiry=date(2026, 2, 1), usable="3"),
        batch(2, expiry=date(2026, 4, 1), usable="3"),
        batch(3, expiry=date(2026, 6, 1), usable="3"),
    ]
    deviation = plan_deviation(options, IssuanceOrder.FEFO, {1: D("3"), 3: D("2")}, TODAY)
    assert deviation is not None
    assert deviation.reasons == [
        "Batch B-2 (expires 2026-04-01) would be issued before batch B-3 (expires 2026-06-01) under FEFO"
    ]


def test_deviation_on_an_expiry_tie_names_the_batch_dates():
    options = [
        batch(1, expiry=date(2026, 5, 1), made=date(2025, 1, 1)),
        batch(2, expiry=date(2026, 5, 1), made=date(2025, 3, 1)),
    ]
    deviation = plan_deviation(options, IssuanceOrder.FEFO, {2: D("1")}, TODAY)
    assert deviation is not None
    assert deviation.reasons == [
        "Batch B-1 (expires 2026-05-01, batch date 2025-01-01) would be issued before "
        "batch B-2 (expires 2026-05-01, batch date 2025-03-01) under FEFO"
    ]


def test_deviation_treats_unknown_batch_as_outside_the_plan():
    options = [batch(1)]
    deviation = plan_deviation(options, IssuanceOrder.FIFO, {99: D("2")}, TODAY)
    assert deviation is not None
    assert deviation.planned == [(1, D("2"))]
    assert deviation.chosen == [(99, D("2"))]
    assert deviation.reasons == []


def test_deviation_rejects_negative_quantities():
    with pytest.raises(ValueError):
        plan_deviation([batch(1)], IssuanceOrder.FIFO, {1: D("-1")}, TODAY)


def test_empty_choice_is_no_deviation():
    assert plan_deviation([batch(1)], IssuanceOrder.FIFO, {}, TODAY) is None


# --- reservation deltas (seed 001: Save Draft) -----------------------------------------------------------


def test_first_draft_reserves_what_it_allocates():
    assert reservation_deltas({}, {1: D("30")}) == {1: D("30")}


def test_draft_of_30_resaved_as_20_gives_delta_minus_10():
    reserved = D("0")
    first = reservation_deltas({}, {5: D("30")})
    reserved += first[5]
    assert reserved == D("30")
    second = reservation_deltas({5: D("30")}, {5: D("20")})
    assert second == {5: D("-10")}
    reserved += second[5]
    assert reserved == D("20")


def test_dropped_batch_releases_its_reservation():
    assert reservation_deltas({1: D("30"), 2: D("5")}, {2: D("5")}) == {1: D("-30")}


def test_unchanged_allocation_gives_no_delta():
    assert reservation_deltas({1: D("30"), 2: D("0")}, {1: D("30")}) == {}


def test_moving_quantity_between_batches_gives_opposite_deltas():
    assert reservation_deltas({1: D("10")}, {1: D("4"), 2: D("6")}) == {1: D("-6"), 2: D("6")}


@pytest.mark.parametrize(("old", "new"), [({1: D("-1")}, {}), ({}, {1: D("-1")})])
def test_negative_allocations_are_rejected(old, new):
    with pytest.raises(ValueError):
        reservation_deltas(old, new)


# --- properties ------------------------------------------------------------------------------------------

quantities = st.decimals(min_value=0, max_value=1000, places=2, allow_nan=False, allow_infinity=False)
dates = st.one_of(st.none(), st.dates(min_value=TODAY - timedelta(days=60), max_value=TODAY + timedelta(days=60)))


@st.composite
def batch_options(draw):
    batch_ids = draw(st.lists(st.integers(min_value=1, max_value=500), max_size=8, unique=True))
    return [
        BatchOption(
            batch_id=batch_id,
            batch_no=f"B-{batch_id}",
            batch_date=draw(dates),
            expiry_date=draw(dates),
            usable_qty=draw(quantities),
            reserved_qty=draw(quantities),
            held_by_this_package=draw(quantities),
        )
        for batch_id in batch_ids
    ]


@given(
    options=batch_options(),
    order=st.sampled_from(IssuanceOrder),
    requested=st.decimals(min_value=D("0.01"), max_value=5000, places=2),
)
def test_suggestion_never_overdraws_never_uses_expired_and_balances(options, order, requested):
    by_id = {option.batch_id: option for option in options}
    plan = suggest_allocation(options, order, requested, TODAY)

    assert len({batch_id for batch_id, _ in plan.lines}) == len(plan.lines)
    for batch_id, qty in plan.lines:
        option = by_id[batch_id]
        assert D("0") < qty <= option.available
        assert option.expiry_date is None or option.expiry_date >= TODAY
    assert plan.allocated == sum((qty for _, qty in plan.lines), D("0"))
    assert plan.allocated + plan.shortfall == requested
    assert plan.shortfall >= 0
    usable_total = sum((o.available for o in order_batches(options, order, TODAY)), D("0"))
    assert plan.allocated == min(requested, usable_total)


@given(options=batch_options(), order=st.sampled_from(IssuanceOrder), seed=st.randoms())
def test_order_does_not_depend_on_input_order(options, order, seed):
    shuffled = list(options)
    seed.shuffle(shuffled)
    assert order_batches(shuffled, order, TODAY) == order_batches(options, order, TODAY)


@given(options=batch_options(), order=st.sampled_from(IssuanceOrder), data=st.data())
def test_deviation_is_none_exactly_for_the_greedy_plan(options, order, data):
    usable = order_batches(options, order, TODAY)
    chosen = {
        option.batch_id: data.draw(st.decimals(min_value=0, max_value=option.available, places=2)) for option in usable
    }
    total = sum(chosen.values(), D("0"))
    deviation = plan_deviation(options, order, chosen, TODAY)
    if total == 0:
        assert deviation is None
        return
    planned = suggest_allocation(options, order, total, TODAY).lines
    picked = {batch_id: qty for batch_id, qty in chosen.items() if qty > 0}
    if dict(planned) == picked:
        assert deviation is None
    else:
        # A different split of the same total within availability always skips an earlier batch.
        assert deviation is not None
        assert deviation.planned == planned
        assert deviation.reasons


allocations = st.dictionaries(st.integers(min_value=1, max_value=20), quantities, max_size=8)


@given(old=allocations, new=allocations)
def test_applying_deltas_to_old_gives_new(old, new):
    deltas = reservation_deltas(old, new)
    applied = dict(old)
    for batch_id, delta in deltas.items():
        applied[batch_id] = applied.get(batch_id, D("0")) + delta
    assert {k: v for k, v in applied.items() if v != 0} == {k: v for k, v in new.items() if v != 0}
    assert all(delta != 0 for delta in deltas.values())
