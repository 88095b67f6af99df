"""Navigation links by role, for the base template."""

from stockledger.core.roles import can

NAV = [
    # (title, url, action needed) — apps add their screens here as they get them.
]


def nav(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    return {"nav_links": [{"title": t, "url": u} for t, u, action in NAV if can(user, action)]}
