"""API plumbing shared by every app: the one exception handler, pagination, permission, helpers."""

from django.core.exceptions import PermissionDenied as DjangoPermissionDenied
from django.http import Http404
from django.utils.datastructures import MultiValueDict
from rest_framework import exceptions as drf
from rest_framework import pagination, parsers, permissions
from rest_framework.renderers import BrowsableAPIRenderer, JSONRenderer
from rest_framework.response import Response

from .errors import DomainError, ValidationError
from .roles import can

# The largest primary key (BigAutoField): an id above it names nothing, and the database drivers
# refuse it (SQLite overflows, PostgreSQL raises), so inputs are bounded by it.
MAX_ID = 2**63 - 1


def _field_errors(detail) -> dict:
    if isinstance(detail, dict):
        return {
            k: _field_errors(v) if isinstance(v, dict) else [str(x) for x in (v if isinstance(v, list) else [v])]
            for k, v in detail.items()
        }
    return {"non_field_errors": [str(x) for x in (detail if isinstance(detail, list) else [detail])]}


def exception_handler(exc, context):
    """Every error leaves the API as {"code", "message", "extra"} with its status, as JSON."""
    response = _error_response(exc)
    request = context.get("request")
    # A document endpoint (?format=pdf, ?format=html) still answers an error in JSON, not in the
    # document's content type; the browsable API keeps its own page.
    renderer = getattr(request, "accepted_renderer", None)
    if response is not None and request is not None and not isinstance(renderer, JSONRenderer | BrowsableAPIRenderer):
        request.accepted_renderer, request.accepted_media_type = JSONRenderer(), JSONRenderer.media_type
    return response


def _error_response(exc):
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


def _nul_free(value) -> bool:
    if isinstance(value, str):
        return "\x00" not in value
    if isinstance(value, MultiValueDict):
        return all(_nul_free(k) and all(_nul_free(v) for v in vs) for k, vs in value.lists())
    if isinstance(value, dict):
        return all(_nul_free(k) and _nul_free(v) for k, v in value.items())
    if isinstance(value, list | tuple):
        return all(_nul_free(v) for v in value)
    return True


def refuse_nul(data) -> None:
    """A 400 when any text in `data` holds a NUL character: no database stores NUL in text (PostgreSQL
    raises on it), so it must not get as far as a query."""
    if not _nul_free(data):
        raise ValidationError("Text must not contain NUL (\\u0000) characters.")


class _NulFree:
    """Every request body is checked by refuse_nul() as it is parsed (some views pass bodies on without a
    serializer). Text a serializer decodes further (JSON sent in a form field) is checked by its view."""

    def parse(self, stream, media_type=None, parser_context=None):
        parsed = super().parse(stream, media_type, parser_context)
        refuse_nul(getattr(parsed, "data", parsed))
        return parsed


class JSONParser(_NulFree, parsers.JSONParser):
    pass


class FormParser(_NulFree, parsers.FormParser):
    pass


class MultiPartParser(_NulFree, parsers.MultiPartParser):
    pass


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


# --- the error responses in the OpenAPI schema ---------------------------------------------------

# The one error body: exception_handler above produces it, and so does core.views.not_found (config.urls).
ERROR_SCHEMA = {
    "type": "object",
    "properties": {
        "code": {"type": "string", "description": "machine-readable reason, e.g. validation_error, stale_version"},
        "message": {"type": "string"},
        "extra": {
            "type": "object",
            "additionalProperties": {},
            "description": "details; for a 400, the field errors under extra.fields",
        },
    },
    "required": ["code", "message", "extra"],
}
ERROR_DESCRIPTIONS = {
    400: "Bad input; field errors in extra.fields.",
    401: "No credentials, or credentials that are not valid.",
    403: "Role or warehouse not allowed.",
    404: "Unknown object (or page).",
    409: "Business-rule conflict or stale version.",
    415: "Unsupported request Content-Type.",
}
_WRITES = {"post", "put", "patch", "delete"}


def _error_codes(operation: dict, method: str, view) -> set[int]:
    """The error statuses this operation can answer with, from what it takes and who may call it."""
    params = operation.get("parameters", [])
    has_body = "requestBody" in operation
    codes = set()
    if has_body or any(p["in"] in ("query", "header") for p in params):
        codes.add(400)
    if view is None or view.authentication_classes:
        codes.add(401)  # a token that is not valid is refused before anything else
    if view is None or view.permission_classes:
        codes.add(403)
    if has_body or any(p["in"] == "path" or p["name"] in ("page", "cursor") for p in params):
        codes.add(404)  # an unknown id (in the path or named by the body), or a page past the end
    if method in _WRITES and (view is None or view.permission_classes):
        codes.add(409)  # (not the open token endpoint, which only answers 400)
    if has_body:
        codes.add(415)
    return codes


def document_error_responses(result, generator, request, public):
    """drf-spectacular postprocessing hook: every operation documents its error responses with the
    shared Error body (components/schemas/Error), so clients and the schemathesis run can rely on it.

    Responses a view declares itself keep their description; one declared without a body gets the
    Error body.
    """
    result.setdefault("components", {}).setdefault("schemas", {})["Error"] = ERROR_SCHEMA
    error_body = {"application/json": {"schema": {"$ref": "#/components/schemas/Error"}}}
    views = {}
    for path, _, method, callback in generator.endpoints or []:
        view = generator.create_view(callback, method)
        views[generator.coerce_path(path, method, view), method.lower()] = view
    for path, item in result.get("paths", {}).items():
        for method, operation in item.items():
            if method not in ("get", "post", "put", "patch", "delete"):
                continue
            responses = operation.setdefault("responses", {})
            for code in sorted(_error_codes(operation, method, views.get((path, method)))):
                response = responses.setdefault(str(code), {})
                response.setdefault("description", "")
                if not response["description"]:
                    response["description"] = ERROR_DESCRIPTIONS[code]
                response.setdefault("content", error_body)
    return result
