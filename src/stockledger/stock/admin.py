from django.contrib import admin

from stockledger.core.admin import ReadOnlyAdmin

from .models import Batch, Inventory, LedgerEntry, Reservation, StockDocument


@admin.register(Batch)
class BatchAdmin(ReadOnlyAdmin):
    list_display = [
        "batch_no",
        "item",
        "warehouse",
        "origin",
        "expiry_date",
        "initial_qty",
        "usable_qty",
        "reserved_qty",
        "status",
    ]
    list_filter = ["status", "origin", "warehouse"]
    search_fields = ["batch_no", "batch_code"]


@admin.register(Inventory)
class InventoryAdmin(ReadOnlyAdmin):
    list_display = ["item", "warehouse", "holder", "usable_qty", "reserved_qty", "reorder_qty", "last_updated"]
    list_filter = ["warehouse"]


@admin.register(LedgerEntry)
class LedgerEntryAdmin(ReadOnlyAdmin):
    list_display = [
        "id",
        "created_at",
        "kind",
        "item",
        "warehouse",
        "holder",
        "batch",
        "qty_delta",
        "reserved_delta",
        "doc_type",
        "doc_id",
        "actor",
    ]
    list_filter = ["kind", "doc_type"]


@admin.register(Reservation)
class ReservationAdmin(ReadOnlyAdmin):
    list_display = ["doc_type", "doc_id", "batch", "qty", "updated_at"]


@admin.register(StockDocument)
class StockDocumentAdmin(ReadOnlyAdmin):
    list_display = ["id", "kind", "status", "created_at", "created_by", "decided_by"]
    list_filter = ["kind", "status"]
