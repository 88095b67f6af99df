"""Input checks shared by the engine's services: quantities, units, batch rules. Pure where possible."""

from datetime import date
from decimal import Decimal, InvalidOperation

from stockledger.catalog.models import Item
from stockledger.core.errors import Conflict, ValidationError

from .models import Batch


def item_units(item_ids) -> dict[int, tuple[int, str, bool, bool]]:
    """item id -> (unit decimals, base unit, batch_tracked, has_stock_forms). One query, no cache: an id
    cached in a rolled-back transaction could come back as another item."""
    return {
        pk: (dec, unit, tracked, forms)
        for pk, dec, unit, tracked, forms in Item.objects.filter(pk__in=set(item_ids)).values_list(
            "pk",
            "product_type__unit_decimals",
            "product_type__base_unit",
            "product_type__batch_tracked",
            "product_type__has_stock_forms",
        )
    }


def to_decimal(value, field: str) -> Decimal:
    try:
        d = Decimal(str(value).strip())
    except (InvalidOperation, ValueError, TypeError):
        raise ValidationError(f"{field} must be a number.", fields={field: ["must be a number"]}) from None
    if not d.is_finite():
        raise ValidationError(f"{field} must be a number.", fields={field: ["must be a number"]})
    return d


def quantity(
    value, decimals: int, unit: str, field: str = "qty", *, allow_zero: bool = False, allow_negative: bool = False
) -> Decimal:
    """A positive quantity with no more decimals than its unit allows (metre: 3, piece: 0)."""
    d = to_decimal(value, field)
    if not allow_negative and (d < 0 or (d == 0 and not allow_zero)):
        raise ValidationError("Quantity must be greater than 0", fields={field: ["must be greater than 0"]})
    if d != d.quantize(Decimal(1).scaleb(-decimals)):
        places = "no decimals" if decimals == 0 else f"at most {decimals} decimal place{'s' if decimals > 1 else ''}"
        raise ValidationError(f"A quantity in {unit} allows {places}.", fields={field: [f"{unit}: {places}"]})
    return d


def collect(errors: dict[str, list[str]], message: str = "Some lines are not valid.") -> None:
    if errors:
        raise ValidationError(message, fields=errors)


def is_expired(batch: Batch, today: date) -> bool:
    return batch.expiry_date is not None and batch.expiry_date < today


def check_issuable(batch: Batch, today: date, *, allow_expired: bool) -> str | None:
    """Why this batch cannot be issued from, or None."""
    if batch.status != Batch.Status.ACTIVE:
        return f"batch #{batch.batch_no} is {batch.status.lower()}"
    if not allow_expired and is_expired(batch, today):
        return f"batch #{batch.batch_no} expired on {batch.expiry_date:%Y-%m-%d}"
    return None


def raise_if_blocked(problems: list[dict], code: str = "batch_not_issuable") -> None:
    if problems:
        raise Conflict(
            "; ".join(p["reason"] for p in problems).capitalize() + ".", code=code, extra={"lines": problems}
        )
