"""Invoice status: GENERATED → SENT → PAID, or VOID before it is paid.

Each transition names the version the client showed (stale → 409 stale_version), is re-checked under
the invoice's row lock, audited, and runs once per Idempotency-Key. Voiding cancels the sale: its
ledger legs are reversed by compensating entries (kind REVERT, each linked to the entry it reverts),
refused with 409 if the cylinders have moved on since (a correction is then posted instead).
"""

from dataclasses import dataclass

from django.utils import timezone

from stockledger.core import audit
from stockledger.core.errors import Conflict, InsufficientStock, NotFound, StaleVersion, ValidationError
from stockledger.core.idempotency import run_once
from stockledger.core.locking import lock_one
from stockledger.core.roles import authorize
from stockledger.stock import engine
from stockledger.stock.engine import Delta, Posting
from stockledger.stock.models import LedgerEntry

from ..models import Invoice, SalesTransaction

S = Invoice.Status


@dataclass(frozen=True)
class Transition:
    action: str
    sources: frozenset[str]
    target: str
    stamp: str


TRANSITIONS = {
    "send": Transition("send", frozenset({S.GENERATED}), S.SENT, "sent_at"),
    "pay": Transition("pay", frozenset({S.SENT}), S.PAID, "paid_at"),
    "void": Transition("void", frozenset({S.GENERATED, S.SENT}), S.VOID, "voided_at"),
}


def allowed_actions(status: str) -> list[str]:
    return [t.action for t in TRANSITIONS.values() if status in t.sources]


def _version(version) -> int:
    if version is None or isinstance(version, bool):
        raise ValidationError("version is required.", fields={"version": ["the version you were shown"]})
    try:
        return int(version)
    except (TypeError, ValueError):
        raise ValidationError("version must be an integer.", fields={"version": ["must be an integer"]}) from None


def _state(inv: Invoice) -> dict:
    return {"status": inv.status, "version": inv.version, "total_amount": inv.total_amount}


def _reverse_ledger(actor, inv: Invoice, reason: str, idempotency_key: str, now) -> list[int]:
    """Compensating entries for every ledger entry of the sale not yet reverted."""
    entries = LedgerEntry.objects.filter(doc_type="sale", doc_id=str(inv.transaction_id), reverts__isnull=True)
    reverted = set(LedgerEntry.objects.filter(reverts__in=entries.values("pk")).values_list("reverts_id", flat=True))
    deltas = [
        Delta(
            qty=-e.qty_delta,
            kind=LedgerEntry.Kind.REVERT,
            item_id=e.item_id,
            warehouse_id=e.warehouse_id,
            holder_id=e.holder_id,
            reverts_id=e.pk,
        )
        for e in entries.order_by("pk")
        if e.pk not in reverted
    ]
    if not deltas:
        return []
    posting = Posting(actor, "invoice_void", inv.pk, idempotency_key, reason or inv.number, "inventory.sale_void", now)
    try:
        return [e.pk for e in engine.apply(deltas, posting)]
    except InsufficientStock as e:
        raise InsufficientStock(
            f"Invoice {inv.number} cannot be voided: the cylinders of its sale have moved since "
            "(post a RETURN or an ADJUSTMENT for them instead).",
            extra=e.extra,
        ) from None


def _transition(actor, invoice_id: int, t: Transition, version: int, reason: str, key: str) -> dict:
    inv = lock_one(Invoice, invoice_id)
    if inv is None:
        raise NotFound(f"Invoice {invoice_id} not found.")
    depot_id = SalesTransaction.objects.filter(pk=inv.transaction_id).values_list("depot_id", flat=True).get()
    authorize(actor, "sales.write", [depot_id])
    if inv.version != version:
        raise StaleVersion(
            f"Invoice {inv.number} was modified, please retry",
            extra={"object": "invoice", "id": inv.pk, "expected_version": version, "current_version": inv.version},
        )
    if inv.status not in t.sources:
        raise Conflict(
            f"Invoice {inv.number} is {inv.status}: it cannot be {t.target.lower()}"
            + (" (a paid invoice needs a credit note)." if inv.status == S.PAID and t.action == "void" else "."),
            code="invalid_status",
            extra={"status": inv.status, "allowed": allowed_actions(inv.status)},
        )
    before, now = _state(inv), timezone.now()
    fields = {"status": t.target, t.stamp: now, "updated_at": now}
    reverted = []
    if t.action == "void":
        fields["void_reason"] = reason[:300]
        reverted = _reverse_ledger(actor, inv, reason, key, now)
    Invoice.update_if_version(inv.pk, version, f"Invoice {inv.number} was modified, please retry", **fields)
    inv.refresh_from_db()
    after = _state(inv) | ({"reason": reason, "reverting_entries": reverted} if t.action == "void" else {})
    audit.record(actor, f"invoice.{t.action}", "invoice", inv.pk, before, after)
    return {"invoice_id": inv.pk, "number": inv.number, "status": inv.status, "version": inv.version}


def invoice_transition(
    *, actor, invoice_id: int, action: str, version, reason: str = "", idempotency_key: str | None = None
) -> dict:
    if action not in TRANSITIONS:
        raise ValidationError("Unknown invoice action.", fields={"action": [", ".join(TRANSITIONS)]})
    authorize(actor, "sales.write")
    v = _version(version)
    reason = (reason or "").strip()
    t = TRANSITIONS[action]
    return run_once(
        idempotency_key,
        f"invoice_{action}",
        actor,
        lambda: _transition(actor, int(invoice_id), t, v, reason, idempotency_key or ""),
        {"invoice_id": invoice_id, "version": v, "reason": reason},
    )


def invoice_send(*, actor, invoice_id: int, version, idempotency_key: str | None = None) -> dict:
    return invoice_transition(
        actor=actor, invoice_id=invoice_id, action="send", version=version, idempotency_key=idempotency_key
    )


def invoice_pay(*, actor, invoice_id: int, version, idempotency_key: str | None = None) -> dict:
    return invoice_transition(
        actor=actor, invoice_id=invoice_id, action="pay", version=version, idempotency_key=idempotency_key
    )


def invoice_void(*, actor, invoice_id: int, version, reason: str = "", idempotency_key: str | None = None) -> dict:
    return invoice_transition(
        actor=actor,
        invoice_id=invoice_id,
        action="void",
        version=version,
        reason=reason,
        idempotency_key=idempotency_key,
    )
