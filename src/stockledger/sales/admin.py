from django.contrib import admin

from stockledger.core.admin import AuditedAdmin, ReadOnlyAdmin

from .models import Invoice, InvoiceCounter, LineItem, LpgProduct, SalesTransaction


@admin.register(LpgProduct)
class LpgProductAdmin(AuditedAdmin):
    list_display = ["code", "name", "size_kg", "full_item", "empty_item", "active"]


class LineItemInline(admin.TabularInline):
    model = LineItem
    extra = 0
    can_delete = False

    def has_add_permission(self, request, obj=None):
        return False

    def has_change_permission(self, request, obj=None):
        return False


@admin.register(SalesTransaction)
class SalesTransactionAdmin(ReadOnlyAdmin):
    """Sales are recorded through the API or the web forms (services): read-only here."""

    list_display = ["number", "created_at", "customer", "depot", "total_amount", "user"]
    list_filter = ["depot"]
    search_fields = ["number", "customer__name"]
    inlines = [LineItemInline]


@admin.register(Invoice)
class InvoiceAdmin(ReadOnlyAdmin):
    list_display = ["number", "status", "total_amount", "issued_at", "transaction"]
    list_filter = ["status", "year"]
    search_fields = ["number"]


@admin.register(InvoiceCounter)
class InvoiceCounterAdmin(ReadOnlyAdmin):
    list_display = ["year", "last_number"]
