from django.contrib import admin

from stockledger.core.admin import AuditedAdmin

from .models import Customer, Item, ProductType, Warehouse, WarehouseAssignment


@admin.register(ProductType)
class ProductTypeAdmin(AuditedAdmin):
    list_display = ["code", "name", "base_unit", "unit_decimals", "has_stock_forms", "batch_tracked"]


@admin.register(Item)
class ItemAdmin(AuditedAdmin):
    list_display = ["sku", "name", "product_type", "issuance_order", "can_expire", "active"]
    list_filter = ["product_type", "issuance_order", "active"]
    search_fields = ["sku", "name"]
    readonly_fields = ["variant_key", "version"]


@admin.register(Warehouse)
class WarehouseAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "active"]
    readonly_fields = ["version"]


@admin.register(Customer)
class CustomerAdmin(AuditedAdmin):
    list_display = ["code", "name", "kind", "active"]
    readonly_fields = ["version"]


@admin.register(WarehouseAssignment)
class WarehouseAssignmentAdmin(AuditedAdmin):
    list_display = ["user", "warehouse"]
