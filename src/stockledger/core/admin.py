from django.contrib import admin
from django.forms.models import model_to_dict

from . import audit
from .models import AuditLog, IdempotencyRecord


class ReadOnlyAdmin(admin.ModelAdmin):
    def has_add_permission(self, request):
        return False

    def has_change_permission(self, request, obj=None):
        return False

    def has_delete_permission(self, request, obj=None):
        return False


class AuditedAdmin(admin.ModelAdmin):
    """Reference data edited in the admin is audited like any other change."""

    def save_model(self, request, obj, form, change):
        name = obj._meta.model_name
        before = None
        if change:
            before = model_to_dict(type(obj).objects.get(pk=obj.pk))
        if change and hasattr(obj, "version"):
            obj.version += 1
        super().save_model(request, obj, form, change)
        audit.record(
            request.user,
            f"{name}.{'update' if change else 'create'}",
            name,
            obj.pk,
            before,
            model_to_dict(obj),
        )

    def delete_model(self, request, obj):
        name, pk, before = obj._meta.model_name, obj.pk, model_to_dict(obj)
        super().delete_model(request, obj)
        audit.record(request.user, f"{name}.delete", name, pk, before, None)

    def get_readonly_fields(self, request, obj=None):
        ro = list(super().get_readonly_fields(request, obj))
        return ro + (["version"] if hasattr(self.model, "version") and "version" not in ro else [])


@admin.register(AuditLog)
class AuditLogAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "actor_name", "action", "object_type", "object_id", "request_id", "job_id"]
    list_filter = ["action", "object_type"]
    search_fields = ["object_id", "actor_name", "request_id", "job_id"]


@admin.register(IdempotencyRecord)
class IdempotencyRecordAdmin(ReadOnlyAdmin):
    list_display = ["created_at", "operation", "key", "actor"]
