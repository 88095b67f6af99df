"""Pure pipe rules: which stock forms a product has, and the parsing of operation input.

No database here: every function takes plain values and either returns clean values or raises one
ValidationError (400) listing every problem, field by field, before anything is written.
"""

from collections import defaultdict
from dataclasses import dataclass, field
from datetime import date
from decimal import Decimal

from stockledger.core.errors import ValidationError
from stockledger.stock.validation import quantity

from .display import BUNDLE, CUT_ROLL, FULL_ROLL, SPARE

ROLL_TYPES = (FULL_ROLL, CUT_ROLL)
BUNDLE_TYPES = (BUNDLE, SPARE)
POSITIVE = "Quantity must be greater than 0"
BATCH_KEYS = {"batch", "batch_id", "batch_no", "original_batch", "original_batch_id"}


def stock_types_for(base_unit: str) -> tuple[str, str]:
    """Rolls (FULL_ROLL / CUT_ROLL) for a product measured in metres, bundles (BUNDLE / SPARE) otherwise."""
    return ROLL_TYPES if base_unit.strip().lower() in {"m", "metre", "meter", "metres", "meters"} else BUNDLE_TYPES


class Problems:
    """Collects field errors; `raise_if_any` raises one 400 naming the first and counting the rest."""

    def __init__(self):
        self.fields: dict[str, list[str]] = defaultdict(list)

    def add(self, name: str, message: str) -> None:
        self.fields[name].append(message)

    def __bool__(self) -> bool:
        return bool(self.fields)

    def absorb(self, err: ValidationError) -> None:
        for name, messages in err.extra.get("fields", {}).items():
            self.fields[name].extend(messages)

    def raise_if_any(self, message: str | None = None) -> None:
        if not self.fields:
            return
        texts = [m for ms in self.fields.values() for m in ms]
        first = message or (POSITIVE if POSITIVE in texts else texts[0][:1].upper() + texts[0][1:])
        more = len(texts) - 1
        text = first if message or not more else f"{first} (and {more} more problem{'s' if more > 1 else ''})"
        raise ValidationError(text, fields=dict(self.fields))


def count(value, name: str, problems: Problems, unit: str = "units") -> int | None:
    """A whole number > 0 (rolls, bundles, pieces, pieces per bundle)."""
    if isinstance(value, bool) or value is None or value == "":
        problems.add(name, "a whole number greater than 0 is required")
        return None
    try:
        return int(quantity(value, 0, unit, name))
    except ValidationError as err:
        problems.add(name, POSITIVE if err.message == POSITIVE else f"must be a whole number of {unit}")
        return None


def length(value, name: str, problems: Problems, decimals: int) -> Decimal | None:
    """A length in metres > 0 with at most `decimals` decimal places."""
    if isinstance(value, bool) or value is None or value == "":
        problems.add(name, "a length in metres greater than 0 is required")
        return None
    try:
        return quantity(value, decimals, "metre", name)
    except ValidationError as err:
        problems.add(name, POSITIVE if err.message == POSITIVE else err.extra["fields"][name][0])
        return None


def id_list(value, name: str, problems: Problems) -> list[int] | None:
    if not isinstance(value, list | tuple) or not value:
        problems.add(name, "a non-empty list of piece ids is required")
        return None
    out = []
    for i, v in enumerate(value):
        if isinstance(v, bool):
            problems.add(f"{name}.{i}", "must be an id")
            continue
        try:
            out.append(int(v))
        except (TypeError, ValueError):
            problems.add(f"{name}.{i}", "must be an id")
    if len(set(out)) != len(out):
        problems.add(name, "a piece is named twice")
    return out


def optional_int(value, name: str, problems: Problems) -> int | None:
    if value is None:
        return None
    try:
        if isinstance(value, bool):
            raise ValueError
        return int(value)
    except (TypeError, ValueError):
        problems.add(name, "must be an integer")
        return None


# --- intake: production and return lines --------------------------------------------------------

INTAKE_KEYS = {
    FULL_ROLL: {"stock_type", "quantity", "length_per_unit"},
    CUT_ROLL: {"stock_type", "piece_lengths"},
    BUNDLE: {"stock_type", "quantity", "pieces_per_bundle"},
    SPARE: {"stock_type", "quantity"},
}


@dataclass
class StockSpec:
    """A stock record to create: FULL_ROLL n × length, CUT_ROLL pieces, BUNDLE n × size, SPARE n pieces."""

    stock_type: str
    quantity: int = 0
    length_per_unit: Decimal | None = None
    pieces_per_bundle: int | None = None
    piece_lengths: list[Decimal] = field(default_factory=list)

    @property
    def units(self) -> int:
        return len(self.piece_lengths) if self.stock_type == CUT_ROLL else self.quantity

    @property
    def total(self) -> Decimal:
        if self.stock_type == FULL_ROLL:
            return self.quantity * self.length_per_unit
        if self.stock_type == CUT_ROLL:
            return sum(self.piece_lengths, Decimal(0))
        if self.stock_type == BUNDLE:
            return Decimal(self.quantity * self.pieces_per_bundle)
        return Decimal(self.quantity)


def parse_intake_line(line, name: str, problems: Problems, *, types: tuple[str, str], decimals: int, extra=()):
    """One production / return line -> StockSpec (None when it has problems, which are recorded)."""
    if not isinstance(line, dict):
        problems.add(name, "must be an object")
        return None
    before = len(problems.fields)
    stock_type = line.get("stock_type")
    if stock_type not in types:
        problems.add(f"{name}.stock_type", f"must be one of {', '.join(types)} for this product")
        return None
    for key in sorted(set(line) - INTAKE_KEYS[stock_type] - set(extra)):
        if key in BATCH_KEYS:
            problems.add(f"{name}.{key}", "a return or production always creates a new batch; it cannot name one")
        else:
            problems.add(f"{name}.{key}", f"unknown field for a {stock_type} line")
    spec = StockSpec(stock_type)
    if stock_type == CUT_ROLL:
        lengths = line.get("piece_lengths")
        if not isinstance(lengths, list | tuple) or not lengths:
            problems.add(f"{name}.piece_lengths", "a non-empty list of piece lengths is required")
        else:
            spec.piece_lengths = [
                length(v, f"{name}.piece_lengths.{i}", problems, decimals) for i, v in enumerate(lengths)
            ]
    else:
        unit = {FULL_ROLL: "rolls", BUNDLE: "bundles", SPARE: "pieces"}[stock_type]
        spec.quantity = count(line.get("quantity"), f"{name}.quantity", problems, unit)
    if stock_type == FULL_ROLL:
        spec.length_per_unit = length(line.get("length_per_unit"), f"{name}.length_per_unit", problems, decimals)
    if stock_type == BUNDLE:
        spec.pieces_per_bundle = count(line.get("pieces_per_bundle"), f"{name}.pieces_per_bundle", problems, "pieces")
    return spec if len(problems.fields) == before else None


def merge_specs(specs: list[StockSpec]) -> list[StockSpec]:
    """One record per roll length / bundle size, one CUT_ROLL and one SPARE record (first-seen order)."""
    out: dict[tuple, StockSpec] = {}
    for s in specs:
        key = (s.stock_type, s.length_per_unit, s.pieces_per_bundle)
        if key not in out:
            out[key] = StockSpec(s.stock_type, 0, s.length_per_unit, s.pieces_per_bundle, [])
        out[key].quantity += s.quantity
        out[key].piece_lengths.extend(s.piece_lengths)
    return list(out.values())


# --- taking: dispatch and scrap lines ------------------------------------------------------------

TAKE_KEYS = {"stock_id", "quantity", "piece_ids", "stock_version", "batch_version"}


@dataclass
class TakeLine:
    i: int
    stock_id: int
    quantity: int | None = None
    piece_ids: list[int] | None = None
    stock_version: int | None = None
    batch_version: int | None = None


def parse_take_lines(lines, problems: Problems, name: str = "lines") -> list[TakeLine]:
    """[{stock_id, quantity} | {stock_id, piece_ids}] (+ optional stock_version / batch_version)."""
    if not isinstance(lines, list | tuple) or not lines:
        problems.add(name, "at least one line naming a stock record (stock_id) is required")
        return []
    out = []
    for i, line in enumerate(lines):
        at = f"{name}.{i}"
        if not isinstance(line, dict):
            problems.add(at, "must be an object")
            continue
        for key in sorted(set(line) - TAKE_KEYS):
            problems.add(f"{at}.{key}", "unknown field; a line is {stock_id, quantity} or {stock_id, piece_ids}")
        if line.get("stock_id") is None:
            problems.add(f"{at}.stock_id", "every line must name a specific stock record (stock_id)")
            continue
        stock_id = optional_int(line.get("stock_id"), f"{at}.stock_id", problems)
        has_qty, has_pieces = line.get("quantity") is not None, line.get("piece_ids") is not None
        if has_qty == has_pieces:
            problems.add(at, "give either quantity (rolls, bundles or spare pieces) or piece_ids, not both")
            continue
        t = TakeLine(
            i,
            stock_id,
            stock_version=optional_int(line.get("stock_version"), f"{at}.stock_version", problems),
            batch_version=optional_int(line.get("batch_version"), f"{at}.batch_version", problems),
        )
        if has_qty:
            t.quantity = count(line["quantity"], f"{at}.quantity", problems)
        else:
            t.piece_ids = id_list(line["piece_ids"], f"{at}.piece_ids", problems)
        out.append(t)
    seen: dict[tuple[int, int], int] = {}
    for t in out:
        for pid in t.piece_ids or []:
            if (t.stock_id, pid) in seen and seen[(t.stock_id, pid)] != t.i:
                problems.add(
                    f"{name}.{t.i}.piece_ids", f"piece {pid} is already named on line {seen[(t.stock_id, pid)]}"
                )
            seen[(t.stock_id, pid)] = t.i
    return out


# --- transformations ------------------------------------------------------------------------------


def check_cut(source_length: Decimal, piece1, piece2, decimals: int, problems: Problems) -> tuple[Decimal, Decimal]:
    """One cut makes exactly two pieces, each > 0, together exactly the source's length."""
    a = length(piece1, "piece1_length", problems, decimals)
    b = length(piece2, "piece2_length", problems, decimals)
    if a is not None and b is not None and a + b != source_length:
        problems.add(
            "piece2_length",
            f"the two pieces must add up to the source's length ({source_length.normalize():f}m); "
            f"{a.normalize():f}m + {b.normalize():f}m = {(a + b).normalize():f}m",
        )
    return a, b


def bundles_from(pieces: int, bundle_size: int, problems: Problems) -> int:
    """How many bundles `pieces` spares make; they must fill whole bundles."""
    if pieces % bundle_size:
        problems.add("quantity", f"{pieces} spare pieces do not make whole bundles of {bundle_size}")
    return pieces // bundle_size


def as_date(value, name: str, problems: Problems):
    """None, a date, or an ISO date string."""
    if value is None or isinstance(value, date):
        return value
    try:
        return date.fromisoformat(str(value))
    except ValueError:
        problems.add(name, "must be a date (YYYY-MM-DD)")
        return None
