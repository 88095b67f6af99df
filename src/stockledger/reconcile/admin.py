from django.contrib import admin
from django.urls import reverse
from django.utils.html import format_html

from .models import RecomputeRun


@admin.register(RecomputeRun)
class RecomputeRunAdmin(admin.ModelAdmin):
    """Runs are documents written by recompute only: read-only here, with a link to their audit rows."""

    list_display = [
        "id",
        "started_at",
        "finished_at",
        "actor_name",
        "dry_run",
        "status",
        "rows_checked",
        "rows_changed",
    ]
    list_filter = ["status", "dry_run"]
    readonly_fields = [f.name for f in RecomputeRun._meta.fields] + ["audit_rows"]

    @admin.display(description="audit rows")
    def audit_rows(self, obj):
        url = reverse("admin:core_auditlog_changelist") + f"?job_id={obj.pk}&action=recompute.repair"
        return format_html('<a href="{}">AuditLog job_id={}</a>', url, obj.pk)

    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False
