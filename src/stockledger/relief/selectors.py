"""Relief reads: request and package representations, and the batch drawer."""

from collections import defaultdict
from decimal import Decimal

from django.db.models import Sum
from django.utils import timezone

from stockledger.catalog.models import Item, Warehouse
from stockledger.core.errors import NotFound, ValidationError
from stockledger.stock.models import Batch, Reservation
from stockledger.stock.validation import to_decimal

from .allocation import BatchOption, order_batches, suggest_allocation
from .models import DOC_TYPE, ReliefPackage, ReliefPackageLine, ReliefRequest, ReliefRequestLine

ZERO = Decimal(0)


def _name(user) -> str | None:
    return user.get_username() if user else None


def _item(item: Item) -> dict:
    return {"item_id": item.pk, "item_sku": item.sku, "item_name": item.name, "unit": item.product_type.base_unit}


# --- requests ------------------------------------------------------------------------------------


def request_queryset():
    return ReliefRequest.objects.select_related("agency", "created_by", "submitted_by", "cancelled_by").order_by("-id")


def request_dicts(requests) -> list[dict]:
    requests = list(requests)
    ids = [r.pk for r in requests]
    lines = defaultdict(list)
    for ln in ReliefRequestLine.objects.filter(request_id__in=ids).select_related("item__product_type").order_by("id"):
        lines[ln.request_id].append(ln)
    sent: dict[tuple[int, int], Decimal] = {
        (r["package__request_id"], r["item_id"]): r["s"]
        for r in ReliefPackageLine.objects.filter(package__request_id__in=ids, package__status__in=ReliefPackage.SENT)
        .values("package__request_id", "item_id")
        .annotate(s=Sum("qty"))
        .order_by()
    }
    by_req = defaultdict(list)
    for p in (
        ReliefPackage.objects.filter(request_id__in=ids)
        .order_by("id")
        .values("id", "request_id", "tracking_no", "status")
    ):
        by_req[p["request_id"]].append({"id": p["id"], "tracking_no": p["tracking_no"], "status": p["status"]})
    out = []
    for r in requests:
        out.append(
            {
                "id": r.pk,
                "agency_id": r.agency_id,
                "agency_name": r.agency.name,
                "event": r.event,
                "urgency": r.urgency,
                "status": r.status,
                "status_label": r.get_status_display(),
                "version": r.version,
                "notes": r.notes,
                "lines": [
                    {
                        **_item(ln.item),
                        "requested_qty": ln.requested_qty,
                        "dispatched_qty": sent.get((r.pk, ln.item_id), ZERO),
                        "outstanding_qty": max(ZERO, ln.requested_qty - sent.get((r.pk, ln.item_id), ZERO)),
                    }
                    for ln in lines[r.pk]
                ],
                "packages": by_req[r.pk],
                "created_at": r.created_at,
                "created_by": _name(r.created_by),
                "submitted_at": r.submitted_at,
                "submitted_by": _name(r.submitted_by),
                "cancelled_at": r.cancelled_at,
                "cancelled_by": _name(r.cancelled_by),
            }
        )
    return out


def request_detail(request_id: int) -> dict:
    found = request_dicts(request_queryset().filter(pk=request_id))
    if not found:
        raise NotFound(f"Relief request {request_id} not found.")
    return found[0]


# --- packages ------------------------------------------------------------------------------------

PACKAGE_USERS = ("created_by", "prepared_by", "submitted_by", "approved_by", "dispatched_by", "handed_over_by")
PACKAGE_USERS += ("received_by", "cancelled_by")


def package_queryset():
    return ReliefPackage.objects.select_related("request__agency", "destination_warehouse", *PACKAGE_USERS).order_by(
        "-id"
    )


def _allocations(packages: list[ReliefPackage]) -> dict[int, list[dict]]:
    """Open packages: the engine's Reservation rows. Dispatched or received: the dispatched lines."""
    out: dict[int, list[dict]] = defaultdict(list)
    open_ids = [str(p.pk) for p in packages if p.status in ReliefPackage.OPEN]
    sent_ids = [p.pk for p in packages if p.status in ReliefPackage.SENT]
    rows = Reservation.objects.filter(doc_type=DOC_TYPE, doc_id__in=open_ids).select_related(
        "batch__item__product_type", "batch__warehouse"
    )
    for r in rows.order_by("batch__item_id", "batch__warehouse_id", "batch_id"):
        b = r.batch
        out[int(r.doc_id)].append(
            {
                **_item(b.item),
                "warehouse_id": b.warehouse_id,
                "warehouse_code": b.warehouse.code,
                "warehouse_name": b.warehouse.name,
                "batch_id": b.pk,
                "batch_no": b.batch_no,
                "expiry_date": b.expiry_date,
                "qty": r.qty,
                "received_batch_id": None,
            }
        )
    lines = ReliefPackageLine.objects.filter(package_id__in=sent_ids).select_related("item__product_type", "warehouse")
    for ln in lines.order_by("item_id", "warehouse_id", "batch_id"):
        out[ln.package_id].append(
            {
                **_item(ln.item),
                "warehouse_id": ln.warehouse_id,
                "warehouse_code": ln.warehouse.code,
                "warehouse_name": ln.warehouse.name,
                "batch_id": ln.batch_id,
                "batch_no": ln.batch_no,
                "expiry_date": ln.expiry_date,
                "qty": ln.qty,
                "received_batch_id": ln.received_batch_id,
            }
        )
    return out


def package_dicts(packages) -> list[dict]:
    packages = list(packages)
    allocations = _allocations(packages)
    out = []
    for p in packages:
        d = {
            "id": p.pk,
            "tracking_no": p.tracking_no,
            "request_id": p.request_id,
            "agency_id": p.request.agency_id,
            "agency_name": p.request.agency.name,
            "event": p.request.event,
            "urgency": p.request.urgency,
            "status": p.status,
            "status_label": p.get_status_display(),
            "version": p.version,
            "destination_warehouse_id": p.destination_warehouse_id,
            "destination": p.destination_warehouse.name if p.destination_warehouse else p.request.agency.name,
            "notes": p.notes,
            "allocations": allocations.get(p.pk, []),
            "override": {
                "flagged": p.override_flagged,
                "groups": (p.override_details or {}).get("groups", []),
                "reason": p.override_reason,
            },
        }
        for role in PACKAGE_USERS:
            stem = role.removesuffix("_by")
            d[f"{stem}_by"] = _name(getattr(p, role))
            d[f"{stem}_at"] = getattr(p, f"{stem}_at")
        out.append(d)
    return out


def package_detail(package_id: int) -> dict:
    found = package_dicts(package_queryset().filter(pk=package_id))
    if not found:
        raise NotFound(f"Relief package {package_id} not found.")
    return found[0]


# --- the batch drawer ----------------------------------------------------------------------------


def _ids(raw, field: str) -> list[int]:
    out = []
    for part in str(raw if raw is not None else "").replace(" ", "").split(","):
        if not part:
            continue
        try:
            out.append(int(part))
        except ValueError:
            raise ValidationError(f"{field} must be an id.", fields={field: ["must be an id"]}) from None
    return out


def batch_drawer(*, item_id: int, warehouse=None, package=None, qty=None, today=None) -> dict:
    """Usable batches of an item (not expired, something available to this package), in the item's
    issuance order, with available = usable − reserved + what the package already holds, and a greedy
    suggested allocation for `qty` (default: what the package's request still needs of the item)."""
    today = today or timezone.localdate()
    item = Item.objects.select_related("product_type").filter(pk=item_id).first()
    if item is None:
        raise NotFound(f"Item {item_id} not found.")
    warehouses = _ids(warehouse, "warehouse")
    pkg = None
    if package not in (None, ""):
        package_ids = _ids(package, "package")
        pkg = ReliefPackage.objects.filter(pk=package_ids[0]).first() if package_ids else None
        if pkg is None:
            raise ValidationError("Unknown relief package.", fields={"package": [f"unknown package {package}"]})
    holding = {}
    if pkg is not None and pkg.status in ReliefPackage.OPEN:
        holding = dict(Reservation.objects.filter(doc_type=DOC_TYPE, doc_id=str(pkg.pk)).values_list("batch_id", "qty"))
    qs = Batch.objects.filter(item=item, status=Batch.Status.ACTIVE, usable_qty__gt=0).select_related("warehouse")
    if warehouses:
        qs = qs.filter(warehouse_id__in=warehouses)
    batches = {b.pk: b for b in qs}
    options = [
        BatchOption(
            batch_id=b.pk,
            batch_no=b.batch_no,
            batch_date=b.batch_date,
            expiry_date=b.expiry_date,
            usable_qty=b.usable_qty,
            reserved_qty=b.reserved_qty,
            held_by_this_package=holding.get(b.pk, ZERO),
        )
        for b in batches.values()
    ]
    ordered = order_batches(options, item.issuance_order, today)
    requested = _requested(pkg, item, qty)
    plan = suggest_allocation(ordered, item.issuance_order, requested, today) if requested > 0 else None
    suggested = dict(plan.lines) if plan else {}
    return {
        "item": {**_item(item), "issuance_order": item.issuance_order, "can_expire": item.can_expire},
        "today": today,
        "package_id": pkg.pk if pkg else None,
        "warehouses": warehouses,
        "batches": [
            {
                "batch_id": o.batch_id,
                "batch_no": o.batch_no,
                "warehouse_id": batches[o.batch_id].warehouse_id,
                "warehouse_code": batches[o.batch_id].warehouse.code,
                "batch_date": o.batch_date,
                "expiry_date": o.expiry_date,
                "usable_qty": o.usable_qty,
                "reserved_qty": o.reserved_qty,
                "held_by_this_package": o.held_by_this_package,
                "available_qty": o.available,
                "version": batches[o.batch_id].version,
                "suggested_qty": suggested.get(o.batch_id, ZERO),
            }
            for o in ordered
        ],
        "suggestion": {
            "requested_qty": requested,
            "lines": [{"batch_id": pk, "qty": q} for pk, q in (plan.lines if plan else [])],
            "allocated_qty": plan.allocated if plan else ZERO,
            "shortfall_qty": plan.shortfall if plan else ZERO,
        },
    }


def _requested(pkg: ReliefPackage | None, item: Item, qty) -> Decimal:
    if qty not in (None, ""):
        value = to_decimal(qty, "qty")
        if value < 0:
            raise ValidationError("qty must not be negative.", fields={"qty": ["must not be negative"]})
        return value
    if pkg is None:
        return ZERO
    line = ReliefRequestLine.objects.filter(request_id=pkg.request_id, item=item).first()
    if line is None:
        return ZERO
    sent = (
        ReliefPackageLine.objects.filter(
            package__request_id=pkg.request_id, package__status__in=ReliefPackage.SENT, item=item
        )
        .exclude(package=pkg)
        .aggregate(s=Sum("qty"))["s"]
        or ZERO
    )
    return max(ZERO, line.requested_qty - sent)


def warehouse_names(ids) -> dict[int, str]:
    return dict(Warehouse.objects.filter(pk__in=set(ids)).values_list("pk", "name"))
