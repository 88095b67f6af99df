"""Batched movements: receive, issue, transfer, restore, adjust.

Each public service authorises, then runs its work once per idempotency key inside one transaction.
The `*_locked` / internal functions are what other apps (pieces, relief) call inside their own
transaction with their own document.
"""

import uuid
from datetime import date
from decimal import Decimal

from django.db import IntegrityError, transaction
from django.utils import timezone

from stockledger.catalog.models import Item, Warehouse
from stockledger.core import audit
from stockledger.core.errors import Conflict, InsufficientStock, NotFound, ValidationError
from stockledger.core.idempotency import run_once
from stockledger.core.locking import lock_one
from stockledger.core.roles import authorize

from .. import engine
from ..engine import Delta, Posting
from ..models import Batch, LedgerEntry, StockDocument, inventory_key
from ..validation import check_issuable, collect, item_units, quantity, raise_if_blocked
from .common import batch_state, check_lines_against_batches, check_versions, new_document, parse_batch_lines, summed

K = LedgerEntry.Kind


# --- receive -------------------------------------------------------------------------------------


def receive(
    *,
    actor,
    item: Item,
    warehouse: Warehouse,
    qty,
    posting: Posting,
    batch_no: str | None = None,
    batch_code: str = "",
    origin: str = Batch.Origin.RECEIPT,
    batch_date: date | None = None,
    expiry_date: date | None = None,
    source_batch: Batch | None = None,
    kind: str = K.RECEIVE,
) -> Batch:
    """Create a batch holding `qty` (already validated) and post its receipt. Inside a transaction."""
    batch_date = batch_date or timezone.localdate()
    if expiry_date and expiry_date < batch_date and origin != Batch.Origin.TRANSFER:
        raise ValidationError(
            "The expiry date is before the batch date.", fields={"expiry_date": ["before batch date"]}
        )
    placeholder = batch_no is None
    try:
        b = Batch.objects.create(
            batch_no=batch_no or f"new-{uuid.uuid4().hex[:20]}",
            batch_code=batch_code,
            item=item,
            warehouse=warehouse,
            origin=origin,
            batch_date=batch_date,
            expiry_date=expiry_date,
            initial_qty=qty,
            source_batch=source_batch,
            created_by=actor if getattr(actor, "pk", None) else None,
        )
    except IntegrityError:
        raise ValidationError(
            f"Batch number {batch_no} already exists in {warehouse}.",
            code="duplicate",
            fields={"batch_no": ["already exists in this warehouse"]},
        ) from None
    if placeholder:
        # The batch's id is its number, unless someone already numbered a batch so here.
        taken = Batch.objects.filter(warehouse=warehouse, batch_no=str(b.pk)).exists()
        b.batch_no = f"{b.pk}-{uuid.uuid4().hex[:6]}" if taken else str(b.pk)
        b.batch_code = batch_code or f"{item.product_type.code.upper()}-{batch_date:%y%m%d}-{b.pk}"
        Batch.objects.filter(pk=b.pk).update(batch_no=b.batch_no, batch_code=b.batch_code)
    engine.apply([Delta(qty=qty, kind=kind, batch=b)], posting)
    return b


def batch_receive(
    *,
    actor,
    item_id: int,
    warehouse_id: int,
    qty,
    batch_no: str | None = None,
    batch_code: str = "",
    origin: str = Batch.Origin.RECEIPT,
    batch_date: date | None = None,
    expiry_date: date | None = None,
    idempotency_key: str | None = None,
) -> dict:
    """A new batch (production, receipt or return origin) at a warehouse."""
    item = Item.objects.select_related("product_type").filter(pk=item_id).first()
    warehouse = Warehouse.objects.filter(pk=warehouse_id).first()
    errors = {}
    if item is None:
        errors["item_id"] = [f"unknown item {item_id}"]
    elif not item.product_type.batch_tracked:
        errors["item_id"] = ["this item is not batch-tracked; post it through the ledger"]
    elif item.product_type.has_stock_forms:
        errors["item_id"] = ["this item has stock records (rolls, bundles, pieces): use production or return"]
    if warehouse is None:
        errors["warehouse_id"] = [f"unknown warehouse {warehouse_id}"]
    if origin not in {Batch.Origin.PRODUCTION, Batch.Origin.RECEIPT, Batch.Origin.RETURN, Batch.Origin.OPENING}:
        errors["origin"] = ["production, receipt, return or opening"]
    collect(errors, "The receipt is not valid.")
    authorize(actor, "stock.receive", [warehouse.pk])
    q = quantity(qty, item.product_type.unit_decimals, item.product_type.base_unit)
    if item.can_expire and expiry_date is None:
        raise ValidationError("This item expires: an expiry date is required.", fields={"expiry_date": ["required"]})

    def work():
        doc = new_document(StockDocument.Kind.RECEIPT, actor, [{"item_id": item.pk, "qty": q}])
        b = receive(
            actor=actor,
            item=item,
            warehouse=warehouse,
            qty=q,
            batch_no=batch_no,
            batch_code=batch_code,
            origin=origin,
            batch_date=batch_date,
            expiry_date=expiry_date,
            posting=Posting(actor, "receipt", doc.pk, idempotency_key or "", audit_action="batch.receive"),
        )
        return {"document_id": doc.pk, **batch_state(b), "initial_qty": b.initial_qty, "batch_code": b.batch_code}

    payload = {"item": item_id, "warehouse": warehouse_id, "qty": str(q), "batch_no": batch_no}
    return run_once(idempotency_key, "batch_receive", actor, work, payload)


# --- issue ---------------------------------------------------------------------------------------


def issue_locked(
    *,
    lines: list[dict],
    batches: dict[int, Batch],
    posting: Posting,
    allow_expired: bool,
    kind: str = K.ISSUE,
    today: date | None = None,
) -> list[LedgerEntry]:
    """Take quantities out of locked batches: only what is available (usable − reserved)."""
    today = today or timezone.localdate()
    check_versions(lines, batches)
    blocked = []
    for line in lines:
        b = batches[line["batch_id"]]
        if reason := check_issuable(b, today, allow_expired=allow_expired):
            blocked.append({"line": line["i"], "batch_id": b.pk, "reason": reason})
    raise_if_blocked(blocked)
    short = []
    for pk, q in summed(lines).items():
        b = batches[pk]
        if q > b.usable_qty - b.reserved_qty:
            short.append(
                {
                    "batch_id": pk,
                    "batch_no": b.batch_no,
                    "requested": str(q),
                    "available": str(b.usable_qty - b.reserved_qty),
                }
            )
    if short:
        raise InsufficientStock(
            "Not enough stock: "
            + "; ".join(f"batch #{s['batch_no']} has {s['available']}, {s['requested']} requested" for s in short),
            extra={"lines": short},
        )
    return engine.apply(
        [Delta(qty=-line["qty"], kind=kind, batch=batches[line["batch_id"]]) for line in lines], posting
    )


def stock_issue(
    *, actor, lines, reason: str = "", allow_expired: bool = False, idempotency_key: str | None = None
) -> dict:
    """Take stock out of one or more batches (dispatch, scrap); all lines are checked before any write."""
    parsed = parse_batch_lines(lines)

    def work():
        batches = engine.lock_batches(line["batch_id"] for line in parsed)
        check_lines_against_batches(parsed, batches, allow_stock_forms=False)
        authorize(actor, "stock.issue", [b.warehouse_id for b in batches.values()])
        doc = new_document(StockDocument.Kind.ISSUE, actor, parsed, reason)
        issue_locked(
            lines=parsed,
            batches=batches,
            allow_expired=allow_expired,
            posting=Posting(actor, "issue", doc.pk, idempotency_key or "", reason, "batch.issue"),
        )
        return {"document_id": doc.pk, "lines": [batch_state(batches[pk]) for pk in sorted(batches)]}

    return run_once(idempotency_key, "stock_issue", actor, work, {"lines": lines, "reason": reason})


# --- restore -------------------------------------------------------------------------------------


def stock_restore(
    *, actor, lines, reason: str = "", reverts_document_id: int | None = None, idempotency_key: str | None = None
) -> dict:
    """Put quantity back into the same batches (a scrap revert). LM/ADMIN."""
    parsed = parse_batch_lines(lines)

    def work():
        batches = engine.lock_batches(line["batch_id"] for line in parsed)
        check_lines_against_batches(parsed, batches, allow_stock_forms=False)
        authorize(actor, "stock.restore", [b.warehouse_id for b in batches.values()])
        blocked = [
            {
                "line": ln["i"],
                "batch_id": ln["batch_id"],
                "reason": f"batch #{batches[ln['batch_id']].batch_no} was reverted",
            }
            for ln in parsed
            if batches[ln["batch_id"]].status != Batch.Status.ACTIVE
        ]
        raise_if_blocked(blocked)
        doc = new_document(StockDocument.Kind.RESTORE, actor, parsed, reason)
        engine.apply(
            [Delta(qty=ln["qty"], kind=K.RESTORE, batch=batches[ln["batch_id"]]) for ln in parsed],
            Posting(actor, "restore", doc.pk, idempotency_key or "", reason, "batch.restore"),
        )
        return {
            "document_id": doc.pk,
            "reverts_document_id": reverts_document_id,
            "lines": [batch_state(batches[pk]) for pk in sorted(batches)],
        }

    return run_once(idempotency_key, "stock_restore", actor, work, {"lines": lines, "reverts": reverts_document_id})


# --- transfer ------------------------------------------------------------------------------------


def stock_transfer(*, actor, lines, to_warehouse_id: int, reason: str = "", idempotency_key: str | None = None) -> dict:
    """Move batch stock to another warehouse: the batch number reappears there as a batch row of its own
    (origin transfer, same expiry). Both legs in one transaction."""
    parsed = parse_batch_lines(lines)
    dest = Warehouse.objects.filter(pk=to_warehouse_id).first()
    if dest is None:
        raise ValidationError("Unknown destination warehouse.", fields={"to_warehouse_id": ["unknown warehouse"]})

    def work():
        # Lock sources and the destination rows that already carry their numbers in one pk-ordered call:
        # every batch lock is taken before any inventory lock.
        ids = [line["batch_id"] for line in parsed]
        numbers = Batch.objects.filter(pk__in=ids).values_list("batch_no", flat=True)
        existing = list(Batch.objects.filter(warehouse=dest, batch_no__in=list(numbers)).values_list("pk", flat=True))
        locked = engine.lock_batches([*ids, *existing])
        sources = {pk: locked[pk] for pk in ids if pk in locked}
        check_lines_against_batches(parsed, sources)
        authorize(actor, "stock.transfer", [b.warehouse_id for b in sources.values()] + [dest.pk])
        errors = {}
        items = {
            i.pk: i
            for i in Item.objects.select_related("product_type").filter(pk__in={b.item_id for b in sources.values()})
        }
        for line in parsed:
            b = sources[line["batch_id"]]
            if b.warehouse_id == dest.pk:
                errors[f"lines.{line['i']}.batch_id"] = ["the batch is already in the destination warehouse"]
            elif items[b.item_id].product_type.has_stock_forms:
                errors[f"lines.{line['i']}.batch_id"] = ["batches with stock records move by dispatch and return"]
        collect(errors)
        # Both legs' inventory rows in one pk-ordered call: two opposite transfers (A→B, B→A) of one
        # item would otherwise each hold one row and wait for the other's (a deadlock).
        engine.lock_inventory(
            {
                inventory_key(b.item_id, w, None): (b.item_id, w, None)
                for b in sources.values()
                for w in (b.warehouse_id, dest.pk)
            }
        )
        doc = new_document(StockDocument.Kind.TRANSFER, actor, parsed, reason)
        posting = Posting(actor, "transfer", doc.pk, idempotency_key or "", reason, "batch.transfer")
        issue_locked(lines=parsed, batches=sources, posting=posting, allow_expired=False, kind=K.TRANSFER_OUT)
        by_no = {locked[pk].batch_no: locked[pk] for pk in existing}
        deltas, created = [], []
        for pk, q in summed(parsed).items():
            src = sources[pk]
            target = by_no.get(src.batch_no)
            if target is None:
                try:
                    with transaction.atomic():  # savepoint: a concurrent transfer may create this copy first
                        target = receive(
                            actor=actor,
                            item=items[src.item_id],
                            warehouse=dest,
                            qty=q,
                            batch_no=src.batch_no,
                            batch_code=src.batch_code,
                            origin=Batch.Origin.TRANSFER,
                            batch_date=src.batch_date,
                            expiry_date=src.expiry_date,
                            source_batch=src,
                            posting=posting,
                            kind=K.TRANSFER_IN,
                        )
                    created.append(target)
                    by_no[src.batch_no] = target
                    continue
                except ValidationError as e:
                    if e.code != "duplicate":
                        raise
                copy = Batch.objects.filter(warehouse=dest, batch_no=src.batch_no).values_list("pk", flat=True)
                target = by_no[src.batch_no] = next(iter(engine.lock_batches(copy).values()))
            deltas.append(Delta(qty=q, kind=K.TRANSFER_IN, batch=target))
        if deltas:
            engine.apply(deltas, posting)
        targets = [*created, *(d.batch for d in deltas)]
        return {
            "document_id": doc.pk,
            "from": [batch_state(b) for b in sources.values()],
            "to": [batch_state(b) for b in targets],
        }

    return run_once(
        idempotency_key, "stock_transfer", actor, work, {"lines": lines, "to": to_warehouse_id, "reason": reason}
    )


# --- adjust --------------------------------------------------------------------------------------


def stock_adjust(*, actor, batch_id: int, counted_qty, reason: str, idempotency_key: str | None = None) -> dict:
    """Record a count that differs from the stored quantity: a PENDING adjustment an LM/ADMIN approves."""
    if not (reason or "").strip():
        raise ValidationError("A reason is required for an adjustment.", fields={"reason": ["required"]})
    b = Batch.objects.filter(pk=batch_id).first()
    if b is None:
        raise ValidationError("Unknown batch.", fields={"batch_id": [f"unknown batch {batch_id}"]})
    authorize(actor, "stock.adjust.request", [b.warehouse_id])
    dec, unit, *_ = item_units([b.item_id])[b.item_id]
    counted = quantity(counted_qty, dec, unit, "counted_qty", allow_zero=True)

    def work():
        current = lock_one(Batch, batch_id)
        if counted == current.usable_qty:
            raise Conflict("The count equals the recorded quantity: nothing to adjust.", code="nothing_to_adjust")
        doc = new_document(
            StockDocument.Kind.ADJUSTMENT,
            actor,
            [
                {
                    "batch_id": current.pk,
                    "counted_qty": counted,
                    "recorded_qty": current.usable_qty,
                    "batch_version": current.version,
                }
            ],
            reason,
            status=StockDocument.Status.PENDING,
        )
        return {
            "document_id": doc.pk,
            "status": doc.status,
            "version": doc.version,
            "batch_id": current.pk,
            "recorded_qty": current.usable_qty,
            "counted_qty": counted,
            "difference": counted - current.usable_qty,
        }

    return run_once(idempotency_key, "stock_adjust", actor, work, {"batch": batch_id, "counted": str(counted)})


def stock_adjust_decide(
    *, actor, document_id: int, approve: bool, version: int | None = None, idempotency_key: str | None = None
) -> dict:
    """Approve (apply counted − recorded) or reject a pending adjustment. Refused if the batch moved since."""

    def work():
        doc = lock_one(StockDocument, document_id)
        if doc is None or doc.kind != StockDocument.Kind.ADJUSTMENT:
            raise NotFound(f"Adjustment {document_id} not found.")
        line = doc.lines[0]
        b = engine.lock_batches([line["batch_id"]])[line["batch_id"]]
        authorize(actor, "stock.adjust.approve", [b.warehouse_id])
        if doc.status != StockDocument.Status.PENDING:
            raise Conflict(f"This adjustment is already {doc.status.lower()}.", code="already_decided")
        if version is not None and version != doc.version:
            raise Conflict("Adjustment was modified, please retry", code="stale_version")
        now = timezone.now()
        if approve:
            if b.version != line["batch_version"]:
                raise Conflict(
                    "The batch changed since it was counted; count it again.",
                    code="stale_version",
                    extra={"batch_id": b.pk, "counted_at_version": line["batch_version"], "current_version": b.version},
                )
            diff = Decimal(line["counted_qty"]) - Decimal(line["recorded_qty"])
            if b.usable_qty + diff < b.reserved_qty:
                raise InsufficientStock(
                    "The count is below what is reserved on this batch; release reservations first.",
                    extra={"reserved_qty": str(b.reserved_qty)},
                )
            engine.apply(
                [Delta(qty=diff, kind=K.ADJUST, batch=b)],
                Posting(actor, "adjustment", doc.pk, idempotency_key or "", doc.reason, "batch.adjust"),
            )
        status = StockDocument.Status.DONE if approve else StockDocument.Status.REJECTED
        StockDocument.update_if_version(
            doc.pk, doc.version, status=status, decided_at=now, decided_by=actor if getattr(actor, "pk", None) else None
        )
        audit.record(
            actor,
            "adjustment.approve" if approve else "adjustment.reject",
            "stock_document",
            doc.pk,
            {"status": doc.status},
            {"status": status},
        )
        return {"document_id": doc.pk, "status": "DONE" if approve else "REJECTED", **batch_state(b)}

    return run_once(idempotency_key, "stock_adjust_decide", actor, work, {"doc": document_id, "approve": approve})
