"""Pieces shared by the engine's services: line parsing, results, documents."""

from decimal import Decimal

from stockledger.core.errors import StaleVersion, ValidationError

from ..models import Batch, StockDocument
from ..validation import collect, item_units, quantity


def parse_batch_lines(lines, *, field: str = "lines") -> list[dict]:
    """[{batch_id, qty, version?}] -> validated structure (types only; units are checked once batches load)."""
    if not isinstance(lines, list | tuple) or not lines:
        raise ValidationError("At least one line is required.", fields={field: ["at least one line is required"]})
    out, errors = [], {}
    for i, line in enumerate(lines):
        if not isinstance(line, dict):
            errors[f"{field}.{i}"] = ["must be an object"]
            continue
        try:
            batch_id = int(line.get("batch_id"))
        except (TypeError, ValueError):
            errors[f"{field}.{i}.batch_id"] = ["a batch id is required"]
            continue
        version = line.get("version")
        if version is not None:
            try:
                version = int(version)
            except (TypeError, ValueError):
                errors[f"{field}.{i}.version"] = ["must be an integer"]
        out.append({"i": i, "batch_id": batch_id, "qty": line.get("qty"), "version": version})
    collect(errors)
    return out


STOCK_FORMS_MESSAGE = "this batch has stock records (rolls, bundles, pieces): use the pipe operations"


def check_lines_against_batches(
    lines: list[dict],
    batches: dict[int, Batch],
    *,
    field: str = "lines",
    allow_zero: bool = False,
    allow_stock_forms: bool = True,
) -> None:
    """Unknown batches and bad quantities (sign, decimals of the unit) -> one 400 listing every line.

    With allow_stock_forms False, batches with stock records (pipes) are refused: moving their quantity
    without their rolls and pieces would break I5."""
    units = item_units({b.item_id for b in batches.values()})
    errors: dict[str, list[str]] = {}
    for line in lines:
        b = batches.get(line["batch_id"])
        if b is None:
            errors[f"{field}.{line['i']}.batch_id"] = [f"unknown batch {line['batch_id']}"]
            continue
        dec, unit, _, forms = units[b.item_id]
        if forms and not allow_stock_forms:
            errors[f"{field}.{line['i']}.batch_id"] = [STOCK_FORMS_MESSAGE]
            continue
        try:
            line["qty"] = quantity(line["qty"], dec, unit, f"{field}.{line['i']}.qty", allow_zero=allow_zero)
        except ValidationError as e:
            errors.update(e.extra["fields"])
    collect(errors)


def check_versions(lines: list[dict], batches: dict[int, Batch]) -> None:
    for line in lines:
        b = batches[line["batch_id"]]
        if line["version"] is not None and line["version"] != b.version:
            raise StaleVersion(
                extra={
                    "batch_id": b.pk,
                    "batch_no": b.batch_no,
                    "expected_version": line["version"],
                    "current_version": b.version,
                }
            )


def batch_state(b: Batch) -> dict:
    return {
        "batch_id": b.pk,
        "batch_no": b.batch_no,
        "item_id": b.item_id,
        "warehouse_id": b.warehouse_id,
        "usable_qty": b.usable_qty,
        "reserved_qty": b.reserved_qty,
        "available_qty": b.usable_qty - b.reserved_qty,
        "version": b.version,
    }


def new_document(kind: str, actor, lines: list[dict], reason: str = "", status=StockDocument.Status.DONE):
    clean = [{k: (str(v) if isinstance(v, Decimal) else v) for k, v in line.items() if k != "i"} for line in lines]
    return StockDocument.objects.create(
        kind=kind,
        status=status,
        reason=reason[:300],
        lines=clean,
        created_by=actor if getattr(actor, "pk", None) else None,
    )


def summed(lines: list[dict]) -> dict[int, Decimal]:
    per: dict[int, Decimal] = {}
    for line in lines:
        per[line["batch_id"]] = per.get(line["batch_id"], Decimal(0)) + line["qty"]
    return per
