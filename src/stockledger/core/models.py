from django.conf import settings
from django.core.serializers.json import DjangoJSONEncoder
from django.db import models

from .errors import StaleVersion


class Versioned(models.Model):
    """A row whose every write bumps `version` (optimistic locking, DESIGN §3)."""

    version = models.PositiveIntegerField(default=1)

    class Meta:
        abstract = True

    @classmethod
    def update_if_version(cls, pk: int, expected_version: int, message: str | None = None, **fields) -> None:
        """UPDATE ... SET fields, version = version + 1 WHERE pk AND version = expected; 409 if stale."""
        fields["version"] = models.F("version") + 1
        if not cls._default_manager.filter(pk=pk, version=expected_version).update(**fields):
            raise StaleVersion(
                message or f"{cls._meta.verbose_name.capitalize()} was modified, please retry",
                extra={"object": cls._meta.model_name, "id": pk, "expected_version": expected_version},
            )


class AuditLog(models.Model):
    """Who changed what, when, before and after. Append-only (database triggers reject UPDATE/DELETE)."""

    created_at = models.DateTimeField(auto_now_add=True, db_index=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_name = models.CharField(max_length=150, blank=True)
    action = models.CharField(max_length=64, db_index=True)
    object_type = models.CharField(max_length=64)
    object_id = models.CharField(max_length=64, blank=True)
    before = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    after = models.JSONField(null=True, blank=True, encoder=DjangoJSONEncoder)
    request_id = models.CharField(max_length=64, blank=True, db_index=True)
    job_id = models.CharField(max_length=64, blank=True, db_index=True)

    class Meta:
        indexes = [models.Index(fields=["object_type", "object_id"])]
        ordering = ["-id"]

    def __str__(self):
        return f"{self.created_at:%Y-%m-%d %H:%M} {self.actor_name} {self.action} {self.object_type}#{self.object_id}"


class IdempotencyRecord(models.Model):
    """The first result of a request made with an Idempotency-Key; a retry gets it back."""

    key = models.CharField(max_length=128, unique=True)
    operation = models.CharField(max_length=64)
    fingerprint = models.CharField(max_length=64, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    result = models.JSONField(encoder=DjangoJSONEncoder)
    created_at = models.DateTimeField(auto_now_add=True)

    def __str__(self):
        return f"{self.operation} {self.key}"
