"""Relief packages from dispatch on: Approve & Dispatch, Send to Dispatch (seed 000), handover, receipt.

A dispatch is one transaction: lock the package, check its version (and the batch versions the
client sent), apply the LM's allocation changes through the engine's reservation delta, check the
allocation order and the request, consume the reservations (batch usable −= qty, reserved −= qty,
then each touched inventory row := Σ of its batches), record the dispatched lines. Any failure rolls
all of it back.
"""

from collections import defaultdict
from decimal import Decimal

from django.utils import timezone

from stockledger.catalog.models import Item
from stockledger.core import audit
from stockledger.core.errors import Conflict, ValidationError
from stockledger.core.idempotency import run_once
from stockledger.core.locking import lock_one
from stockledger.core.roles import authorize
from stockledger.stock import engine
from stockledger.stock.engine import Delta, Posting
from stockledger.stock.models import Batch, LedgerEntry, inventory_key
from stockledger.stock.services import consume_reservations
from stockledger.stock.services.common import check_versions
from stockledger.stock.services.movements import receive

from .. import selectors
from ..models import DOC_TYPE, ReliefPackage, ReliefPackageLine, ReliefRequest
from .common import (
    bump,
    check_version,
    check_within_request,
    deviation,
    held,
    lock_package,
    parse_allocations,
    require_version,
    snapshot,
    user_or_none,
)
from .packages import reserve
from .requests import update_fulfilment

P = ReliefPackage.Status


def _batch_versions(raw, lines: list[dict] | None) -> list[dict]:
    """{batch_id: version} plus any "version" sent on allocation lines -> check_versions lines."""
    out: dict[int, int] = {}
    if raw:
        if not isinstance(raw, dict):
            raise ValidationError(
                "batch_versions maps batch ids to versions.", fields={"batch_versions": ["an object"]}
            )
        try:
            out.update({int(k): int(v) for k, v in raw.items()})
        except (TypeError, ValueError):
            raise ValidationError(
                "batch_versions maps batch ids to versions.", fields={"batch_versions": ["integers"]}
            ) from None
    for ln in lines or []:
        if ln.get("version") is not None:
            out[ln["batch_id"]] = ln["version"]
    return [{"batch_id": pk, "version": v} for pk, v in sorted(out.items())]


def _dispatch(
    *,
    actor,
    package_id: int,
    version: int,
    from_status: str,
    lines: list[dict] | None,
    versions: list[dict],
    override_reason: str,
    idempotency_key: str | None,
    action: str,
) -> dict:
    pkg = lock_package(package_id)
    check_version(pkg, version)
    if pkg.status != from_status:
        wanted = ReliefPackage.Status(from_status).label.lower()
        raise Conflict(
            f"This package is {pkg.get_status_display().lower()}; it must be {wanted} for this action.",
            code="invalid_status",
        )
    req = lock_one(ReliefRequest, pkg.request_id)
    before = snapshot(pkg)
    old = held(pkg.pk)
    # Batch versions are checked against what the client displayed, before anything is written.
    locked = engine.lock_batches(set(old) | {v["batch_id"] for v in versions} | {ln["batch_id"] for ln in lines or []})
    unknown = [v["batch_id"] for v in versions if v["batch_id"] not in locked]
    if unknown:
        raise ValidationError("Unknown batch.", fields={"batch_versions": [f"unknown batch {pk}" for pk in unknown]})
    check_versions(versions, locked)
    authorize(actor, "relief.approve", {b.warehouse_id for b in locked.values()})
    if lines is not None:
        dev = reserve(actor, pkg, lines, idempotency_key, "relief.approve_changes")
    else:
        dev = deviation(old, timezone.localdate())
    allocation = held(pkg.pk)
    if not allocation:
        raise Conflict("Nothing is allocated to dispatch.", code="nothing_allocated")
    reason = (override_reason or "").strip()
    if dev["flagged"] and not reason:
        raise ValidationError(
            "The chosen batches differ from the issuance-order plan: give a written reason to approve them.",
            code="override_reason_required",
            fields={"override_reason": ["required: the allocation departs from the FEFO/FIFO plan"]},
            extra={"deviation": dev},
        )
    batches = Batch.objects.in_bulk(list(allocation))
    check_within_request(pkg, allocation, {pk: b.item_id for pk, b in batches.items()})
    now = timezone.now()
    posting = Posting(actor, DOC_TYPE, str(pkg.pk), idempotency_key or "", reason, "relief.dispatch", now)
    consumed = consume_reservations(actor=actor, doc_type=DOC_TYPE, doc_id=pkg.pk, posting=posting)
    ReliefPackageLine.objects.bulk_create(
        [
            ReliefPackageLine(
                package=pkg,
                item_id=consumed[pk].item_id,
                warehouse_id=consumed[pk].warehouse_id,
                batch_id=pk,
                batch_no=consumed[pk].batch_no,
                expiry_date=consumed[pk].expiry_date,
                qty=q,
            )
            for pk, q in sorted(allocation.items())
        ]
    )
    me = user_or_none(actor)
    bump(
        pkg,
        status=P.DISPATCHED,
        approved_at=now,
        approved_by=me,
        dispatched_at=now,
        dispatched_by=me,
        override_flagged=dev["flagged"],
        override_details=dev,
        override_reason=reason if dev["flagged"] else "",
    )
    after = {**snapshot(pkg), "dispatched": {str(k): str(v) for k, v in sorted(allocation.items())}}
    if dev["flagged"]:
        after["override_reason"] = reason
    audit.record(actor, action, "relief_package", pkg.pk, before, after)
    update_fulfilment(actor, req)
    return selectors.package_detail(pkg.pk)


def _payload(package_id, version, lines, versions, override_reason) -> dict:
    return {
        "id": package_id,
        "version": version,
        "allocations": None if lines is None else [{**ln, "qty": str(ln["qty"])} for ln in lines],
        "versions": versions,
        "override_reason": override_reason,
    }


def relief_package_approve_dispatch(
    *,
    actor,
    package_id: int,
    version,
    allocations=None,
    batch_versions=None,
    override_reason: str = "",
    idempotency_key: str | None = None,
) -> dict:
    """Approve & Dispatch (LM) a package awaiting approval, optionally changing its allocations first."""
    authorize(actor, "relief.approve")
    version = require_version(version)
    lines = None if allocations is None else parse_allocations(allocations)
    versions = _batch_versions(batch_versions, lines)

    def work():
        return _dispatch(
            actor=actor,
            package_id=package_id,
            version=version,
            from_status=P.AWAITING_APPROVAL,
            lines=lines,
            versions=versions,
            override_reason=override_reason,
            idempotency_key=idempotency_key,
            action="relief_package.approve_dispatch",
        )

    payload = _payload(package_id, version, lines, versions, override_reason)
    return run_once(idempotency_key, "relief_package_approve_dispatch", actor, work, payload)


def relief_package_send_to_dispatch(
    *,
    actor,
    package_id: int,
    version,
    batch_versions=None,
    override_reason: str = "",
    idempotency_key: str | None = None,
) -> dict:
    """Send to Dispatch (LM only): straight from Being Prepared, with the allocations as saved."""
    authorize(actor, "relief.approve")
    version = require_version(version)
    versions = _batch_versions(batch_versions, None)

    def work():
        return _dispatch(
            actor=actor,
            package_id=package_id,
            version=version,
            from_status=P.BEING_PREPARED,
            lines=None,
            versions=versions,
            override_reason=override_reason,
            idempotency_key=idempotency_key,
            action="relief_package.send_to_dispatch",
        )

    payload = _payload(package_id, version, None, versions, override_reason)
    return run_once(idempotency_key, "relief_package_send_to_dispatch", actor, work, payload)


def relief_package_handover(*, actor, package_id: int, version, idempotency_key: str | None = None) -> dict:
    """The clerk hands the dispatched goods over to the carrier: who and when are recorded."""
    authorize(actor, "relief.handover")
    version = require_version(version)

    def work():
        pkg = lock_package(package_id)
        check_version(pkg, version)
        if pkg.status != P.DISPATCHED:
            raise Conflict(
                f"Only a dispatched package can be handed over; this one is {pkg.get_status_display().lower()}.",
                code="invalid_status",
            )
        if pkg.handed_over_at:
            raise Conflict("This package was already handed over.", code="already_handed_over")
        origins = set(pkg.lines.values_list("warehouse_id", flat=True))
        authorize(actor, "relief.handover", origins)
        before = snapshot(pkg)
        bump(pkg, handed_over_at=timezone.now(), handed_over_by=user_or_none(actor))
        audit.record(actor, "relief_package.handover", "relief_package", pkg.pk, before, snapshot(pkg))
        return selectors.package_detail(pkg.pk)

    return run_once(idempotency_key, "relief_package_handover", actor, work, {"id": package_id, "version": version})


def relief_package_receive(*, actor, package_id: int, version, idempotency_key: str | None = None) -> dict:
    """Receipt confirmation (LO/LM). To a warehouse in the system, the goods come in there: batches keep
    their number and expiry (origin transfer, TRANSFER_IN in the ledger; the dispatch was the out leg)."""
    authorize(actor, "relief.prepare")
    version = require_version(version)

    def work():
        pkg = lock_package(package_id)
        check_version(pkg, version)
        if pkg.status != P.DISPATCHED:
            raise Conflict(
                f"Only a dispatched package can be received; this one is {pkg.get_status_display().lower()}.",
                code="invalid_status",
            )
        if not pkg.handed_over_at:
            raise Conflict("The package has not been handed over for transport yet.", code="not_handed_over")
        lines = list(pkg.lines.select_related("batch").order_by("pk"))
        places = [pkg.destination_warehouse_id] if pkg.destination_warehouse_id else {ln.warehouse_id for ln in lines}
        authorize(actor, "relief.prepare", places)
        before = snapshot(pkg)
        if pkg.destination_warehouse_id:
            _bring_in(actor, pkg, lines, idempotency_key)
        bump(pkg, status=P.RECEIVED, received_at=timezone.now(), received_by=user_or_none(actor))
        audit.record(actor, "relief_package.receive", "relief_package", pkg.pk, before, snapshot(pkg))
        return selectors.package_detail(pkg.pk)

    return run_once(idempotency_key, "relief_package_receive", actor, work, {"id": package_id, "version": version})


def _bring_in(actor, pkg: ReliefPackage, lines: list[ReliefPackageLine], idempotency_key: str | None) -> None:
    dest = pkg.destination_warehouse
    by_no: dict[str, list[ReliefPackageLine]] = defaultdict(list)
    for ln in lines:
        by_no[ln.batch_no].append(ln)
    # Lock order: destination batches that already carry these numbers (pk order), then the inventory
    # rows of the destination, then the new batch rows are inserted.
    existing_ids = Batch.objects.filter(warehouse=dest, batch_no__in=list(by_no)).values_list("pk", flat=True)
    existing = {b.batch_no: b for b in engine.lock_batches(existing_ids).values()}
    engine.lock_inventory({inventory_key(ln.item_id, dest.pk, None): (ln.item_id, dest.pk, None) for ln in lines})
    items = Item.objects.select_related("product_type").in_bulk({ln.item_id for ln in lines})
    # One number is one batch at the destination, so it may stand for one item only: lines of two items
    # with the same number (from two origin warehouses), or a destination batch of another item, clash.
    clash = []
    for no, group in sorted(by_no.items()):
        item_ids = {ln.item_id for ln in group} | ({existing[no].item_id} if no in existing else set())
        if len(item_ids) > 1:
            clash.append(
                {
                    "batch_no": no,
                    "item_id": group[0].item_id,
                    "item_ids": sorted(item_ids),
                    "existing_item_id": existing[no].item_id if no in existing else None,
                }
            )
    if clash:
        raise Conflict(
            "The same batch number would hold two items at the destination: " + ", ".join(c["batch_no"] for c in clash),
            code="batch_number_clash",
            extra={"lines": clash},
        )
    posting = Posting(actor, DOC_TYPE, str(pkg.pk), idempotency_key or "", "", "relief.receive")
    deltas = []
    for no, group in sorted(by_no.items()):
        total = sum((ln.qty for ln in group), Decimal(0))
        src = group[0].batch
        target = existing.get(no)
        if target is None:
            target = receive(
                actor=actor,
                item=items[src.item_id],
                warehouse=dest,
                qty=total,
                posting=posting,
                batch_no=src.batch_no,
                batch_code=src.batch_code,
                origin=Batch.Origin.TRANSFER,
                batch_date=src.batch_date,
                expiry_date=src.expiry_date,
                source_batch=src,
                kind=LedgerEntry.Kind.TRANSFER_IN,
            )
        else:
            deltas.append(Delta(qty=total, kind=LedgerEntry.Kind.TRANSFER_IN, batch=target))
        ReliefPackageLine.objects.filter(pk__in=[ln.pk for ln in group]).update(received_batch=target)
    if deltas:
        engine.apply(deltas, posting)
