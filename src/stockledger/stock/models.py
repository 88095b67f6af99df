"""The stock engine's tables: batches, inventory rows, the ledger, reservations, stock documents.

Every quantity column has the same precision (QTY), so a total recomputed from its detail never
rounds differently from the detail itself.
"""

from decimal import Decimal

from django.conf import settings
from django.db import models
from django.db.models import F, Q

from stockledger.catalog.models import Customer, Item, Warehouse
from stockledger.core.models import Versioned

QTY = {"max_digits": 18, "decimal_places": 3}
ZERO = Decimal("0.000")


def inventory_key(item_id: int, warehouse_id: int | None, holder_id: int | None) -> str:
    """The NULL-safe unique key of an inventory row (0 stands for NULL; ids start at 1)."""
    return f"{item_id}:{warehouse_id or 0}:{holder_id or 0}"


class Batch(Versioned):
    class Origin(models.TextChoices):
        PRODUCTION = "production"
        RETURN = "return"
        RECEIPT = "receipt"
        TRANSFER = "transfer"
        OPENING = "opening"

    class Status(models.TextChoices):
        ACTIVE = "ACTIVE"
        REVERTED = "REVERTED"

    batch_no = models.CharField(max_length=64)
    batch_code = models.CharField(max_length=64, blank=True)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="batches")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="batches")
    origin = models.CharField(max_length=20, choices=Origin.choices, default=Origin.RECEIPT)
    batch_date = models.DateField(help_text="production or receipt date")
    expiry_date = models.DateField(null=True, blank=True)
    initial_qty = models.DecimalField(**QTY)
    usable_qty = models.DecimalField(**QTY, default=ZERO)
    reserved_qty = models.DecimalField(**QTY, default=ZERO)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.ACTIVE)
    source_batch = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="copies")
    ledger_head = models.CharField(max_length=64, blank=True, default="")
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)

    class Meta:
        verbose_name_plural = "batches"
        ordering = ["-id"]
        constraints = [
            # A transferred batch keeps its number at the destination, as a row of its own.
            models.UniqueConstraint(fields=["batch_no", "warehouse"], name="batch_no_per_warehouse"),
            models.CheckConstraint(condition=Q(initial_qty__gt=0), name="batch_initial_positive"),
            models.CheckConstraint(condition=Q(usable_qty__gte=0), name="batch_usable_nonneg"),
            models.CheckConstraint(condition=Q(reserved_qty__gte=0), name="batch_reserved_nonneg"),
            models.CheckConstraint(condition=Q(reserved_qty__lte=F("usable_qty")), name="batch_reserved_le_usable"),
        ]
        indexes = [models.Index(fields=["item", "warehouse"]), models.Index(fields=["expiry_date"])]

    def __str__(self):
        return f"Batch #{self.batch_no}"

    @property
    def available_qty(self) -> Decimal:
        return self.usable_qty - self.reserved_qty


class Inventory(Versioned):
    """One row per (item, warehouse, holder customer), NULL-safe on both (`key`)."""

    key = models.CharField(max_length=64, unique=True, editable=False)
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="inventory_rows")
    warehouse = models.ForeignKey(Warehouse, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    holder = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    usable_qty = models.DecimalField(**QTY, default=ZERO)
    reserved_qty = models.DecimalField(**QTY, default=ZERO)
    reorder_qty = models.DecimalField(**QTY, default=ZERO, help_text="low-stock alert level (DMIS reorder_qty)")
    ledger_head = models.CharField(max_length=64, blank=True, default="")
    last_updated = models.DateTimeField(auto_now=True)

    class Meta:
        verbose_name_plural = "inventory"
        ordering = ["item_id", "warehouse_id", "holder_id"]
        constraints = [
            models.CheckConstraint(condition=Q(usable_qty__gte=0), name="inventory_usable_nonneg"),
            models.CheckConstraint(condition=Q(reserved_qty__gte=0), name="inventory_reserved_nonneg"),
            models.CheckConstraint(condition=Q(reserved_qty__lte=F("usable_qty")), name="inventory_reserved_le_usable"),
        ]
        indexes = [models.Index(fields=["warehouse", "item"])]

    def __str__(self):
        return f"{self.item} @ {self.warehouse or '-'} / {self.holder or '-'}"

    @property
    def available_qty(self) -> Decimal:
        return self.usable_qty - self.reserved_qty


class LedgerEntry(models.Model):
    """One signed movement. Append-only (database triggers), hash-chained per batch or inventory key."""

    class Kind(models.TextChoices):
        RECEIVE = "RECEIVE"
        ISSUE = "ISSUE"
        TRANSFER_OUT = "TRANSFER_OUT"
        TRANSFER_IN = "TRANSFER_IN"
        ADJUST = "ADJUST"
        RESTORE = "RESTORE"
        RESERVE = "RESERVE"
        CONSUME = "CONSUME"
        REVERT = "REVERT"
        # non-batched postings (LPG depots)
        LOAD = "LOAD"
        DELIVERY = "DELIVERY"
        COLLECTION = "COLLECTION"
        RETURN = "RETURN"
        TRANSFER = "TRANSFER"
        DUMP = "DUMP"
        ADJUSTMENT = "ADJUSTMENT"
        SALE = "SALE"

    created_at = models.DateTimeField()
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey(Warehouse, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    holder = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="ledger")
    qty_delta = models.DecimalField(**QTY, default=ZERO)
    reserved_delta = models.DecimalField(**QTY, default=ZERO)
    kind = models.CharField(max_length=16, choices=Kind.choices)
    doc_type = models.CharField(max_length=32)
    doc_id = models.CharField(max_length=64)
    idempotency_key = models.CharField(max_length=128, blank=True, default="")
    reason = models.CharField(max_length=300, blank=True, default="")
    actor = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    reverts = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reverted_by")
    prev_hash = models.CharField(max_length=64, blank=True, default="")
    hash = models.CharField(max_length=64)

    class Meta:
        verbose_name_plural = "ledger entries"
        ordering = ["id"]
        indexes = [
            # The key's totals: covering, so Σ per key (reconcile's verify and recompute) reads this index
            # alone, in key order, without a sort (index-only on PostgreSQL).
            models.Index(fields=["item", "warehouse", "holder", "qty_delta", "reserved_delta"], name="ledger_key_sums"),
            models.Index(fields=["doc_type", "doc_id"]),
            models.Index(fields=["created_at"]),
        ]

    def __str__(self):
        return f"{self.kind} {self.qty_delta} item {self.item_id} batch {self.batch_id}"


class Reservation(models.Model):
    """What one document (a relief package, ...) holds on one batch. Σ qty = batch.reserved_qty (I2)."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="reservations")
    doc_type = models.CharField(max_length=32)
    doc_id = models.CharField(max_length=64)
    qty = models.DecimalField(**QTY)
    updated_at = models.DateTimeField(auto_now=True)

    class Meta:
        constraints = [
            models.UniqueConstraint(fields=["doc_type", "doc_id", "batch"], name="reservation_per_doc_batch"),
            models.CheckConstraint(condition=Q(qty__gt=0), name="reservation_positive"),
        ]

    def __str__(self):
        return f"{self.doc_type}#{self.doc_id} holds {self.qty} of batch {self.batch_id}"


class StockDocument(Versioned):
    """A movement document of the engine: issue, transfer, adjustment, restore, receipt."""

    class Kind(models.TextChoices):
        RECEIPT = "receipt"
        ISSUE = "issue"
        TRANSFER = "transfer"
        ADJUSTMENT = "adjustment"
        RESTORE = "restore"
        POSTING = "posting"

    class Status(models.TextChoices):
        PENDING = "PENDING"
        DONE = "DONE"
        REJECTED = "REJECTED"

    kind = models.CharField(max_length=16, choices=Kind.choices)
    status = models.CharField(max_length=12, choices=Status.choices, default=Status.DONE)
    reason = models.CharField(max_length=300, blank=True)
    lines = models.JSONField(default=list)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )
    decided_at = models.DateTimeField(null=True, blank=True)
    decided_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"{self.kind} #{self.pk}"
