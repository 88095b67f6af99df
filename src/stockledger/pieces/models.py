"""Pipe stock forms: stock records (`inventory_stock`), cut and spare pieces, and the operations
(production, return, cut, split, combine, dispatch, scrap and their reverts) that create and move them.

Quantities (DESIGN §1): pieces IN_STOCK --count / Σ length--> stock record quantity --Σ totals--> batch
usable_qty. The CUT_ROLL / SPARE quantity is kept by the database trigger `auto_update_stock_quantity`
(migration 0002); FULL_ROLL / BUNDLE quantities are written by the services with F(); the batch moves
only through the stock engine. Nothing here is edited by hand: the admin and the API are read-only.
"""

from django.conf import settings
from django.db import models
from django.db.models import Q

from stockledger.catalog.models import Customer
from stockledger.core.models import Versioned
from stockledger.stock.models import QTY, Batch


class StockType(models.TextChoices):
    FULL_ROLL = "FULL_ROLL"
    CUT_ROLL = "CUT_ROLL"
    BUNDLE = "BUNDLE"
    SPARE = "SPARE"


# Stock types whose quantity is the count of their IN_STOCK pieces (kept by the trigger).
PIECE_TYPES = (StockType.CUT_ROLL, StockType.SPARE)


class PieceStatus(models.TextChoices):
    IN_STOCK = "IN_STOCK"
    DISPATCHED = "DISPATCHED"
    SOLD_OUT = "SOLD_OUT"  # dispatched, and its dispatch closed: no longer returnable
    SCRAPPED = "SCRAPPED"
    CUT = "CUT"  # cut into two pieces (both point back to it)
    COMBINED = "COMBINED"  # a spare combined into a bundle
    REVERTED = "REVERTED"  # a piece of a reverted return


class Operation(Versioned):
    """One pipe operation: the document every ledger row (doc_type pipe_*) and every piece points to."""

    class Kind(models.TextChoices):
        PRODUCTION = "PRODUCTION"
        RETURN = "RETURN"
        CUT = "CUT"
        SPLIT = "SPLIT"
        COMBINE = "COMBINE"
        DISPATCH = "DISPATCH"
        SCRAP = "SCRAP"
        SCRAP_REVERT = "SCRAP_REVERT"
        RETURN_REVERT = "RETURN_REVERT"
        DISPATCH_CLOSE = "DISPATCH_CLOSE"

    class Status(models.TextChoices):
        DONE = "DONE"
        REVERTED = "REVERTED"  # a scrap or return that was reverted
        CLOSED = "CLOSED"  # a dispatch whose items are sold out (no longer returnable)

    PREFIX = {
        Kind.PRODUCTION: "PRD",
        Kind.RETURN: "RET",
        Kind.CUT: "CUT",
        Kind.SPLIT: "SPL",
        Kind.COMBINE: "CMB",
        Kind.DISPATCH: "DSP",
        Kind.SCRAP: "SCR",
        Kind.SCRAP_REVERT: "SRV",
        Kind.RETURN_REVERT: "RRV",
        Kind.DISPATCH_CLOSE: "DCL",
    }

    kind = models.CharField(max_length=16, choices=Kind.choices)
    number = models.CharField(max_length=32, unique=True, help_text="e.g. DSP-2026-000123")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.DONE)
    op_date = models.DateField(help_text="production, return, dispatch or scrap date")
    customer = models.ForeignKey(Customer, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    invoice_number = models.CharField(max_length=64, blank=True, default="")
    reason = models.CharField(max_length=300, blank=True, default="")
    # A revert points to what it reverts; a dispatch revert is a RETURN pointing to its dispatch.
    reverts = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="reverted_by")
    details = models.JSONField(default=dict, blank=True)
    created_at = models.DateTimeField(auto_now_add=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT, related_name="+"
    )

    class Meta:
        db_table = "pipe_operations"
        ordering = ["-id"]
        indexes = [models.Index(fields=["kind", "status"])]

    def __str__(self):
        return self.number


class Stock(Versioned):
    """A stock record of a batch: FULL_ROLL (rolls of length_per_unit metres), CUT_ROLL (its cut pieces),
    BUNDLE (bundles of pieces_per_bundle pieces) or SPARE (its spare pieces)."""

    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="pipe_stocks")
    stock_type = models.CharField(max_length=10, choices=StockType.choices)
    quantity = models.PositiveIntegerField(default=0, help_text="rolls, bundles, or IN_STOCK pieces (trigger)")
    length_per_unit = models.DecimalField(**QTY, null=True, blank=True, help_text="metres per roll (FULL_ROLL)")
    pieces_per_bundle = models.PositiveIntegerField(null=True, blank=True, help_text="pieces per bundle (BUNDLE)")
    # = stock_type for CUT_ROLL and SPARE, NULL otherwise: one CUT_ROLL and one SPARE record per batch
    # (a unique constraint on a nullable column works on every backend; conditional ones do not on MariaDB).
    piece_slot = models.CharField(max_length=10, null=True, blank=True, editable=False)
    created_by_op = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="created_stocks")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        db_table = "inventory_stock"
        ordering = ["batch_id", "id"]
        constraints = [
            models.CheckConstraint(condition=Q(quantity__gte=0), name="stock_quantity_nonneg"),
            models.CheckConstraint(
                condition=Q(length_per_unit__isnull=True) | Q(length_per_unit__gt=0), name="stock_length_positive"
            ),
            models.CheckConstraint(
                condition=Q(pieces_per_bundle__isnull=True) | Q(pieces_per_bundle__gt=0),
                name="stock_bundle_size_positive",
            ),
            models.CheckConstraint(
                condition=(
                    Q(stock_type=StockType.FULL_ROLL, length_per_unit__isnull=False, pieces_per_bundle__isnull=True)
                    | Q(stock_type=StockType.BUNDLE, pieces_per_bundle__isnull=False, length_per_unit__isnull=True)
                    | Q(
                        stock_type__in=PIECE_TYPES,
                        length_per_unit__isnull=True,
                        pieces_per_bundle__isnull=True,
                    )
                ),
                name="stock_type_fields",
            ),
            models.CheckConstraint(
                condition=Q(stock_type__in=PIECE_TYPES, piece_slot=models.F("stock_type"))
                | Q(stock_type__in=[StockType.FULL_ROLL, StockType.BUNDLE], piece_slot__isnull=True),
                name="stock_piece_slot",
            ),
            models.UniqueConstraint(fields=["batch", "piece_slot"], name="stock_one_piece_record_per_batch"),
        ]

    def __str__(self):
        return f"{self.stock_type} #{self.pk} of batch {self.batch_id}"


class Piece(models.Model):
    """What cut and spare pieces share. `created_by_op` and lineage never change (a database trigger
    refuses it); `status` and `status_op` (the operation that last changed it) do."""

    status = models.CharField(max_length=12, choices=PieceStatus.choices, default=PieceStatus.IN_STOCK)
    created_by_op = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="+")
    status_op = models.ForeignKey(Operation, null=True, blank=True, on_delete=models.PROTECT, related_name="+")
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        abstract = True
        ordering = ["id"]


class CutPiece(Piece):
    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, related_name="cut_pieces")
    length_meters = models.DecimalField(**QTY)
    cut_from_piece = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="cut_into")
    cut_from_stock = models.ForeignKey(
        Stock, null=True, blank=True, on_delete=models.PROTECT, related_name="rolls_cut", help_text="FULL_ROLL record"
    )

    class Meta(Piece.Meta):
        db_table = "hdpe_cut_pieces"
        constraints = [models.CheckConstraint(condition=Q(length_meters__gt=0), name="cut_piece_length_positive")]
        indexes = [models.Index(fields=["stock", "status"], name="cut_piece_stock_status")]

    def __str__(self):
        return f"cut piece #{self.pk} {self.length_meters}m {self.status}"


class SparePiece(Piece):
    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, related_name="spare_pieces")
    piece_count = models.PositiveSmallIntegerField(default=1)
    split_from_stock = models.ForeignKey(
        Stock, null=True, blank=True, on_delete=models.PROTECT, related_name="bundles_split", help_text="BUNDLE record"
    )
    combined_into = models.ForeignKey(
        Stock, null=True, blank=True, on_delete=models.PROTECT, related_name="combined_spares"
    )

    class Meta(Piece.Meta):
        db_table = "sprinkler_spare_pieces"
        constraints = [models.CheckConstraint(condition=Q(piece_count=1), name="spare_piece_count_one")]
        indexes = [models.Index(fields=["stock", "status"], name="spare_piece_stock_status")]

    def __str__(self):
        return f"spare piece #{self.pk} {self.status}"


class OperationLine(models.Model):
    """What an operation took from or put into one stock record: `units` rolls / bundles, or one piece.

    Production and return lines name the records they created; dispatch and scrap lines what they took
    (one line per piece); a dispatch revert's lines point to the dispatch lines they return (`source_line`).
    """

    operation = models.ForeignKey(Operation, on_delete=models.PROTECT, related_name="lines")
    batch = models.ForeignKey(Batch, on_delete=models.PROTECT, related_name="+")
    stock = models.ForeignKey(Stock, on_delete=models.PROTECT, related_name="op_lines")
    stock_type = models.CharField(max_length=10, choices=StockType.choices)
    units = models.PositiveIntegerField(help_text="rolls, bundles or pieces")
    qty = models.DecimalField(**QTY, help_text="in the item's base unit (metres or pieces)")
    length_per_unit = models.DecimalField(**QTY, null=True, blank=True)
    pieces_per_bundle = models.PositiveIntegerField(null=True, blank=True)
    cut_piece = models.ForeignKey(CutPiece, null=True, blank=True, on_delete=models.PROTECT, related_name="op_lines")
    spare_piece = models.ForeignKey(
        SparePiece, null=True, blank=True, on_delete=models.PROTECT, related_name="op_lines"
    )
    source_line = models.ForeignKey("self", null=True, blank=True, on_delete=models.PROTECT, related_name="returns")

    class Meta:
        db_table = "pipe_operation_lines"
        ordering = ["id"]
        constraints = [
            models.CheckConstraint(condition=Q(units__gt=0), name="op_line_units_positive"),
            models.CheckConstraint(condition=Q(qty__gt=0), name="op_line_qty_positive"),
        ]

    def __str__(self):
        return f"{self.operation_id}: {self.units} × {self.stock_type} of stock {self.stock_id}"
