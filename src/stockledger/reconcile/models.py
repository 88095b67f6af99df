from django.conf import settings
from django.db import models
from django.utils import timezone


class RecomputeRun(models.Model):
    """One recompute, as a stored document: who, when, what scope, how far, what it changed.

    Its audit rows are the AuditLog rows with action "recompute.repair" and job_id = str(id).
    """

    class Status(models.TextChoices):
        RUNNING = "running"
        DONE = "done"
        FAILED = "failed"

    started_at = models.DateTimeField(default=timezone.now, db_index=True)
    finished_at = models.DateTimeField(null=True, blank=True)
    actor = models.ForeignKey(settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.PROTECT)
    actor_name = models.CharField(max_length=150, blank=True)
    dry_run = models.BooleanField(default=False)
    scope = models.JSONField(default=list, help_text="invariant ids; empty = all")
    status = models.CharField(max_length=10, choices=Status.choices, default=Status.RUNNING)
    chunk_size = models.PositiveIntegerField(default=0)
    rows_checked = models.PositiveBigIntegerField(default=0)
    rows_changed = models.PositiveBigIntegerField(default=0)
    checkpoint = models.BigIntegerField(null=True, blank=True, help_text="last item id done")
    summary = models.JSONField(default=dict, help_text="per invariant: drift, changed, skipped")
    error = models.TextField(blank=True)

    class Meta:
        ordering = ["-id"]

    def __str__(self):
        kind = "dry run" if self.dry_run else "recompute"
        return f"{kind} #{self.pk} {self.status} ({self.rows_changed} changed)"

    @property
    def job_id(self) -> str:
        return str(self.pk)
