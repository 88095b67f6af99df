"""The one application error type, and its few subclasses that carry an HTTP status.

Services raise these; one DRF exception handler (core.api) and the web views turn them into
{"code", "message", "extra"}. Nothing else decides an error's shape.
"""

from typing import Any


class DomainError(Exception):
    status = 409
    code = "conflict"
    default_message = "The request conflicts with the current state."

    def __init__(self, message: str | None = None, *, code: str | None = None, extra: dict[str, Any] | None = None):
        self.message = message or self.default_message
        if code:
            self.code = code
        self.extra = extra or {}
        super().__init__(self.message)

    def as_dict(self) -> dict[str, Any]:
        return {"code": self.code, "message": self.message, "extra": self.extra}


class ValidationError(DomainError):
    """Bad input: 400, field errors in extra["fields"]."""

    status = 400
    code = "validation_error"
    default_message = "The request is not valid."

    def __init__(self, message: str | None = None, *, fields: dict[str, list[str]] | None = None, **kw):
        extra = kw.pop("extra", None) or {}
        if fields:
            extra["fields"] = fields
        super().__init__(message, extra=extra, **kw)


class NotFound(DomainError):
    status = 404
    code = "not_found"
    default_message = "Not found."


class PermissionDenied(DomainError):
    status = 403
    code = "forbidden"
    default_message = "You are not allowed to do this."


class Conflict(DomainError):
    status = 409
    code = "conflict"


class StaleVersion(Conflict):
    code = "stale_version"
    default_message = "Batch was modified, please retry"


class InsufficientStock(Conflict):
    code = "insufficient_stock"
    default_message = "Not enough stock."
