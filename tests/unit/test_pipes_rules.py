"""Pure pipe rules (no database): stock forms per unit, parsing of production / return / dispatch lines,
the cut rule and whole bundles. Each bad input is named field by field before anything is written."""

from decimal import Decimal as D

import pytest
from hypothesis import given
from hypothesis import strategies as st

from stockledger.core.errors import ValidationError
from stockledger.pieces.rules import (
    BUNDLE_TYPES,
    ROLL_TYPES,
    Problems,
    StockSpec,
    bundles_from,
    check_cut,
    merge_specs,
    parse_intake_line,
    parse_take_lines,
    stock_types_for,
)


def intake(line, types=ROLL_TYPES, decimals=3, extra=()):
    problems = Problems()
    spec = parse_intake_line(line, "lines.0", problems, types=types, decimals=decimals, extra=extra)
    return spec, dict(problems.fields)


@pytest.mark.parametrize(("unit", "types"), [("metre", ROLL_TYPES), ("m", ROLL_TYPES), ("piece", BUNDLE_TYPES)])
def test_metres_come_in_rolls_and_pieces_in_bundles(unit, types):
    assert stock_types_for(unit) == types


def test_a_full_roll_line_parses_to_rolls_of_a_length():
    spec, errors = intake({"stock_type": "FULL_ROLL", "quantity": "5", "length_per_unit": "500"})
    assert errors == {}
    assert (spec.quantity, spec.length_per_unit, spec.total, spec.units) == (5, D(500), D(2500), 5)


def test_a_cut_roll_line_totals_its_piece_lengths():
    spec, _ = intake({"stock_type": "CUT_ROLL", "piece_lengths": ["200", "150", 150]})
    assert (spec.total, spec.units) == (D(500), 3)


@pytest.mark.parametrize(
    ("line", "field", "text"),
    [
        ({"stock_type": "FULL_ROLL", "quantity": 0, "length_per_unit": 5}, "lines.0.quantity", "greater than 0"),
        ({"stock_type": "FULL_ROLL", "quantity": 1, "length_per_unit": "-1"}, "lines.0.length_per_unit", "than 0"),
        ({"stock_type": "FULL_ROLL", "quantity": "1.5", "length_per_unit": 5}, "lines.0.quantity", "whole number"),
        ({"stock_type": "FULL_ROLL", "quantity": True, "length_per_unit": 5}, "lines.0.quantity", "whole number"),
        ({"stock_type": "FULL_ROLL", "quantity": 1}, "lines.0.length_per_unit", "required"),
        ({"stock_type": "FULL_ROLL", "quantity": 1, "length_per_unit": "1.0005"}, "lines.0.length_per_unit", "3"),
        ({"stock_type": "CUT_ROLL", "piece_lengths": []}, "lines.0.piece_lengths", "non-empty"),
        ({"stock_type": "CUT_ROLL", "piece_lengths": [1, 0]}, "lines.0.piece_lengths.1", "greater than 0"),
        ({"stock_type": "BUNDLE", "quantity": 1}, "lines.0.stock_type", "FULL_ROLL, CUT_ROLL"),
        ({"stock_type": "ROLL"}, "lines.0.stock_type", "must be one of"),
        ({"stock_type": "CUT_ROLL", "piece_lengths": [1], "batch_id": 4}, "lines.0.batch_id", "new batch"),
        ({"stock_type": "CUT_ROLL", "piece_lengths": [1], "colour": "x"}, "lines.0.colour", "unknown field"),
        ("not a line", "lines.0", "object"),
    ],
)
def test_bad_intake_lines_are_named_field_by_field(line, field, text):
    spec, errors = intake(line)
    assert spec is None
    assert text in " ".join(errors[field])


def test_bundle_lines_need_whole_pieces_per_bundle():
    spec, errors = intake({"stock_type": "BUNDLE", "quantity": 3, "pieces_per_bundle": 50}, BUNDLE_TYPES, 0)
    assert (spec.total, errors) == (D(150), {})
    _, errors = intake({"stock_type": "BUNDLE", "quantity": 3, "pieces_per_bundle": "2.5"}, BUNDLE_TYPES, 0)
    assert "whole number" in errors["lines.0.pieces_per_bundle"][0]


def test_records_merge_by_roll_length_and_bundle_size_one_cut_roll_one_spare():
    specs = [
        StockSpec("FULL_ROLL", 2, D(500)),
        StockSpec("FULL_ROLL", 3, D(300)),
        StockSpec("FULL_ROLL", 1, D(500)),
        StockSpec("CUT_ROLL", piece_lengths=[D(1)]),
        StockSpec("CUT_ROLL", piece_lengths=[D(2)]),
    ]
    merged = merge_specs(specs)
    assert [(s.stock_type, s.quantity, s.length_per_unit, s.piece_lengths) for s in merged] == [
        ("FULL_ROLL", 3, D(500), []),
        ("FULL_ROLL", 3, D(300), []),
        ("CUT_ROLL", 0, None, [D(1), D(2)]),
    ]


@given(st.lists(st.tuples(st.integers(1, 9), st.sampled_from([D(100), D("250.5"), D(500)])), min_size=1))
def test_merging_never_changes_the_total(rolls):
    specs = [StockSpec("FULL_ROLL", n, length) for n, length in rolls]
    assert sum(s.total for s in merge_specs(specs)) == sum(s.total for s in specs)


def test_take_lines_name_a_stock_record_and_either_a_quantity_or_pieces():
    problems = Problems()
    lines = parse_take_lines(
        [
            {"stock_id": 1, "quantity": 2, "stock_version": "3"},
            {"stock_id": 2, "piece_ids": [5, "6"]},
            {"quantity": 1},
            {"stock_id": 3, "quantity": 1, "piece_ids": [1]},
            {"stock_id": 4, "piece_ids": [7, 7]},
            {"stock_id": 2, "piece_ids": [6]},
            {"stock_id": 5, "qty": 1},
        ],
        problems,
    )
    assert [(t.stock_id, t.quantity, t.piece_ids, t.stock_version) for t in lines[:2]] == [
        (1, 2, None, 3),
        (2, None, [5, 6], None),
    ]
    assert set(problems.fields) == {
        "lines.2.stock_id",
        "lines.3",
        "lines.4.piece_ids",
        "lines.5.piece_ids",
        "lines.6.qty",
        "lines.6",
    }
    with pytest.raises(ValidationError) as err:
        problems.raise_if_any()
    assert "more problems" in err.value.message


def test_no_lines_is_a_dispatch_without_stock_records():
    problems = Problems()
    assert parse_take_lines([], problems) == []
    assert "stock_id" in problems.fields["lines"][0]


@pytest.mark.parametrize(
    ("a", "b", "ok"),
    [("200", "300", True), ("499.999", "0.001", True), ("250", "250.001", False), ("0", "500", False)],
)
def test_a_cut_makes_two_pieces_that_add_up_to_the_source(a, b, ok):
    problems = Problems()
    check_cut(D(500), a, b, 3, problems)
    assert (not problems) is ok


@given(st.integers(1, 10**6), st.integers(1, 10**6))
def test_any_split_point_of_a_length_is_a_valid_cut(total, point):
    length = D(total) / 1000
    a = D(point % total or 1) / 1000
    problems = Problems()
    if a < length:
        check_cut(length, a, length - a, 3, problems)
        assert not problems


@pytest.mark.parametrize(
    ("pieces", "size", "bundles", "ok"), [(50, 50, 1, True), (75, 25, 3, True), (30, 20, 1, False)]
)
def test_combined_spares_must_fill_whole_bundles(pieces, size, bundles, ok):
    problems = Problems()
    assert bundles_from(pieces, size, problems) == bundles
    assert (not problems) is ok


def test_a_single_positive_quantity_problem_reads_as_the_spec_message():
    problems = Problems()
    intake_problems = parse_intake_line(
        {"stock_type": "SPARE", "quantity": -2}, "lines.0", problems, types=BUNDLE_TYPES, decimals=0
    )
    assert intake_problems is None
    with pytest.raises(ValidationError) as err:
        problems.raise_if_any()
    assert err.value.message == "Quantity must be greater than 0"
