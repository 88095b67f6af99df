"""How pipe stock reads on screen: the phrases of the pipe-factory spec.

Pure Python (no Django), so pages, the API, the CLI and tests share one wording:

    "5 Full Rolls (500m each) = 2,500m"
    "3 Cut Pieces (200m, 150m, 150m) = 500m"
    "3 Bundles (50 pieces each) = 150 pieces"
    "25 Spare Pieces = 25 pieces"

and the batch detail view ("Batch #123 (HDPE OD=110, PN=8, PE=63) - Created: 2025-12-01", ...).
"""

from __future__ import annotations

import re
from collections import Counter
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal, InvalidOperation
from typing import Any

__all__ = [
    "STOCK_TYPES",
    "StockLine",
    "describe_batch",
    "describe_stock",
    "format_qty",
    "group_piece_lengths",
    "is_empty",
    "natural_sort_key",
    "stock_total",
    "variant_label",
]

FULL_ROLL = "FULL_ROLL"
CUT_ROLL = "CUT_ROLL"
BUNDLE = "BUNDLE"
SPARE = "SPARE"
STOCK_TYPES = frozenset({FULL_ROLL, CUT_ROLL, BUNDLE, SPARE})

METRES = "m"
PIECES = "pieces"
_UNIT_ALIASES = {
    "m": METRES,
    "meter": METRES,
    "meters": METRES,
    "metre": METRES,
    "metres": METRES,
    "piece": PIECES,
    "pieces": PIECES,
    "pcs": PIECES,
}


def _to_decimal(value: Any) -> Decimal:
    """Decimal from Decimal, int, str or float (floats via str, so 0.1 stays 0.1)."""
    if isinstance(value, bool):
        raise TypeError("a quantity cannot be a bool")
    if isinstance(value, Decimal):
        result = value
    elif isinstance(value, int | str):
        try:
            result = Decimal(value)
        except InvalidOperation as exc:
            raise ValueError(f"not a number: {value!r}") from exc
    elif isinstance(value, float):
        result = Decimal(str(value))
    else:
        raise TypeError(f"not a quantity: {value!r}")
    if not result.is_finite():
        raise ValueError(f"not a finite number: {value!r}")
    return result


def _plain_number(value: Any, *, grouping: bool) -> str:
    """'2500.000' -> '2,500' (grouping) or '2500'; never trailing zeros, never '-0'."""
    text = format(_to_decimal(value), ",f" if grouping else "f")
    if "." in text:
        text = text.rstrip("0").rstrip(".")
    return "0" if text == "-0" else text


def _normalise_unit(unit: str) -> str:
    try:
        return _UNIT_ALIASES[unit.strip().lower()]
    except KeyError:
        raise ValueError(f"unknown unit {unit!r}; expected metres ('m') or 'pieces'") from None


def format_qty(value: Decimal, unit: str) -> str:
    """A quantity as shown on screen.

    Metres: ``2,500m``, ``150.5m``, ``0.25m``.  Pieces: ``150 pieces``, ``1 piece``
    (a piece quantity must be a whole number).
    """
    kind = _normalise_unit(unit)
    number = _to_decimal(value)
    if kind == METRES:
        return f"{_plain_number(number, grouping=True)}m"
    if number != number.to_integral_value():
        raise ValueError(f"a piece count must be whole, got {value!r}")
    word = "piece" if number == 1 else "pieces"
    return f"{_plain_number(number, grouping=True)} {word}"


def _count(n: int, singular: str, plural: str) -> str:
    return f"{n:,} {singular if n == 1 else plural}"


@dataclass(frozen=True)
class StockLine:
    """One stock record of a batch, as the display needs it.

    - FULL_ROLL: ``quantity`` rolls of ``length_per_unit`` metres.
    - CUT_ROLL: ``piece_lengths`` are the IN_STOCK pieces, in display order (``quantity`` is not used:
      the piece count is the number of lengths).
    - BUNDLE: ``quantity`` bundles of ``pieces_per_bundle`` pieces.
    - SPARE: ``spare_count`` IN_STOCK spare pieces.
    """

    stock_type: str
    quantity: int = 0
    length_per_unit: Decimal | None = None
    pieces_per_bundle: int | None = None
    piece_lengths: Sequence[Decimal] = field(default_factory=list)
    spare_count: int = 0

    def __post_init__(self) -> None:
        if self.stock_type not in STOCK_TYPES:
            raise ValueError(f"unknown stock_type {self.stock_type!r}; expected one of {sorted(STOCK_TYPES)}")
        for name in ("quantity", "spare_count"):
            number = getattr(self, name)
            if isinstance(number, bool) or not isinstance(number, int) or number < 0:
                raise ValueError(f"{name} must be a whole number >= 0, got {number!r}")
        if self.stock_type == FULL_ROLL and self.length_per_unit is None:
            raise ValueError("a FULL_ROLL line needs length_per_unit")
        if self.stock_type == BUNDLE and self.pieces_per_bundle is None:
            raise ValueError("a BUNDLE line needs pieces_per_bundle")
        object.__setattr__(self, "piece_lengths", tuple(_to_decimal(x) for x in self.piece_lengths))


def stock_total(line: StockLine) -> Decimal:
    """What the line holds in its base unit (metres for rolls, pieces for bundles and spares)."""
    if line.stock_type == FULL_ROLL:
        return line.quantity * _to_decimal(line.length_per_unit)
    if line.stock_type == CUT_ROLL:
        return sum(line.piece_lengths, Decimal(0))
    if line.stock_type == BUNDLE:
        return Decimal(line.quantity * int(line.pieces_per_bundle or 0))
    return Decimal(line.spare_count)


def is_empty(line: StockLine) -> bool:
    """True when nothing is left on the line (0 rolls or bundles, no pieces)."""
    if line.stock_type in (FULL_ROLL, BUNDLE):
        return line.quantity == 0
    if line.stock_type == CUT_ROLL:
        return not line.piece_lengths
    return line.spare_count == 0


def describe_stock(line: StockLine) -> str:
    """The spec's phrase for one stock record, e.g. ``5 Full Rolls (500m each) = 2,500m``."""
    total = stock_total(line)
    if line.stock_type == FULL_ROLL:
        each = format_qty(_to_decimal(line.length_per_unit), METRES)
        return f"{_count(line.quantity, 'Full Roll', 'Full Rolls')} ({each} each) = {format_qty(total, METRES)}"
    if line.stock_type == CUT_ROLL:
        lengths = ", ".join(format_qty(x, METRES) for x in line.piece_lengths)
        head = _count(len(line.piece_lengths), "Cut Piece", "Cut Pieces")
        return f"{head} ({lengths}) = {format_qty(total, METRES)}"
    if line.stock_type == BUNDLE:
        each = format_qty(Decimal(int(line.pieces_per_bundle or 0)), PIECES)
        return f"{_count(line.quantity, 'Bundle', 'Bundles')} ({each} each) = {format_qty(total, PIECES)}"
    return f"{_count(line.spare_count, 'Spare Piece', 'Spare Pieces')} = {format_qty(total, PIECES)}"


def group_piece_lengths(lengths: Iterable[Decimal]) -> list[tuple[Decimal, int]]:
    """(length, count) pairs, longest first: [200, 150, 150] -> [(200, 1), (150, 2)].

    Equal lengths group together whatever their scale (150 and 150.000).
    """
    counts = Counter(_to_decimal(x) for x in lengths)
    return sorted(counts.items(), key=lambda pair: pair[0], reverse=True)


def describe_batch(
    batch_no: int | str,
    variant_label: str,
    created: date,
    initial: Decimal,
    current: Decimal,
    unit: str,
    lines: Iterable[StockLine],
) -> list[str]:
    """The batch detail view of the spec, one string per line (no blank lines).

    Lines with nothing left are omitted; when none is left the records read ``- none``.
    "Total Available" is the batch's current quantity (the batch is the source of truth).
    """
    records = [f"- {describe_stock(line)}" for line in lines if not is_empty(line)]
    return [
        f"Batch #{batch_no} ({variant_label}) - Created: {created.isoformat()}",
        f"Initial Quantity: {format_qty(initial, unit)} | Current Quantity: {format_qty(current, unit)}",
        "Stock Records:",
        *(records or ["- none"]),
        f"Total Available: {format_qty(current, unit)}",
    ]


# Display name of each product type and its attribute order (brand last, shown only on request).
_PRODUCT_TYPES: dict[str, tuple[str, tuple[str, ...]]] = {
    "HDPE": ("HDPE", ("OD", "PN", "PE")),
    "SPRINKLER": ("Sprinkler", ("OD", "PN", "Type")),
}
_ATTRIBUTE_NAMES = {"od": "OD", "pn": "PN", "pe": "PE", "type": "Type", "brand": "Brand"}


def _attribute_value(value: Any) -> str:
    """Numbers without trailing zeros (110.00 -> 110, 12.50 -> 12.5); text as given."""
    if isinstance(value, bool):
        return str(value)
    try:
        return _plain_number(value, grouping=False)
    except (TypeError, ValueError):
        return str(value).strip()


def variant_label(product_type_code: str, attributes: Mapping[str, Any], *, include_brand: bool = False) -> str:
    """``HDPE OD=110, PN=8, PE=63`` / ``Sprinkler OD=20, PN=6, Type=L``.

    Attribute names match case-insensitively; missing ones are skipped; attributes the product type
    does not list follow in name order; brand comes last and only with ``include_brand=True``.
    """
    code = product_type_code.strip()
    title, order = _PRODUCT_TYPES.get(code.upper(), (code, ()))
    by_name = {str(key).strip().lower(): value for key, value in attributes.items()}
    names = [name.lower() for name in order if name.lower() in by_name]
    names += sorted((k for k in by_name if k not in names and k != "brand"), key=natural_sort_key)
    if include_brand and "brand" in by_name:
        names.append("brand")
    parts = [f"{_ATTRIBUTE_NAMES.get(name, name)}={_attribute_value(by_name[name])}" for name in names]
    return f"{title} {', '.join(parts)}" if parts else title


_NUMBER_CHUNK = re.compile(r"(\d+(?:\.\d+)?)")


def natural_sort_key(value: Any) -> tuple[tuple[int, Any], ...]:
    """Sort key: numbers by value ("20" < "110", "8.5" < "10"), text case-insensitively,
    digits inside text by value ("PN8" < "PN10"); None last. Keys of mixed values compare safely.
    """
    if value is None:
        return ((2, ""),)
    if not isinstance(value, bool):
        try:
            return ((0, _to_decimal(value.strip() if isinstance(value, str) else value)),)
        except (TypeError, ValueError):
            pass
    key: list[tuple[int, Any]] = []
    for chunk in _NUMBER_CHUNK.split(str(value)):
        chunk = chunk.strip()
        if not chunk:
            continue
        key.append((0, Decimal(chunk)) if _NUMBER_CHUNK.fullmatch(chunk) else (1, chunk.casefold()))
    return tuple(key) or ((1, ""),)
