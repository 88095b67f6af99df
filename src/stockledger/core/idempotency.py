"""Idempotency keys: a retry with the same key returns the first result and writes nothing.

One key per request (a request may write many ledger rows). The record is written in the same
transaction as the work, so either both exist or neither does; two concurrent first tries race on
the unique key and the loser returns the winner's result.
"""

import hashlib
import json
from collections.abc import Callable

from django.core.serializers.json import DjangoJSONEncoder
from django.db import IntegrityError, transaction

from .errors import Conflict, ValidationError
from .models import IdempotencyRecord


def fingerprint(payload) -> str:
    raw = json.dumps(payload, sort_keys=True, cls=DjangoJSONEncoder, default=str)
    return hashlib.sha256(raw.encode()).hexdigest()


def _replay(rec: IdempotencyRecord, operation: str, fp: str) -> dict:
    if rec.operation != operation or (fp and rec.fingerprint and rec.fingerprint != fp):
        raise Conflict(
            "This Idempotency-Key was already used for a different request.",
            code="idempotency_key_reused",
            extra={"operation": rec.operation},
        )
    return rec.result


def as_json(result: dict) -> dict:
    """The result as a replay will return it (decimals as strings), so first try and retry agree."""
    return json.loads(json.dumps(result, cls=DjangoJSONEncoder))


def run_once(key: str | None, operation: str, actor, fn: Callable[[], dict], payload=None) -> dict:
    """Run fn() in a transaction once per key and return its result, JSON-normalised.

    The key's record is inserted first, in the same transaction as the work: a retry racing its original
    blocks on the unique key until the original commits, then replays its answer (it never runs the
    work a second time, and never answers 409 for a write that succeeded). The result is filled in at
    the end; a failed try leaves no record, so a retry after an error runs again.
    """
    if not key:
        with transaction.atomic():
            return as_json(fn())
    if len(key) > 128:
        raise ValidationError(
            "Idempotency-Key is longer than 128 characters.", fields={"idempotency_key": ["too long"]}
        )
    fp = fingerprint(payload) if payload is not None else ""
    try:
        with transaction.atomic():
            rec = IdempotencyRecord.objects.create(
                key=key,
                operation=operation,
                fingerprint=fp,
                actor=actor if getattr(actor, "pk", None) else None,
                result={},
            )
            result = as_json(fn())
            IdempotencyRecord.objects.filter(pk=rec.pk).update(result=result)
            return result
    except IntegrityError:
        rec = IdempotencyRecord.objects.filter(key=key).first()
        if rec is None:
            raise
        return _replay(rec, operation, fp)
