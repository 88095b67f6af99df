"""Relief requests: create, submit, cancel, and the fulfilment status a dispatch moves."""

from decimal import Decimal

from django.utils import timezone

from stockledger.catalog.models import Customer
from stockledger.core import audit
from stockledger.core.errors import Conflict, NotFound, StaleVersion, ValidationError
from stockledger.core.idempotency import run_once
from stockledger.core.locking import lock_one
from stockledger.core.roles import authorize
from stockledger.stock.validation import collect, item_units, quantity

from .. import selectors
from ..models import ReliefPackage, ReliefRequest, ReliefRequestLine
from .common import dispatched_qty, require_version, user_or_none

S = ReliefRequest.Status


def _parse_lines(lines) -> list[tuple[int, Decimal]]:
    if not isinstance(lines, list | tuple) or not lines:
        raise ValidationError("A request needs at least one item.", fields={"lines": ["at least one line"]})
    errors: dict[str, list[str]] = {}
    raw: list[tuple[int, int, object]] = []
    for i, line in enumerate(lines):
        try:
            raw.append((i, int(line.get("item_id")), line.get("requested_qty")))
        except (AttributeError, TypeError, ValueError):
            errors[f"lines.{i}.item_id"] = ["an item id is required"]
    collect(errors, "The request is not valid.")
    units = item_units({item for _, item, _ in raw})
    out, seen = [], set()
    for i, item, qty in raw:
        if item not in units:
            errors[f"lines.{i}.item_id"] = [f"unknown item {item}"]
            continue
        if item in seen:
            errors[f"lines.{i}.item_id"] = ["this item is listed twice"]
        seen.add(item)
        dec, unit, tracked, _ = units[item]
        if not tracked:
            errors[f"lines.{i}.item_id"] = ["relief items must be batch-tracked"]
        try:
            out.append((item, quantity(qty, dec, unit, f"lines.{i}.requested_qty")))
        except ValidationError as e:
            errors.update(e.extra["fields"])
    collect(errors, "The request is not valid.")
    return out


def relief_request_create(
    *,
    actor,
    agency_id: int,
    event: str,
    lines,
    urgency: str = ReliefRequest.Urgency.MEDIUM,
    notes: str = "",
    idempotency_key: str | None = None,
) -> dict:
    """A draft request from an agency or shelter (a Customer) for an event, with requested quantities."""
    authorize(actor, "relief.prepare")
    errors = {}
    if not Customer.objects.filter(pk=agency_id).exists():
        errors["agency_id"] = [f"unknown agency {agency_id}"]
    if not (event or "").strip():
        errors["event"] = ["required"]
    if urgency not in ReliefRequest.Urgency.values:
        errors["urgency"] = [", ".join(ReliefRequest.Urgency.values)]
    collect(errors, "The request is not valid.")
    parsed = _parse_lines(lines)

    def work():
        req = ReliefRequest.objects.create(
            agency_id=agency_id, event=event.strip(), urgency=urgency, notes=notes, created_by=user_or_none(actor)
        )
        ReliefRequestLine.objects.bulk_create(
            [ReliefRequestLine(request=req, item_id=item, requested_qty=q) for item, q in parsed]
        )
        audit.record(
            actor,
            "relief_request.create",
            "relief_request",
            req.pk,
            None,
            {"agency": agency_id, "event": req.event, "lines": {str(i): str(q) for i, q in parsed}},
        )
        return selectors.request_detail(req.pk)

    payload = {"agency": agency_id, "event": event, "urgency": urgency, "lines": [[i, str(q)] for i, q in parsed]}
    return run_once(idempotency_key, "relief_request_create", actor, work, payload)


def _lock_request(request_id: int, version: int) -> ReliefRequest:
    req = lock_one(ReliefRequest, request_id)
    if req is None:
        raise NotFound(f"Relief request {request_id} not found.")
    if req.version != version:
        raise StaleVersion(
            "Relief request was modified, please retry",
            extra={
                "object": "relief_request",
                "id": req.pk,
                "expected_version": version,
                "current_version": req.version,
            },
        )
    return req


def _set_status(actor, req: ReliefRequest, action: str, status: str, **fields) -> None:
    before = {"status": req.status, "version": req.version}
    ReliefRequest.update_if_version(
        req.pk, req.version, "Relief request was modified, please retry", status=status, **fields
    )
    audit.record(actor, action, "relief_request", req.pk, before, {"status": status, "version": req.version + 1})


def relief_request_submit(*, actor, request_id: int, version, idempotency_key: str | None = None) -> dict:
    authorize(actor, "relief.prepare")
    version = require_version(version)

    def work():
        req = _lock_request(request_id, version)
        if req.status != S.DRAFT:
            raise Conflict(
                f"Only a draft request can be submitted; this one is {req.get_status_display().lower()}.",
                code="invalid_status",
            )
        _set_status(
            actor,
            req,
            "relief_request.submit",
            S.SUBMITTED,
            submitted_at=timezone.now(),
            submitted_by=user_or_none(actor),
        )
        return selectors.request_detail(req.pk)

    return run_once(idempotency_key, "relief_request_submit", actor, work, {"id": request_id, "version": version})


def relief_request_cancel(*, actor, request_id: int, version, idempotency_key: str | None = None) -> dict:
    """Cancel what is left of a request. Its open packages must be cancelled first (they hold stock)."""
    authorize(actor, "relief.prepare")
    version = require_version(version)

    def work():
        req = _lock_request(request_id, version)
        if req.status in (S.FULFILLED, S.CANCELLED):
            raise Conflict(f"This request is already {req.get_status_display().lower()}.", code="invalid_status")
        open_packages = list(
            req.packages.filter(status__in=ReliefPackage.OPEN).order_by("pk").values_list("tracking_no", flat=True)
        )
        if open_packages:
            raise Conflict(
                "Cancel the request's open packages first: " + ", ".join(open_packages),
                code="open_packages",
                extra={"packages": open_packages},
            )
        _set_status(
            actor,
            req,
            "relief_request.cancel",
            S.CANCELLED,
            cancelled_at=timezone.now(),
            cancelled_by=user_or_none(actor),
        )
        return selectors.request_detail(req.pk)

    return run_once(idempotency_key, "relief_request_cancel", actor, work, {"id": request_id, "version": version})


def update_fulfilment(actor, req: ReliefRequest) -> None:
    """After a dispatch (request row locked): partly fulfilled, or fulfilled when every line is covered."""
    sent = dispatched_qty(req.pk)
    requested = dict(req.lines.values_list("item_id", "requested_qty"))
    done = all(sent.get(item, 0) >= q for item, q in requested.items())
    status = S.FULFILLED if done else S.PARTLY_FULFILLED
    if status != req.status:
        _set_status(actor, req, "relief_request.fulfilment", status)
