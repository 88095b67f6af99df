"""Relief packages before dispatch: create, Save Draft (seed 001), submit for approval, cancel.

Every service: authorize → run_once(idempotency key) → in the transaction lock the package row first,
then the engine locks batches, then inventory rows; check everything, then write; audit each change.
"""

from django.utils import timezone

from stockledger.catalog.models import Warehouse
from stockledger.core import audit
from stockledger.core.errors import Conflict, ValidationError
from stockledger.core.idempotency import run_once
from stockledger.core.locking import lock_one
from stockledger.core.roles import authorize
from stockledger.stock.engine import Posting
from stockledger.stock.models import Batch
from stockledger.stock.services import apply_reservations

from .. import selectors
from ..models import DOC_TYPE, ReliefPackage, ReliefRequest
from .common import (
    bump,
    check_allocations,
    check_version,
    check_within_request,
    deviation,
    held,
    lock_package,
    parse_allocations,
    requested_qty,
    require_version,
    snapshot,
    user_or_none,
)

P = ReliefPackage.Status


def relief_package_create(
    *,
    actor,
    request_id: int,
    destination_warehouse_id: int | None = None,
    notes: str = "",
    idempotency_key: str | None = None,
) -> dict:
    """A new package (Being Prepared, nothing allocated) for a submitted or partly fulfilled request."""
    authorize(actor, "relief.prepare")
    if destination_warehouse_id is not None and not Warehouse.objects.filter(pk=destination_warehouse_id).exists():
        raise ValidationError(
            "Unknown destination warehouse.", fields={"destination_warehouse_id": ["unknown warehouse"]}
        )

    def work():
        req = lock_one(ReliefRequest, request_id)
        if req is None:
            raise ValidationError("Unknown relief request.", fields={"request_id": [f"unknown request {request_id}"]})
        if req.status not in (ReliefRequest.Status.SUBMITTED, ReliefRequest.Status.PARTLY_FULFILLED):
            raise Conflict(
                f"Packages are prepared for submitted requests; this one is {req.get_status_display().lower()}.",
                code="invalid_status",
            )
        pkg = ReliefPackage.objects.create(
            request=req,
            tracking_no=f"tmp-{timezone.now().timestamp()}-{request_id}",
            destination_warehouse_id=destination_warehouse_id,
            notes=notes,
            created_by=user_or_none(actor),
        )
        pkg.tracking_no = f"RP-{pkg.pk:06d}"
        ReliefPackage.objects.filter(pk=pkg.pk).update(tracking_no=pkg.tracking_no)
        audit.record(actor, "relief_package.create", "relief_package", pkg.pk, None, snapshot(pkg))
        return selectors.package_detail(pkg.pk)

    payload = {"request": request_id, "destination": destination_warehouse_id, "notes": notes}
    return run_once(idempotency_key, "relief_package_create", actor, work, payload)


def reserve(actor, pkg: ReliefPackage, lines: list[dict], idempotency_key: str | None, action: str) -> dict:
    """Make the (locked) package hold exactly these allocations, through the engine (delta per batch on
    batch.reserved_qty and inventory.reserved_qty; touched inventory rows end at Σ of their batches).
    Returns the deviation from the issuance-order plan."""
    desired = check_allocations(lines, pkg, requested_qty(pkg))
    old = held(pkg.pk)
    warehouses = set(Batch.objects.filter(pk__in=set(old) | set(desired)).values_list("warehouse_id", flat=True))
    authorize(actor, "relief.prepare", warehouses)
    item_of = dict(Batch.objects.filter(pk__in=desired).values_list("pk", "item_id"))
    check_within_request(pkg, {pk: q for pk, q in desired.items() if q}, item_of)
    apply_reservations(
        actor=actor,
        doc_type=DOC_TYPE,
        doc_id=pkg.pk,
        desired=desired,
        posting=Posting(actor, DOC_TYPE, str(pkg.pk), idempotency_key or "", audit_action=action),
    )
    return deviation(held(pkg.pk), timezone.localdate())


def relief_package_save_draft(
    *, actor, package_id: int, version, allocations, idempotency_key: str | None = None
) -> dict:
    """Save Draft (LO or LM): the package holds exactly `allocations`; its status does not change.

    Only the package version is checked (officers preparing different packages from one batch do not
    conflict); availability is checked under the batch row lock."""
    authorize(actor, "relief.prepare")
    version = require_version(version)
    lines = parse_allocations(allocations)

    def work():
        pkg = lock_package(package_id)
        check_version(pkg, version)
        if pkg.status not in ReliefPackage.OPEN:
            raise Conflict(
                f"Only a package being prepared or awaiting approval can be edited; this one is "
                f"{pkg.get_status_display().lower()}.",
                code="invalid_status",
            )
        before = snapshot(pkg)
        dev = reserve(actor, pkg, lines, idempotency_key, "relief.draft")
        bump(
            pkg,
            prepared_at=timezone.now(),
            prepared_by=user_or_none(actor),
            override_flagged=dev["flagged"],
            override_details=dev,
        )
        audit.record(actor, "relief_package.draft", "relief_package", pkg.pk, before, snapshot(pkg))
        return selectors.package_detail(pkg.pk)

    payload = {"id": package_id, "version": version, "allocations": [{**ln, "qty": str(ln["qty"])} for ln in lines]}
    return run_once(idempotency_key, "relief_package_save_draft", actor, work, payload)


def relief_package_submit(*, actor, package_id: int, version, idempotency_key: str | None = None) -> dict:
    """Submit for approval (LO): Being Prepared → Awaiting LM Approval. Quantities do not move."""
    authorize(actor, "relief.prepare")
    version = require_version(version)

    def work():
        pkg = lock_package(package_id)
        check_version(pkg, version)
        if pkg.status != P.BEING_PREPARED:
            raise Conflict(
                f"Only a package being prepared can be submitted; this one is {pkg.get_status_display().lower()}.",
                code="invalid_status",
            )
        allocated = held(pkg.pk)
        if not allocated:
            raise Conflict("Allocate some batches before submitting the package.", code="nothing_allocated")
        warehouses = Batch.objects.filter(pk__in=allocated).values_list("warehouse_id", flat=True)
        authorize(actor, "relief.prepare", set(warehouses))
        before = snapshot(pkg)
        bump(pkg, status=P.AWAITING_APPROVAL, submitted_at=timezone.now(), submitted_by=user_or_none(actor))
        audit.record(actor, "relief_package.submit", "relief_package", pkg.pk, before, snapshot(pkg))
        return selectors.package_detail(pkg.pk)

    return run_once(idempotency_key, "relief_package_submit", actor, work, {"id": package_id, "version": version})


def relief_package_cancel(
    *, actor, package_id: int, version, reason: str = "", idempotency_key: str | None = None
) -> dict:
    """Cancel before dispatch (LO/LM): every reservation of the package is released."""
    authorize(actor, "relief.prepare")
    version = require_version(version)

    def work():
        pkg = lock_package(package_id)
        check_version(pkg, version)
        if pkg.status not in ReliefPackage.OPEN:
            raise Conflict(
                f"Only a package not yet dispatched can be cancelled; this one is {pkg.get_status_display().lower()}.",
                code="invalid_status",
            )
        before = snapshot(pkg)
        warehouses = Batch.objects.filter(pk__in=held(pkg.pk)).values_list("warehouse_id", flat=True)
        authorize(actor, "relief.prepare", set(warehouses))
        apply_reservations(
            actor=actor,
            doc_type=DOC_TYPE,
            doc_id=pkg.pk,
            desired={},
            posting=Posting(actor, DOC_TYPE, str(pkg.pk), idempotency_key or "", reason, "relief.cancel"),
        )
        bump(
            pkg,
            status=P.CANCELLED,
            cancelled_at=timezone.now(),
            cancelled_by=user_or_none(actor),
            notes=_note(pkg, reason),
        )
        audit.record(
            actor, "relief_package.cancel", "relief_package", pkg.pk, before, {**snapshot(pkg), "reason": reason}
        )
        return selectors.package_detail(pkg.pk)

    payload = {"id": package_id, "version": version, "reason": reason}
    return run_once(idempotency_key, "relief_package_cancel", actor, work, payload)


def _note(pkg: ReliefPackage, reason: str) -> str:
    reason = (reason or "").strip()
    if not reason:
        return pkg.notes
    return f"{pkg.notes}\nCancelled: {reason}".strip()
