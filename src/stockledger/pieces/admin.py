"""Pipe stock in the admin: read-only. Stock records, pieces and operations change only through the
services (production, return, cut, split, combine, dispatch, scrap and their reverts)."""

from django.contrib import admin

from stockledger.core.admin import ReadOnlyAdmin

from .models import CutPiece, Operation, OperationLine, SparePiece, Stock


class LineInline(admin.TabularInline):
    model = OperationLine
    fk_name = "operation"
    extra = 0
    can_delete = False
    fields = ["batch", "stock", "stock_type", "units", "qty", "cut_piece", "spare_piece", "source_line"]
    readonly_fields = fields

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(Operation)
class OperationAdmin(ReadOnlyAdmin):
    list_display = ["number", "kind", "status", "op_date", "customer", "created_by", "created_at"]
    list_filter = ["kind", "status"]
    search_fields = ["number", "invoice_number"]
    inlines = [LineInline]


@admin.register(Stock)
class StockAdmin(ReadOnlyAdmin):
    list_display = ["id", "batch", "stock_type", "quantity", "length_per_unit", "pieces_per_bundle", "version"]
    list_filter = ["stock_type"]
    search_fields = ["batch__batch_no"]


@admin.register(CutPiece)
class CutPieceAdmin(ReadOnlyAdmin):
    list_display = ["id", "stock", "length_meters", "status", "created_by_op", "cut_from_piece", "cut_from_stock"]
    list_filter = ["status"]


@admin.register(SparePiece)
class SparePieceAdmin(ReadOnlyAdmin):
    list_display = ["id", "stock", "status", "created_by_op", "split_from_stock", "combined_into"]
    list_filter = ["status"]
