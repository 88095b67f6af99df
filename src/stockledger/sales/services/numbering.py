"""Gap-free numbers per year: INV-2026-000123 (and the transaction TRX-2026-000123 it belongs to).

The year's counter row is locked FOR UPDATE by the transaction that inserts the invoice and bumped
there; if that transaction rolls back, so does the bump: no number is ever skipped or given twice.
"""

from django.db import IntegrityError, transaction

from ..models import InvoiceCounter


def invoice_number(year: int, n: int) -> str:
    return f"INV-{year}-{n:06d}"


def transaction_number(year: int, n: int) -> str:
    return f"TRX-{year}-{n:06d}"


def ensure_counter(year: int) -> None:
    """Create the year's counter row (last_number 0) in a transaction of its own, before the sale's.

    Creating it inside the sale's transaction would let concurrent first sales of a year each wait on
    the new row's unique key with a shared lock, then all ask for the exclusive one: a deadlock on
    InnoDB. A row holding 0 consumes no number.
    """
    if InvoiceCounter.objects.filter(year=year).exists():
        return
    try:
        with transaction.atomic():
            InvoiceCounter.objects.create(year=year, last_number=0)
    except IntegrityError:
        pass  # a concurrent first sale created it


def take_next(year: int) -> int:
    """Lock the year's counter and take its next number. Must run inside the invoice's transaction."""
    assert transaction.get_connection().in_atomic_block, "take_next() needs the invoice's transaction"
    counter = InvoiceCounter.objects.select_for_update().filter(year=year).first()
    if counter is None:
        # Only when ensure_counter() was not called first (e.g. the caller's own outer transaction).
        InvoiceCounter.objects.bulk_create([InvoiceCounter(year=year, last_number=0)], ignore_conflicts=True)
        counter = InvoiceCounter.objects.select_for_update().get(year=year)
    n = counter.last_number + 1
    InvoiceCounter.objects.filter(pk=counter.pk).update(last_number=n)
    return n
