"""Reservations held by a document (a relief package, ...) on batches.

reservation_apply takes the desired allocation {batch: qty} and applies the delta
(new allocated − old allocated) to batch.reserved_qty and inventory.reserved_qty (seed 001);
reservation_consume turns a document's reservations into an issue and sets the touched inventory
rows to Σ of their batches (seed 000). Both run inside the caller's transaction; the caller locks
its document first.
"""

from decimal import Decimal

from django.utils import timezone

from stockledger.core.errors import InsufficientStock, ValidationError
from stockledger.core.idempotency import run_once
from stockledger.core.roles import authorize

from .. import engine
from ..engine import Delta, Posting
from ..models import Batch, LedgerEntry, Reservation
from ..rules import reservation_deltas
from ..validation import check_issuable, collect, item_units, quantity, raise_if_blocked
from .common import batch_state

K = LedgerEntry.Kind


def reservations_of(doc_type: str, doc_id) -> dict[int, Decimal]:
    return dict(Reservation.objects.filter(doc_type=doc_type, doc_id=str(doc_id)).values_list("batch_id", "qty"))


def parse_allocation(desired) -> dict[int, Decimal]:
    if not isinstance(desired, dict):
        raise ValidationError("Allocations must map batch ids to quantities.", fields={"allocations": ["an object"]})
    out, errors = {}, {}
    for raw_id, qty in desired.items():
        try:
            out[int(raw_id)] = qty
        except (TypeError, ValueError):
            errors[f"allocations.{raw_id}"] = ["not a batch id"]
    collect(errors)
    return out


def apply_reservations(
    *,
    actor,
    doc_type: str,
    doc_id,
    desired: dict[int, object],
    posting: Posting,
    item_id: int | None = None,
    warehouse_ids: set[int] | None = None,
    today=None,
) -> dict[int, Batch]:
    """Make the document hold exactly `desired` ({batch_id: qty}); inside the caller's transaction."""
    today = today or timezone.localdate()
    old = reservations_of(doc_type, doc_id)
    batches = engine.lock_batches(set(old) | set(desired))
    units = item_units({b.item_id for b in batches.values()})
    errors: dict[str, list[str]] = {}
    new: dict[int, Decimal] = {}
    for pk, qty in desired.items():
        b = batches.get(pk)
        if b is None:
            errors[f"allocations.{pk}"] = [f"unknown batch {pk}"]
            continue
        if item_id is not None and b.item_id != item_id:
            errors[f"allocations.{pk}"] = [f"batch #{b.batch_no} is of another item"]
        if warehouse_ids is not None and b.warehouse_id not in warehouse_ids:
            errors[f"allocations.{pk}"] = [f"batch #{b.batch_no} is in another warehouse"]
        dec, unit, *_ = units[b.item_id]
        try:
            q = quantity(qty, dec, unit, f"allocations.{pk}", allow_zero=True)
        except ValidationError as e:
            errors.update(e.extra["fields"])
            continue
        if q:
            new[pk] = q
    collect(errors, "Some allocations are not valid.")
    deltas = reservation_deltas(old, new)
    blocked, short = [], []
    for pk, d in deltas.items():
        b = batches[pk]
        if d <= 0:
            continue
        if reason := check_issuable(b, today, allow_expired=False):
            blocked.append({"batch_id": pk, "reason": reason})
        elif d > b.usable_qty - b.reserved_qty:
            short.append(
                {
                    "batch_id": pk,
                    "batch_no": b.batch_no,
                    "requested": str(new[pk]),
                    "available": str(b.usable_qty - b.reserved_qty + old.get(pk, 0)),
                }
            )
    raise_if_blocked(blocked, "batch_not_allocatable")
    if short:
        raise InsufficientStock(
            "Over-allocation: "
            + "; ".join(
                f"batch #{s['batch_no']} has {s['available']} available, {s['requested']} allocated" for s in short
            ),
            code="over_allocation",
            extra={"lines": short},
        )
    authorize(actor, "stock.reserve", {batches[pk].warehouse_id for pk in deltas})
    if deltas:
        engine.apply(
            [Delta(reserved=d, kind=K.RESERVE, batch=batches[pk]) for pk, d in deltas.items()],
            posting,
            inventory_from_batches=True,
        )
    _store(doc_type, doc_id, old, new)
    return batches


def _store(doc_type: str, doc_id, old: dict[int, Decimal], new: dict[int, Decimal]) -> None:
    doc_id = str(doc_id)
    gone = [pk for pk in old if pk not in new]
    if gone:
        Reservation.objects.filter(doc_type=doc_type, doc_id=doc_id, batch_id__in=gone).delete()
    for pk, q in new.items():
        if pk not in old:
            Reservation.objects.create(doc_type=doc_type, doc_id=doc_id, batch_id=pk, qty=q)
        elif old[pk] != q:
            Reservation.objects.filter(doc_type=doc_type, doc_id=doc_id, batch_id=pk).update(qty=q)


def consume_reservations(*, actor, doc_type: str, doc_id, posting: Posting, today=None) -> dict[int, Batch]:
    """Issue everything the document holds: usable −= qty, reserved −= qty on each batch, then the
    inventory rows of every touched item + warehouse := Σ of their batches, in this transaction."""
    today = today or timezone.localdate()
    held = reservations_of(doc_type, doc_id)
    if not held:
        raise ValidationError("Nothing is allocated to dispatch.", code="nothing_allocated")
    batches = engine.lock_batches(held)
    blocked = [
        {"batch_id": pk, "reason": r} for pk in held if (r := check_issuable(batches[pk], today, allow_expired=False))
    ]
    raise_if_blocked(blocked)
    authorize(actor, "stock.issue", {b.warehouse_id for b in batches.values()})
    engine.apply(
        [Delta(qty=-q, reserved=-q, kind=K.CONSUME, batch=batches[pk]) for pk, q in held.items()],
        posting,
        inventory_from_batches=True,
    )
    Reservation.objects.filter(doc_type=doc_type, doc_id=str(doc_id)).delete()
    return batches


# --- public services (used directly by the API, tests and the benchmark) -------------------------


def reservation_apply(*, actor, doc_type: str, doc_id, allocations, idempotency_key: str | None = None) -> dict:
    desired = parse_allocation(allocations)

    def work():
        batches = apply_reservations(
            actor=actor,
            doc_type=doc_type,
            doc_id=doc_id,
            desired=desired,
            posting=Posting(actor, doc_type, str(doc_id), idempotency_key or "", audit_action="batch.reserve"),
        )
        return {
            "doc_type": doc_type,
            "doc_id": str(doc_id),
            "held": reservations_of(doc_type, doc_id),
            "batches": [batch_state(b) for b in batches.values()],
        }

    return run_once(
        idempotency_key,
        "reservation_apply",
        actor,
        work,
        {"doc": [doc_type, str(doc_id)], "allocations": {str(k): str(v) for k, v in desired.items()}},
    )


def reservation_consume(*, actor, doc_type: str, doc_id, idempotency_key: str | None = None) -> dict:
    def work():
        batches = consume_reservations(
            actor=actor,
            doc_type=doc_type,
            doc_id=doc_id,
            posting=Posting(actor, doc_type, str(doc_id), idempotency_key or "", audit_action="batch.consume"),
        )
        return {"doc_type": doc_type, "doc_id": str(doc_id), "batches": [batch_state(b) for b in batches.values()]}

    return run_once(idempotency_key, "reservation_consume", actor, work, {"doc": [doc_type, str(doc_id)]})
