"""The pipe-factory spec's on-screen phrases, verbatim (seed 003: "Frontend shows:" lines and the
"FRONTEND DISPLAY REQUIREMENTS" detail view)."""

from datetime import date
from decimal import Decimal as D

import pytest

from stockledger.pieces.display import (
    StockLine,
    describe_batch,
    describe_stock,
    format_qty,
    group_piece_lengths,
    is_empty,
    natural_sort_key,
    stock_total,
    variant_label,
)


def full_rolls(n, length):
    return StockLine("FULL_ROLL", quantity=n, length_per_unit=D(length))


def cut_pieces(*lengths):
    return StockLine("CUT_ROLL", piece_lengths=[D(x) for x in lengths])


def bundles(n, per_bundle):
    return StockLine("BUNDLE", quantity=n, pieces_per_bundle=per_bundle)


def spares(n):
    return StockLine("SPARE", spare_count=n)


# --- format_qty ----------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2500", "2,500m"),
        ("1300", "1,300m"),
        ("150.5", "150.5m"),
        ("0.25", "0.25m"),
        ("12345.678", "12,345.678m"),
        ("1234567", "1,234,567m"),
        ("0", "0m"),
    ],
)
def test_metres_read_with_thousands_separators_and_an_m_suffix(value, expected):
    assert format_qty(D(value), "m") == expected


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("2500.000", "2,500m"),
        ("150.500", "150.5m"),
        ("0.250", "0.25m"),
        ("2.5E+3", "2,500m"),
        ("-0.000", "0m"),
    ],
)
def test_metres_drop_trailing_zeros_and_exponents(value, expected):
    assert format_qty(D(value), "m") == expected


@pytest.mark.parametrize("unit", ["m", "metres", "meters", "Metre"])
def test_metre_unit_has_several_spellings(unit):
    assert format_qty(D("500"), unit) == "500m"


@pytest.mark.parametrize(
    ("value", "expected"),
    [
        ("150", "150 pieces"),
        ("1", "1 piece"),
        ("1.000", "1 piece"),
        ("0", "0 pieces"),
        ("1000", "1,000 pieces"),
    ],
)
def test_pieces_read_as_a_whole_count_with_singular_for_one(value, expected):
    assert format_qty(D(value), "pieces") == expected


def test_a_fractional_piece_count_is_refused():
    with pytest.raises(ValueError, match="whole"):
        format_qty(D("1.5"), "pieces")


def test_an_unknown_unit_is_refused():
    with pytest.raises(ValueError, match="unknown unit"):
        format_qty(D("1"), "kg")


def test_a_float_is_read_through_its_shortest_text_not_its_binary_value():
    assert format_qty(0.1, "m") == "0.1m"


# --- describe_stock: every "Frontend shows" line of the spec ---------------------------------------


def test_production_of_five_full_rolls_reads_as_in_the_spec():
    assert describe_stock(full_rolls(5, "500")) == "5 Full Rolls (500m each) = 2,500m"


def test_production_of_three_cut_pieces_reads_as_in_the_spec():
    assert describe_stock(cut_pieces("200", "150", "150")) == "3 Cut Pieces (200m, 150m, 150m) = 500m"


def test_production_of_three_bundles_reads_as_in_the_spec():
    assert describe_stock(bundles(3, 50)) == "3 Bundles (50 pieces each) = 150 pieces"


def test_production_of_twenty_five_spares_reads_as_in_the_spec():
    assert describe_stock(spares(25)) == "25 Spare Pieces = 25 pieces"


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (full_rolls(1, "500"), "1 Full Roll (500m each) = 500m"),
        (full_rolls(4, "500"), "4 Full Rolls (500m each) = 2,000m"),
        (cut_pieces("200"), "1 Cut Piece (200m) = 200m"),
        (cut_pieces("150", "150"), "2 Cut Pieces (150m, 150m) = 300m"),
        (bundles(1, 50), "1 Bundle (50 pieces each) = 50 pieces"),
        (bundles(2, 1), "2 Bundles (1 piece each) = 2 pieces"),
        (spares(1), "1 Spare Piece = 1 piece"),
        (spares(1000), "1,000 Spare Pieces = 1,000 pieces"),
    ],
)
def test_singular_and_plural_follow_the_count(line, expected):
    assert describe_stock(line) == expected


def test_cut_pieces_are_listed_in_the_order_given_not_sorted():
    assert describe_stock(cut_pieces("150", "200", "150")) == "3 Cut Pieces (150m, 200m, 150m) = 500m"


def test_decimal_lengths_show_without_trailing_zeros():
    line = cut_pieces("150.50", "0.250")
    assert describe_stock(line) == "2 Cut Pieces (150.5m, 0.25m) = 150.75m"


def test_full_rolls_of_a_decimal_length_total_with_thousands_separators():
    assert describe_stock(full_rolls(25, "493.827")) == "25 Full Rolls (493.827m each) = 12,345.675m"


# --- stock_total ---------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "expected"),
    [
        (full_rolls(5, "500"), D("2500")),
        (cut_pieces("200", "150", "150"), D("500")),
        (bundles(3, 50), D("150")),
        (spares(25), D("25")),
        (cut_pieces(), D("0")),
    ],
)
def test_stock_total_follows_the_spec_formula_for_each_stock_type(line, expected):
    assert stock_total(line) == expected


def test_a_cut_roll_total_counts_its_pieces_not_its_quantity_field():
    line = StockLine("CUT_ROLL", quantity=7, piece_lengths=[D("200"), D("300")])
    assert stock_total(line) == D("500")
    assert describe_stock(line).startswith("2 Cut Pieces")


def test_spare_total_uses_the_spare_count():
    assert stock_total(StockLine("SPARE", spare_count=75)) == D("75")


# --- StockLine validation ------------------------------------------------------------------------


@pytest.mark.parametrize(
    "kwargs",
    [
        {"stock_type": "ROLL"},
        {"stock_type": "FULL_ROLL", "quantity": 2},
        {"stock_type": "BUNDLE", "quantity": 2},
        {"stock_type": "FULL_ROLL", "quantity": -1, "length_per_unit": D("500")},
        {"stock_type": "SPARE", "spare_count": -3},
        {"stock_type": "BUNDLE", "quantity": 1.5, "pieces_per_bundle": 50},
    ],
)
def test_an_incomplete_or_negative_stock_line_is_refused(kwargs):
    with pytest.raises(ValueError):
        StockLine(**kwargs)


# --- is_empty and group_piece_lengths ------------------------------------------------------------


@pytest.mark.parametrize(
    ("line", "empty"),
    [
        (full_rolls(0, "500"), True),
        (full_rolls(1, "500"), False),
        (cut_pieces(), True),
        (cut_pieces("0.5"), False),
        (bundles(0, 50), True),
        (bundles(1, 50), False),
        (spares(0), True),
        (spares(1), False),
    ],
)
def test_a_line_is_empty_only_when_nothing_is_left(line, empty):
    assert is_empty(line) is empty


def test_piece_lengths_group_by_length_longest_first():
    lengths = [D("150"), D("200"), D("150"), D("50.5"), D("300")]
    assert group_piece_lengths(lengths) == [(D("300"), 1), (D("200"), 1), (D("150"), 2), (D("50.5"), 1)]


def test_equal_lengths_written_with_different_scales_group_together():
    assert group_piece_lengths([D("150"), D("150.000"), D("150.0")]) == [(D("150"), 3)]


def test_grouping_sorts_lengths_by_value_not_as_text():
    assert [length for length, _ in group_piece_lengths([D("20"), D("110"), D("9")])] == [
        D("110"),
        D("20"),
        D("9"),
    ]


def test_grouping_no_pieces_gives_no_groups():
    assert group_piece_lengths([]) == []


# --- describe_batch: the spec's inventory detail view --------------------------------------------

HDPE_123 = "HDPE OD=110, PN=8, PE=63"


def test_batch_detail_view_reproduces_the_spec_example_verbatim():
    lines = [full_rolls(4, "500"), cut_pieces("150", "150")]
    assert describe_batch(123, HDPE_123, date(2025, 12, 1), D("2500"), D("2300"), "m", lines) == [
        "Batch #123 (HDPE OD=110, PN=8, PE=63) - Created: 2025-12-01",
        "Initial Quantity: 2,500m | Current Quantity: 2,300m",
        "Stock Records:",
        "- 4 Full Rolls (500m each) = 2,000m",
        "- 2 Cut Pieces (150m, 150m) = 300m",
        "Total Available: 2,300m",
    ]


def test_batch_detail_view_omits_lines_with_nothing_left():
    lines = [full_rolls(0, "500"), full_rolls(2, "500"), cut_pieces(), cut_pieces("300")]
    view = describe_batch(123, HDPE_123, date(2025, 12, 1), D("2500"), D("1300"), "m", lines)
    assert view[3:] == [
        "- 2 Full Rolls (500m each) = 1,000m",
        "- 1 Cut Piece (300m) = 300m",
        "Total Available: 1,300m",
    ]


def test_batch_detail_view_of_an_emptied_batch_says_none():
    view = describe_batch(888, HDPE_123, date(2025, 12, 2), D("500"), D("0"), "m", [full_rolls(0, "500")])
    assert view[2:] == ["Stock Records:", "- none", "Total Available: 0m"]


def test_sprinkler_batch_detail_view_counts_pieces():
    label = variant_label("SPRINKLER", {"OD": 20, "PN": 6, "Type": "L"})
    view = describe_batch("456", label, date(2025, 12, 1), D("150"), D("100"), "pieces", [bundles(2, 50)])
    assert view == [
        "Batch #456 (Sprinkler OD=20, PN=6, Type=L) - Created: 2025-12-01",
        "Initial Quantity: 150 pieces | Current Quantity: 100 pieces",
        "Stock Records:",
        "- 2 Bundles (50 pieces each) = 100 pieces",
        "Total Available: 100 pieces",
    ]


def test_batch_detail_view_keeps_the_order_of_the_stock_records():
    lines = [cut_pieces("200"), full_rolls(1, "500")]
    view = describe_batch(1, HDPE_123, date(2025, 1, 1), D("700"), D("700"), "m", lines)
    assert view[3:5] == ["- 1 Cut Piece (200m) = 200m", "- 1 Full Roll (500m each) = 500m"]


# --- variant_label -------------------------------------------------------------------------------


def test_hdpe_label_lists_od_pn_pe_and_leaves_out_the_brand():
    attributes = {"brand": "Tarko", "PE": 63, "pn": "8", "od": D("110.00")}
    assert variant_label("HDPE", attributes) == "HDPE OD=110, PN=8, PE=63"


def test_hdpe_label_shows_the_brand_last_when_asked():
    attributes = {"Brand": "Tarko", "OD": 110, "PN": 8, "PE": 63}
    assert variant_label("hdpe", attributes, include_brand=True) == "HDPE OD=110, PN=8, PE=63, Brand=Tarko"


def test_sprinkler_label_lists_od_pn_type():
    attributes = {"type": "L", "od": "20", "pn": 6.0, "brand": "Tarko"}
    assert variant_label("sprinkler", attributes) == "Sprinkler OD=20, PN=6, Type=L"


def test_numeric_attribute_values_drop_trailing_zeros_but_keep_real_decimals():
    assert variant_label("HDPE", {"OD": "110.0", "PN": D("12.50"), "PE": 100}) == "HDPE OD=110, PN=12.5, PE=100"


def test_missing_attributes_are_skipped_and_unknown_ones_follow_in_name_order():
    label = variant_label("HDPE", {"PN": 8, "OD": 110, "colour": "black", "coil": 2})
    assert label == "HDPE OD=110, PN=8, coil=2, colour=black"


# --- natural_sort_key ----------------------------------------------------------------------------


def test_numeric_attribute_values_sort_by_value_not_as_text():
    assert sorted(["110", "20", "63", "9", "12.5"], key=natural_sort_key) == ["9", "12.5", "20", "63", "110"]


def test_numbers_of_any_type_sort_together_by_value():
    assert sorted([D("110"), 20, "63", 8.5], key=natural_sort_key) == [8.5, 20, "63", D("110")]


def test_text_sorts_case_insensitively():
    assert sorted(["tarko", "Apex", "bravo", "Zed"], key=natural_sort_key) == [
        "Apex",
        "bravo",
        "tarko",
        "Zed",
    ]


def test_digits_inside_text_sort_by_value():
    assert sorted(["PN10", "pn8", "PN 12.5", "PN6"], key=natural_sort_key) == [
        "PN6",
        "pn8",
        "PN10",
        "PN 12.5",
    ]


def test_mixed_numbers_text_and_none_sort_without_error_numbers_first_none_last():
    assert sorted(["L", None, "110", "20", "K"], key=natural_sort_key) == ["20", "110", "K", "L", None]
