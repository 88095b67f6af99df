"""API plumbing shared by every app: the one exception handler, pagination, permission, helpers."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from rest_framework import exceptions as drf
from rest_framework import pagination, permissions
from rest_framework.response import Response

from .errors import DomainError
from .roles import can


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {
            k: _field_errors(v) if isinstance(v, dict) else [str(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in detail.items()
        }
    return {"non_field_errors": [str(x) for x in (detail if isinstance(detail, list) else [detail])]}


def exception_handler(exc, context):
    """Every error leaves the API as {"code", "message", "extra"} with its status."""
    if isinstance(exc, DomainError):
        return Response(exc.as_dict(), status=exc.status)
    if isinstance(exc, Http404):
        exc = drf.NotFound()
    elif isinstance(exc, DjangoPermissionDenied):
        exc = drf.PermissionDenied()
    if not isinstance(exc, drf.APIException):
        return None  # a real bug: let it be a 500 with a traceback in the log
    if isinstance(exc, drf.ValidationError):
        body = {
            "code": "validation_error",
            "message": "The request is not valid.",
            "extra": {"fields": _field_errors(exc.detail)},
        }
    else:
        code = {
            401: "not_authenticated",
            403: "forbidden",
            404: "not_found",
            405: "method_not_allowed",
            415: "unsupported_media_type",
            429: "throttled",
        }.get(exc.status_code, "error")
        if isinstance(exc, drf.NotAuthenticated | drf.AuthenticationFailed):
            code = "not_authenticated"
        body = {"code": code, "message": str(exc.detail), "extra": {}}
    response = Response(body, status=exc.status_code)
    if auth := getattr(exc, "auth_header", None):
        response["WWW-Authenticate"] = auth
    for header in ("WWW-Authenticate", "Retry-After"):
        if header in getattr(exc, "headers", {}):
            response[header] = exc.headers[header]
    return response


class Pagination(pagination.PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 500


class CanRead(permissions.BasePermission):
    """Authenticated and holding any role. Writes are authorised again by the service."""

    def has_permission(self, request, view):
        return bool(request.user and request.user.is_authenticated and can(request.user, "read"))


def idempotency_key(request) -> str | None:
    return request.headers.get("Idempotency-Key") or None
