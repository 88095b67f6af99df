"""LPG sales: cylinder products (size → FULL and EMPTY item), sales transactions with line items, and
their invoices, numbered gap-free per year.

Amounts are Decimal(14, 2), never float. `transaction.total_amount` is a cache of Σ line quantity ×
unit_price and `invoice.total_amount` a cache of its transaction's total (invariant I7): services
keep both equal in the transaction that writes the lines; reconcile verifies and repairs them.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import Q

from stockledger.catalog.models import Customer, Item, Warehouse
from stockledger.core.models import Versioned

MONEY = {"max_digits": 14, "decimal_places": 2}
ZERO_MONEY = Decimal("0.00")


class LpgProduct(Versioned):
    """One cylinder size: which item is its FULL cylinder and which its EMPTY one."""

    code = models.SlugField(max_length=40, unique=True)
    name = models.CharField(max_length=120, help_text="e.g. LPG 12.5 kg")
    size_kg = models.DecimalField(max_digits=7, decimal_places=2)
    full_item = models.OneToOneField(Item, on_delete=models.PROTECT, related_name="lpg_full_of")
    empty_item = models.OneToOneField(Item, on_delete=models.PROTECT, related_name="lpg_empty_of")
    active = models.BooleanField(default=True)

    class Meta:
        ordering = ["size_kg", "code"]
        constraints = [
            models.CheckConstraint(condition=~Q(full_item=models.F("empty_item")), name="lpg_full_ne_empty"),
            models.CheckConstraint(condition=Q(size_kg__gt=0), name="lpg_size_positive"),
        ]

    def __str__(self):
        return self.name


class InvoiceCounter(models.Model):
    """The last invoice number given in a year. Locked FOR UPDATE by the transaction that inserts the
    next invoice, so a rolled-back sale gives its number back: the sequence has no gaps."""

    year = models.PositiveSmallIntegerField(unique=True)
    last_number = models.PositiveIntegerField(default=0)

    def __str__(self):
        return f"{self.year}: {self.last_number}"


class SalesTransaction(Versioned):
    """A sale at a depot (or from a truck) to a customer. Lines are written once, with the transaction."""

    number = models.CharField(max_length=32, unique=True)
    customer = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="sales")
    depot = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="sales")
    user = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    created_at = models.DateTimeField(db_index=True)
    total_amount = models.DecimalField(**MONEY, default=ZERO_MONEY)
    note = models.CharField(max_length=300, blank=True, default="")
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "sales_transaction"
        ordering = ["-id"]

    def __str__(self):
        return self.number


class LineItem(models.Model):
    class Kind(models.TextChoices):
        SALE = "SALE", "Sale (cylinder and gas)"
        REFILL = "REFILL", "Refill"
        SWAP = "SWAP", "Swap (empty for full)"
        RETURN = "RETURN", "Return of a cylinder"

    transaction = models.ForeignKey(SalesTransaction, on_delete=models.PROTECT, related_name="lines")
    position = models.PositiveSmallIntegerField()
    product = models.ForeignKey(LpgProduct, on_delete=models.PROTECT, related_name="+")
    kind = models.CharField(max_length=8, choices=Kind.choices)
    quantity = models.PositiveIntegerField()
    unit_price = models.DecimalField(**MONEY)

    class Meta:
        db_table = "sales_lineitem"
        ordering = ["transaction_id", "position"]
        constraints = [
            models.UniqueConstraint(fields=["transaction", "position"], name="line_position_unique"),
            models.CheckConstraint(condition=Q(quantity__gt=0), name="line_quantity_positive"),
            models.CheckConstraint(condition=Q(unit_price__gte=0), name="line_unit_price_nonneg"),
        ]

    def __str__(self):
        return f"{self.kind} {self.quantity} × {self.product} @ {self.unit_price}"

    @property
    def amount(self) -> Decimal:
        return self.quantity * self.unit_price


class Invoice(Versioned):
    class Status(models.TextChoices):
        GENERATED = "GENERATED"
        SENT = "SENT"
        PAID = "PAID"
        VOID = "VOID"

    number = models.CharField(max_length=32, unique=True)
    year = models.PositiveSmallIntegerField()
    seq = models.PositiveIntegerField()
    transaction = models.OneToOneField(SalesTransaction, on_delete=models.PROTECT, related_name="invoice")
    total_amount = models.DecimalField(**MONEY)
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.GENERATED)
    issued_at = models.DateTimeField()
    sent_at = models.DateTimeField(null=True, blank=True)
    paid_at = models.DateTimeField(null=True, blank=True)
    voided_at = models.DateTimeField(null=True, blank=True)
    void_reason = models.CharField(max_length=300, blank=True, default="")
    updated_at = models.DateTimeField()

    class Meta:
        db_table = "sales_invoice"
        ordering = ["-id"]
        constraints = [models.UniqueConstraint(fields=["year", "seq"], name="invoice_seq_per_year")]

    def __str__(self):
        return self.number
