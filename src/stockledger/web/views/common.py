"""Helpers shared by the web views: role checks, pagination, idempotency keys, and the domain error →
an in-place page message.

A view parses the form, calls one service through `attempt`, and either redirects (success) or renders
the same form again with the error (nothing was written: services are all-or-nothing).
"""

import re
import uuid
from dataclasses import dataclass, field
from functools import wraps

from django.contrib import messages
from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.http import HttpResponse
from django.shortcuts import redirect, render

from stockledger.core.errors import DomainError
from stockledger.core.roles import can

# Names the engine uses for what changed, as a person reads them.
OBJECT_NAMES = {
    "stock": "Stock record",
    "batch": "Batch",
    "relief_package": "Relief package",
    "reliefpackage": "Relief package",
    "relief_request": "Relief request",
    "reliefrequest": "Relief request",
    "invoice": "Invoice",
}


def role_required(action: str):
    """Logged in and allowed `action` (core.roles.PERMISSIONS); otherwise a 403 page."""

    def deco(view):
        @login_required
        @wraps(view)
        def wrapper(request, *args, **kwargs):
            if not can(request.user, action):
                return render(request, "web/403.html", {"action": action}, status=403)
            return view(request, *args, **kwargs)

        return wrapper

    return deco


def paginate(request, qs, per_page: int = 50):
    page = Paginator(qs, per_page).get_page(request.GET.get("page"))
    query = request.GET.copy()
    query.pop("page", None)
    return page, query.urlencode()


def new_key() -> str:
    """A fresh idempotency key for a form: a double submit (or a resubmit after Back) runs once."""
    return uuid.uuid4().hex


def form_key(request) -> str:
    """The form's idempotency key (a failed attempt records nothing, so a corrected resubmit may reuse it)."""
    key = (request.POST.get("idempotency_key") or "").strip()
    return key[:128] or new_key()


@dataclass
class FormError:
    """A DomainError as a form shows it: the engine's message, its field errors, and for a conflict what
    changed and a reload link."""

    message: str
    code: str
    status: int
    fields: list[tuple[str, str]] = field(default_factory=list)
    changed: str = ""
    reload: bool = False

    @classmethod
    def of(cls, err: DomainError) -> "FormError":
        fields = [(name, msg) for name, msgs in (err.extra.get("fields") or {}).items() for msg in _as_list(msgs)]
        out = cls(err.message, err.code, err.status, fields)
        if err.status == 409:
            out.reload = True
            out.changed = what_changed(err)
        return out

    def for_prefix(self, prefix: str) -> list[str]:
        return [msg for name, msg in self.fields if name == prefix or name.startswith(prefix + ".")]


def _as_list(value) -> list:
    return value if isinstance(value, list | tuple) else [value]


def what_changed(err: DomainError) -> str:
    """'Stock record 12 was changed since this page was shown (version 3, now 4).' for a stale version."""
    extra = err.extra or {}
    if err.code == "stale_version" and extra.get("object"):
        name = OBJECT_NAMES.get(str(extra["object"]), str(extra["object"]).replace("_", " ").capitalize())
        text = f"{name} {extra.get('id', '')} was changed by someone else since this page was shown".replace("  ", " ")
        if extra.get("expected_version") is not None and extra.get("current_version") is not None:
            text += f" (version {extra['expected_version']} shown, now {extra['current_version']})"
        elif extra.get("expected_version") is not None:
            text += f" (version {extra['expected_version']} shown)"
        return text + ". Reload to see the current state, then try again."
    if err.code == "stale_version":
        return "Something on this page was changed by someone else. Reload to see the current state."
    if err.code == "idempotency_key_reused":
        return "This form was already submitted with other values. Reload the page to start a new entry."
    return "Reload to see the current state."


def attempt(fn, /, **kwargs):
    """Call one service: (result, None) or (None, FormError). Only DomainError is caught."""
    try:
        return fn(**kwargs), None
    except DomainError as err:
        return None, FormError.of(err)


def render_form(request, template: str, context: dict, error: FormError | None = None):
    """The form page, with the error in place and its HTTP status (400, 403, 404 or 409)."""
    context = {**context, "error": error}
    context.setdefault("idempotency_key", form_key(request) if request.method == "POST" else new_key())
    current = request.htmx.current_url if request.htmx else None
    # "Reload this page": the page the user looks at (an action URL answers POST only).
    context["reload_url"] = current or context.get("reload_url") or request.get_full_path()
    return render(request, template, context, status=error.status if error else 200)


def done(request, message: str, to: str):
    """Success: a flash message and a redirect (an htmx request gets HX-Location, so it navigates)."""
    messages.success(request, message)
    if request.htmx:
        response = HttpResponse(status=204)
        response["HX-Location"] = to
        return response
    return redirect(to)


def rows(post, prefix: str, names: tuple[str, ...]) -> list[tuple[int, dict]]:
    """Repeated form rows named `<prefix>-<n>-<name>`: [(n, {name: value})], rows that are all blank left out."""
    found: dict[int, dict] = {}
    pattern = re.compile(rf"^{re.escape(prefix)}-(\d+)-(\w+)$")
    for key in post:
        m = pattern.match(key)
        if m and m.group(2) in names:
            found.setdefault(int(m.group(1)), {})[m.group(2)] = post.get(key, "").strip()
    out = []
    for n in sorted(found):
        values = {name: found[n].get(name, "") for name in names}
        if any(values.values()):
            out.append((n, values))
    return out


def blank(value) -> bool:
    return value is None or str(value).strip() == ""


def or_none(value):
    return None if blank(value) else str(value).strip()


def int_or_none(value):
    try:
        return int(str(value).strip())
    except (TypeError, ValueError):
        return None
