"""Relief documents in the admin: read-only (every change goes through the services, which lock,
move quantities and audit)."""

from django.contrib import admin

from stockledger.core.admin import ReadOnlyAdmin

from .models import ReliefPackage, ReliefPackageLine, ReliefRequest, ReliefRequestLine


class RequestLineInline(admin.TabularInline):
    model = ReliefRequestLine
    extra = 0
    can_delete = False
    readonly_fields = ["item", "requested_qty"]

    def has_add_permission(self, request, obj=None):
        return False


class PackageLineInline(admin.TabularInline):
    model = ReliefPackageLine
    extra = 0
    can_delete = False
    readonly_fields = ["item", "warehouse", "batch", "batch_no", "expiry_date", "qty", "received_batch"]

    def has_add_permission(self, request, obj=None):
        return False


@admin.register(ReliefRequest)
class ReliefRequestAdmin(ReadOnlyAdmin):
    list_display = ["id", "agency", "event", "urgency", "status", "created_at"]
    list_filter = ["status", "urgency"]
    search_fields = ["event", "agency__name"]
    inlines = [RequestLineInline]


@admin.register(ReliefPackage)
class ReliefPackageAdmin(ReadOnlyAdmin):
    list_display = ["tracking_no", "request", "status", "override_flagged", "approved_by", "dispatched_at"]
    list_filter = ["status", "override_flagged"]
    search_fields = ["tracking_no"]
    inlines = [PackageLineInline]
