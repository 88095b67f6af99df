"""Relief requests and relief packages.

A package's allocations before dispatch are the stock engine's Reservation rows
(doc_type "relief_package", doc_id = package pk): there is no second copy of those quantities here.
At dispatch the consumed allocations are written once into ReliefPackageLine, the history the
waybill and the request's fulfilment are read from.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from stockledger.catalog.models import Customer, Item, Warehouse
from stockledger.core.models import Versioned
from stockledger.stock.models import QTY, Batch

DOC_TYPE = "relief_package"
USER = {"to": settings.AUTH_USER_MODEL, "null": True, "blank": True, "on_delete": models.PROTECT, "related_name": "+"}


class ReliefRequest(Versioned):
    class Status(models.TextChoices):
        DRAFT = "DRAFT", "Draft"
        SUBMITTED = "SUBMITTED", "Submitted"
        PARTLY_FULFILLED = "PARTLY_FULFILLED", "Partly fulfilled"
        FULFILLED = "FULFILLED", "Fulfilled"
        CANCELLED = "CANCELLED", "Cancelled"

    class Urgency(models.TextChoices):
        LOW = "LOW", "Low"
        MEDIUM = "MEDIUM", "Medium"
        HIGH = "HIGH", "High"
        CRITICAL = "CRITICAL", "Critical"

    agency = models.ForeignKey(Customer, on_delete=models.PROTECT, related_name="relief_requests")
    event = models.CharField(max_length=200)
    urgency = models.CharField(max_length=10, choices=Urgency.choices, default=Urgency.MEDIUM)
    status = models.CharField(max_length=20, choices=Status.choices, default=Status.DRAFT)
    notes = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(**USER)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(**USER)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(**USER)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"Relief request #{self.pk} ({self.agency})"


class ReliefRequestLine(models.Model):
    request = models.ForeignKey(ReliefRequest, on_delete=models.CASCADE, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    requested_qty = models.DecimalField(**QTY)

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["request", "item"], name="relief_request_item_unique"),
            models.CheckConstraint(condition=Q(requested_qty__gt=0), name="relief_requested_positive"),
        ]

    def __str__(self):
        return f"{self.requested_qty} × {self.item}"


class ReliefPackage(Versioned):
    class Status(models.TextChoices):
        BEING_PREPARED = "BEING_PREPARED", "Being Prepared"
        AWAITING_APPROVAL = "AWAITING_LM_APPROVAL", "Awaiting LM Approval"
        DISPATCHED = "DISPATCHED", "Dispatched"
        RECEIVED = "RECEIVED", "Received"
        CANCELLED = "CANCELLED", "Cancelled"

    OPEN = (Status.BEING_PREPARED, Status.AWAITING_APPROVAL)
    SENT = (Status.DISPATCHED, Status.RECEIVED)

    request = models.ForeignKey(ReliefRequest, on_delete=models.PROTECT, related_name="packages")
    tracking_no = models.CharField(max_length=32, unique=True)
    status = models.CharField(max_length=24, choices=Status.choices, default=Status.BEING_PREPARED)
    destination_warehouse = models.ForeignKey(
        Warehouse,
        null=True,
        blank=True,
        on_delete=models.PROTECT,
        related_name="+",
        help_text="set when the destination is a warehouse in the system: receipt brings the goods in there",
    )
    notes = models.TextField(blank=True)
    # Allocation-order override: the chosen batches differ from the FEFO/FIFO/LIFO plan.
    override_flagged = models.BooleanField(default=False)
    override_details = models.JSONField(default=dict, blank=True)
    override_reason = models.TextField(blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(**USER)
    prepared_at = models.DateTimeField(null=True, blank=True)
    prepared_by = models.ForeignKey(**USER)
    submitted_at = models.DateTimeField(null=True, blank=True)
    submitted_by = models.ForeignKey(**USER)
    approved_at = models.DateTimeField(null=True, blank=True)
    approved_by = models.ForeignKey(**USER)
    dispatched_at = models.DateTimeField(null=True, blank=True)
    dispatched_by = models.ForeignKey(**USER)
    handed_over_at = models.DateTimeField(null=True, blank=True)
    handed_over_by = models.ForeignKey(**USER)
    received_at = models.DateTimeField(null=True, blank=True)
    received_by = models.ForeignKey(**USER)
    cancelled_at = models.DateTimeField(null=True, blank=True)
    cancelled_by = models.ForeignKey(**USER)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        return f"Relief package {self.tracking_no}"


class ReliefPackageLine(models.Model):
    """One dispatched allocation, written at dispatch from the consumed reservation (history, waybill)."""

    package = models.ForeignKey(ReliefPackage, on_delete=models.PROTECT, related_name="lines")
    item = models.ForeignKey(Item, on_delete=models.PROTECT, related_name="+")
    warehouse = models.ForeignKey(Warehouse, on_delete=models.PROTECT, related_name="+")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    batch_no = models.CharField(max_length=64)
    expiry_date = models.DateField(null=True, blank=True)
    qty = models.DecimalField(**QTY)
    received_batch = models.ForeignKey(Batch, null=True, blank=True, on_delete=models.PROTECT, related_name="+")

    class Meta:
        ordering = ["id"]
        constraints = [
            models.UniqueConstraint(fields=["package", "batch"], name="relief_line_per_batch"),
            models.CheckConstraint(condition=Q(qty__gt=0), name="relief_line_qty_positive"),
        ]

    def __str__(self):
        return f"{self.qty} of batch #{self.batch_no}"
