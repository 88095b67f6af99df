"""Helpers shared by the web views: role checks, pagination, the domain error → page message."""

from functools import wraps

from django.contrib.auth.decorators import login_required
from django.core.paginator import Paginator
from django.shortcuts import render

from stockledger.core.roles import can


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
