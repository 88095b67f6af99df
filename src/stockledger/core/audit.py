"""The audit log, written explicitly by services (never by signals: those miss bulk and SQL changes)."""

from collections.abc import Iterable
from dataclasses import dataclass
from typing import Any

from . import context
from .models import AuditLog


@dataclass
class Change:
    action: str
    object_type: str
    object_id: Any
    before: dict | None = None
    after: dict | None = None


def _row(actor, change: Change) -> AuditLog:
    real = actor if getattr(actor, "pk", None) else None
    return AuditLog(
        actor=real,
        actor_name=getattr(actor, "username", "") or (actor if isinstance(actor, str) else "") or "system",
        action=change.action,
        object_type=change.object_type,
        object_id=str(change.object_id or ""),
        before=change.before,
        after=change.after,
        request_id=context.request_id.get() or "",
        job_id=context.job_id.get() or "",
    )


def record(actor, action: str, object_type: str, object_id: Any, before=None, after=None) -> None:
    _row(actor, Change(action, object_type, object_id, before, after)).save()


def record_many(actor, changes: Iterable[Change]) -> int:
    rows = [_row(actor, c) for c in changes]
    AuditLog.objects.bulk_create(rows, batch_size=1000)
    return len(rows)
