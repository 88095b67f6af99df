"""Relief input parsing, without a database: allocations, required versions, batch versions."""

import pytest

from stockledger.core.errors import ValidationError
from stockledger.relief.services.common import parse_allocations, require_version
from stockledger.relief.services.dispatch import _batch_versions


def test_allocations_as_a_list_or_a_mapping():
    lines = parse_allocations([{"batch_id": "7", "qty": "3", "item_id": 2}])
    assert lines == [{"i": 0, "qty": "3", "batch_id": 7, "item_id": 2, "warehouse_id": None, "version": None}]
    assert [(ln["batch_id"], ln["qty"]) for ln in parse_allocations({"7": 3, 8: "1"})] == [(7, 3), (8, "1")]
    assert parse_allocations([]) == []


@pytest.mark.parametrize(
    ("raw", "field"),
    [
        ([{"qty": 1}], "allocations.0.batch_id"),
        ([{"batch_id": "x", "qty": 1}], "allocations.0.batch_id"),
        ([{"batch_id": 1, "qty": 1}, {"batch_id": 1, "qty": 2}], "allocations.1.batch_id"),
        ([{"batch_id": 1, "qty": 1, "item_id": "water"}], "allocations.0.item_id"),
        (["7"], "allocations.0"),
        ("7", "allocations"),
    ],
)
def test_bad_allocations_name_the_field(raw, field):
    with pytest.raises(ValidationError) as err:
        parse_allocations(raw)
    assert field in err.value.extra["fields"]


@pytest.mark.parametrize("missing", [None, ""])
def test_a_missing_version_is_refused_never_skipped(missing):
    with pytest.raises(ValidationError) as err:
        require_version(missing)
    assert err.value.status == 400 and err.value.extra["fields"] == {"version": ["required"]}
    assert require_version("4") == 4
    with pytest.raises(ValidationError):
        require_version("four")


def test_batch_versions_merge_the_map_and_the_lines():
    lines = [{"batch_id": 3, "version": 9}, {"batch_id": 4, "version": None}]
    assert _batch_versions({"1": "2"}, lines) == [{"batch_id": 1, "version": 2}, {"batch_id": 3, "version": 9}]
    assert _batch_versions(None, None) == []
    with pytest.raises(ValidationError):
        _batch_versions({"1": "two"}, None)
    with pytest.raises(ValidationError):
        _batch_versions([1, 2], None)
