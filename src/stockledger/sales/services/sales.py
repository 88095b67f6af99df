"""Creating a sale: transaction + line items + its ledger legs + its invoice, in one transaction.

Order (STYLE.md): parse and check every input (400 before anything is written) → authorise → in one
transaction: lock the year's invoice counter → insert the transaction and its lines → post the legs
(the engine locks the inventory keys in pk order and refuses any negative result: 409, and the
rollback gives the invoice number back) → insert the invoice → audit. Once per Idempotency-Key.
"""

from django.utils import timezone

from stockledger.core import audit
from stockledger.core.idempotency import run_once
from stockledger.core.roles import authorize
from stockledger.stock.engine import Posting
from stockledger.stock.services.postings import post_legs

from ..models import Invoice, LineItem, SalesTransaction
from .legs import LEDGER_KIND, LineForLegs, legs_for
from .numbering import ensure_counter, invoice_number, take_next, transaction_number
from .parsing import ParsedSale, parse_sale


def sale_legs(sale: ParsedSale) -> list[dict]:
    legs = []
    for line in sale.lines:
        legs += legs_for(
            LineForLegs(line.kind, line.quantity, line.product.full_item_id, line.product.empty_item_id),
            depot_id=sale.depot.pk,
            customer_id=sale.customer.pk,
            index=line.position - 1,
        )
    return legs


def _write(actor, sale: ParsedSale, note: str, idempotency_key: str | None, now) -> dict:
    year = timezone.localdate(now).year
    n = take_next(year)
    trx = SalesTransaction.objects.create(
        number=transaction_number(year, n),
        customer=sale.customer,
        depot=sale.depot,
        user=actor if getattr(actor, "pk", None) else None,
        created_at=now,
        updated_at=now,
        total_amount=sale.total_amount,
        note=note[:300],
    )
    LineItem.objects.bulk_create(
        [
            LineItem(
                transaction=trx,
                position=line.position,
                product=line.product,
                kind=line.kind,
                quantity=line.quantity,
                unit_price=line.unit_price,
            )
            for line in sale.lines
        ]
    )
    entries = post_legs(
        actor=actor,
        kind=LEDGER_KIND,
        legs=sale_legs(sale),
        posting=Posting(actor, "sale", trx.pk, idempotency_key or "", trx.number, "inventory.sale", now),
    )
    invoice = Invoice.objects.create(
        number=invoice_number(year, n),
        year=year,
        seq=n,
        transaction=trx,
        total_amount=trx.total_amount,
        status=Invoice.Status.GENERATED,
        issued_at=now,
        updated_at=now,
    )
    lines = [
        {
            "position": ln.position,
            "product": ln.product.code,
            "kind": ln.kind,
            "quantity": ln.quantity,
            "unit_price": ln.unit_price,
        }
        for ln in sale.lines
    ]
    audit.record_many(
        actor,
        [
            audit.Change(
                "sale.create",
                "sales_transaction",
                trx.pk,
                None,
                {
                    "number": trx.number,
                    "customer_id": sale.customer.pk,
                    "depot_id": sale.depot.pk,
                    "total_amount": trx.total_amount,
                    "lines": lines,
                    "ledger_entries": [e.pk for e in entries],
                },
            ),
            audit.Change(
                "invoice.create",
                "invoice",
                invoice.pk,
                None,
                {"number": invoice.number, "status": invoice.status, "total_amount": invoice.total_amount},
            ),
        ],
    )
    return {
        "sale_id": trx.pk,
        "number": trx.number,
        "total_amount": trx.total_amount,
        "invoice_id": invoice.pk,
        "invoice_number": invoice.number,
        "ledger_entries": [e.pk for e in entries],
    }


def sale_create(*, actor, customer_id, depot_id, lines, note: str = "", idempotency_key: str | None = None) -> dict:
    """Record a sale and issue its invoice; returns ids and numbers (the first result on a retry)."""
    authorize(actor, "sales.write")
    sale = parse_sale(customer_id=customer_id, depot_id=depot_id, lines=lines)
    authorize(actor, "sales.write", [sale.depot.pk])
    payload = {"customer_id": customer_id, "depot_id": depot_id, "lines": lines, "note": note}
    now = timezone.now()
    ensure_counter(timezone.localdate(now).year)
    return run_once(
        idempotency_key,
        "sale_create",
        actor,
        lambda: _write(actor, sale, str(note or ""), idempotency_key, now),
        payload,
    )
