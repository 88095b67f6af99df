"""Pieces shared by the relief services: locking the package, versions, allocations input, deviation."""

from collections import defaultdict
from datetime import date
from decimal import Decimal

from django.db.models import Sum

from stockledger.core.errors import Conflict, NotFound, StaleVersion, ValidationError
from stockledger.core.locking import lock_one
from stockledger.stock.models import Batch
from stockledger.stock.services import reservations_of
from stockledger.stock.validation import collect, item_units, quantity

from ..allocation import BatchOption, plan_deviation
from ..models import DOC_TYPE, ReliefPackage, ReliefPackageLine

ZERO = Decimal(0)


def user_or_none(actor):
    return actor if getattr(actor, "pk", None) else None


def require_version(version) -> int:
    """The package version the client showed its user: required (a missing one is never skipped)."""
    if version is None or version == "":
        raise ValidationError("version is required.", fields={"version": ["required"]})
    try:
        return int(version)
    except (TypeError, ValueError):
        raise ValidationError("version must be an integer.", fields={"version": ["must be an integer"]}) from None


def lock_package(package_id: int) -> ReliefPackage:
    """Lock the package row: always the first lock a package service takes."""
    pkg = lock_one(ReliefPackage, package_id)
    if pkg is None:
        raise NotFound(f"Relief package {package_id} not found.")
    return pkg


def check_version(pkg: ReliefPackage, version: int) -> None:
    if pkg.version != version:
        raise StaleVersion(
            "Relief package was modified, please retry",
            extra={
                "object": "relief_package",
                "id": pkg.pk,
                "expected_version": version,
                "current_version": pkg.version,
            },
        )


def bump(pkg: ReliefPackage, **fields) -> None:
    """Write fields and version + 1 on the locked package (the WHERE version guard is belt and braces)."""
    ReliefPackage.update_if_version(pkg.pk, pkg.version, "Relief package was modified, please retry", **fields)
    pkg.refresh_from_db()


def held(pkg_id: int) -> dict[int, Decimal]:
    return reservations_of(DOC_TYPE, pkg_id)


def snapshot(pkg: ReliefPackage) -> dict:
    return {
        "status": pkg.status,
        "version": pkg.version,
        "allocations": {str(k): str(v) for k, v in sorted(held(pkg.pk).items())},
        "override_flagged": pkg.override_flagged,
    }


# --- allocations input ---------------------------------------------------------------------------


def parse_allocations(raw) -> list[dict]:
    """[{batch_id, qty, item_id?, warehouse_id?, version?}] or {batch_id: qty} -> lines (types only)."""
    if isinstance(raw, dict):
        raw = [{"batch_id": k, "qty": v} for k, v in raw.items()]
    if not isinstance(raw, list | tuple):
        raise ValidationError("allocations must be a list.", fields={"allocations": ["must be a list"]})
    out, errors, seen = [], {}, set()
    for i, line in enumerate(raw):
        if not isinstance(line, dict):
            errors[f"allocations.{i}"] = ["must be an object"]
            continue
        parsed = {"i": i, "qty": line.get("qty")}
        for key in ("batch_id", "item_id", "warehouse_id", "version"):
            value = line.get(key)
            if value is None and key != "batch_id":
                parsed[key] = None
                continue
            try:
                parsed[key] = int(value)
            except (TypeError, ValueError):
                errors[f"allocations.{i}.{key}"] = ["must be an integer" if key != "batch_id" else "a batch id"]
        if "batch_id" in parsed:
            if parsed["batch_id"] in seen:
                errors[f"allocations.{i}.batch_id"] = ["this batch is listed twice"]
            seen.add(parsed["batch_id"])
        out.append(parsed)
    collect(errors, "Some allocations are not valid.")
    return out


def check_allocations(lines: list[dict], pkg: ReliefPackage, requested: dict[int, Decimal]) -> dict[int, Decimal]:
    """Item, warehouse, unit and request checks (batch item and warehouse never change: no lock needed).

    Returns {batch_id: qty} with zero lines kept (a zero drops the batch). Availability and expiry are
    checked by the engine under the row lock."""
    batches = Batch.objects.in_bulk([ln["batch_id"] for ln in lines])
    units = item_units({b.item_id for b in batches.values()})
    errors: dict[str, list[str]] = {}
    desired: dict[int, Decimal] = {}
    for ln in lines:
        field = f"allocations.{ln['i']}"
        b = batches.get(ln["batch_id"])
        if b is None:
            errors[f"{field}.batch_id"] = [f"unknown batch {ln['batch_id']}"]
            continue
        if ln.get("item_id") is not None and ln["item_id"] != b.item_id:
            errors[f"{field}.batch_id"] = [f"batch #{b.batch_no} is of another item"]
        elif b.item_id not in requested:
            errors[f"{field}.batch_id"] = [f"batch #{b.batch_no} is of an item this request does not ask for"]
        if ln.get("warehouse_id") is not None and ln["warehouse_id"] != b.warehouse_id:
            errors[f"{field}.warehouse_id"] = [f"batch #{b.batch_no} is in another warehouse"]
        if pkg.destination_warehouse_id and b.warehouse_id == pkg.destination_warehouse_id:
            errors[f"{field}.batch_id"] = [f"batch #{b.batch_no} is already in the destination warehouse"]
        dec, unit, *_ = units[b.item_id]
        try:
            desired[b.pk] = quantity(ln["qty"], dec, unit, f"{field}.qty", allow_zero=True)
        except ValidationError as e:
            errors.update(e.extra["fields"])
    collect(errors, "Some allocations are not valid.")
    return desired


def requested_qty(pkg: ReliefPackage) -> dict[int, Decimal]:
    return dict(pkg.request.lines.values_list("item_id", "requested_qty"))


def dispatched_qty(request_id: int, *, exclude_package: int | None = None) -> dict[int, Decimal]:
    """item -> quantity already dispatched to this request (packages dispatched or received)."""
    qs = ReliefPackageLine.objects.filter(package__request_id=request_id, package__status__in=ReliefPackage.SENT)
    if exclude_package:
        qs = qs.exclude(package_id=exclude_package)
    return dict(qs.values("item_id").annotate(s=Sum("qty")).values_list("item_id", "s").order_by())


def check_within_request(pkg: ReliefPackage, desired: dict[int, Decimal], item_of: dict[int, int]) -> None:
    """The package may not carry more of an item than the request still needs."""
    requested = requested_qty(pkg)
    sent = dispatched_qty(pkg.request_id, exclude_package=pkg.pk)
    per_item: dict[int, Decimal] = defaultdict(Decimal)
    for pk, q in desired.items():
        per_item[item_of[pk]] += q
    over = [
        {"item_id": item, "allocated": str(q), "outstanding": str(requested.get(item, ZERO) - sent.get(item, ZERO))}
        for item, q in sorted(per_item.items())
        if q > requested.get(item, ZERO) - sent.get(item, ZERO)
    ]
    if over:
        raise Conflict(
            "The package allocates more than the request still needs: "
            + "; ".join(
                f"item {o['item_id']}: {o['allocated']} allocated, {o['outstanding']} outstanding" for o in over
            ),
            code="exceeds_request",
            extra={"lines": over},
        )


# --- allocation-order deviation ------------------------------------------------------------------


def deviation(allocation: dict[int, Decimal], today: date) -> dict:
    """Compare the allocation with the issuance-order plan per item + warehouse (choosing a warehouse is a
    logistics decision; inside one warehouse the item's FEFO/FIFO/LIFO order applies)."""
    if not allocation:
        return {"flagged": False, "groups": []}
    chosen = Batch.objects.select_related("item").in_bulk(list(allocation))
    groups: dict[tuple[int, int], dict[int, Decimal]] = defaultdict(dict)
    for pk, q in allocation.items():
        groups[(chosen[pk].item_id, chosen[pk].warehouse_id)][pk] = q
    out = []
    for (item_id, warehouse_id), picked in sorted(groups.items()):
        item = next(chosen[pk].item for pk in picked)
        batches = Batch.objects.filter(
            item_id=item_id, warehouse_id=warehouse_id, status=Batch.Status.ACTIVE, usable_qty__gt=0
        )
        numbers = {b.pk: b.batch_no for b in batches}
        options = [
            BatchOption(
                batch_id=b.pk,
                batch_no=b.batch_no,
                batch_date=b.batch_date,
                expiry_date=b.expiry_date,
                usable_qty=b.usable_qty,
                reserved_qty=b.reserved_qty,
                held_by_this_package=picked.get(b.pk, ZERO),
            )
            for b in batches
        ]
        dev = plan_deviation(options, item.issuance_order, picked, today)
        if dev is None:
            continue
        out.append(
            {
                "item_id": item_id,
                "item_name": item.name,
                "warehouse_id": warehouse_id,
                "issuance_order": item.issuance_order,
                "planned": [{"batch_id": pk, "batch_no": numbers.get(pk, ""), "qty": str(q)} for pk, q in dev.planned],
                "chosen": [{"batch_id": pk, "batch_no": numbers.get(pk, ""), "qty": str(q)} for pk, q in dev.chosen],
                "reasons": dev.reasons,
            }
        )
    return {"flagged": bool(out), "groups": out}
