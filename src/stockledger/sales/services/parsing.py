"""Input checks for sales: ids, line kinds, quantities (whole cylinders) and money (2 decimals).

Every problem is collected and raised once as a 400 listing each field, before anything is written.
"""

from dataclasses import dataclass
from decimal import Decimal

from stockledger.catalog.models import Customer, Warehouse
from stockledger.core.errors import ValidationError
from stockledger.stock.validation import collect, to_decimal

from ..models import MONEY, LineItem, LpgProduct

CENT = Decimal("0.01")
MAX_MONEY = Decimal(10) ** (MONEY["max_digits"] - MONEY["decimal_places"]) - CENT
MAX_LINES = 200
MAX_QUANTITY = 100_000
SALE_WAREHOUSE_KINDS = {Warehouse.Kind.DEPOT, Warehouse.Kind.VEHICLE}


@dataclass
class ParsedLine:
    position: int
    product: LpgProduct
    kind: str
    quantity: int
    unit_price: Decimal

    @property
    def amount(self) -> Decimal:
        return (self.quantity * self.unit_price).quantize(CENT)


@dataclass
class ParsedSale:
    customer: Customer
    depot: Warehouse
    lines: list[ParsedLine]

    @property
    def total_amount(self) -> Decimal:
        return sum((line.amount for line in self.lines), Decimal("0.00")).quantize(CENT)


def as_id(value) -> int | None:
    if isinstance(value, bool):
        return None
    try:
        n = int(str(value).strip())
    except (TypeError, ValueError):
        return None
    return n if n > 0 else None


def money(value, field: str) -> Decimal:
    """A non-negative amount with at most 2 decimals (a JSON number is read from its shortest text form,
    so 19.99 is 19.99, never its binary approximation)."""
    d = to_decimal(value, field)
    problems = []
    if d < 0:
        problems.append("must not be negative")
    if d != d.quantize(CENT):
        problems.append("at most 2 decimal places")
    if d > MAX_MONEY:
        problems.append(f"at most {MAX_MONEY}")
    if problems:
        raise ValidationError(f"{field} is not a valid amount.", fields={field: problems})
    return d.quantize(CENT)


def whole_quantity(value, field: str) -> int:
    d = to_decimal(value, field)
    if d != d.to_integral_value() or d <= 0 or d > MAX_QUANTITY:
        raise ValidationError(
            "A quantity of cylinders is a whole number > 0.",
            fields={field: [f"a whole number of cylinders from 1 to {MAX_QUANTITY}"]},
        )
    return int(d)


def _line(i: int, raw, products: dict[int, LpgProduct], errors: dict) -> ParsedLine | None:
    f = f"lines.{i}"
    if not isinstance(raw, dict):
        errors[f] = ["must be an object"]
        return None
    out = {}
    pid = as_id(raw.get("product_id"))
    if pid is None:
        errors[f"{f}.product_id"] = ["an LPG product id is required"]
    elif pid not in products:
        errors[f"{f}.product_id"] = [f"unknown LPG product {pid}"]
    elif not products[pid].active:
        errors[f"{f}.product_id"] = [f"LPG product {products[pid].code} is not active"]
    else:
        out["product"] = products[pid]
    kind = raw.get("kind")
    if kind not in LineItem.Kind.values:
        errors[f"{f}.kind"] = [f"one of {', '.join(LineItem.Kind.values)}"]
    for name, parse in (("quantity", whole_quantity), ("unit_price", money)):
        try:
            out[name] = parse(raw.get(name), f"{f}.{name}")
        except ValidationError as e:
            errors.update(e.extra["fields"])
    if len(out) < 3 or f"{f}.kind" in errors:
        return None
    return ParsedLine(i + 1, out["product"], kind, out["quantity"], out["unit_price"])


def parse_sale(*, customer_id, depot_id, lines) -> ParsedSale:
    errors: dict[str, list[str]] = {}
    customer = depot = None
    cid, did = as_id(customer_id), as_id(depot_id)
    if cid is None:
        errors["customer_id"] = ["a customer id is required"]
    elif (customer := Customer.objects.filter(pk=cid).first()) is None or not customer.active:
        errors["customer_id"] = [f"unknown or inactive customer {cid}"]
    if did is None:
        errors["depot_id"] = ["a depot (or truck) id is required"]
    elif (depot := Warehouse.objects.filter(pk=did).first()) is None or not depot.active:
        errors["depot_id"] = [f"unknown or inactive depot {did}"]
    elif depot.kind not in SALE_WAREHOUSE_KINDS:
        errors["depot_id"] = [f"{depot.code} is a {depot.kind}: sales are made from a depot or a vehicle"]
    if not isinstance(lines, list | tuple) or not lines:
        errors["lines"] = ["at least one line is required"]
        lines = []
    elif len(lines) > MAX_LINES:
        errors["lines"] = [f"at most {MAX_LINES} lines"]
        lines = []
    ids = {as_id(raw.get("product_id")) for raw in lines if isinstance(raw, dict)} - {None}
    products = LpgProduct.objects.in_bulk(ids)
    parsed = [p for i, raw in enumerate(lines) if (p := _line(i, raw, products, errors))]
    collect(errors, "The sale is not valid.")
    sale = ParsedSale(customer, depot, parsed)
    if sale.total_amount > MAX_MONEY:
        raise ValidationError("The sale's total is too large.", fields={"lines": [f"total at most {MAX_MONEY}"]})
    return sale
