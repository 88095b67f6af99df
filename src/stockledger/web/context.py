"""Navigation links by role, for the base template."""

from django.urls import reverse

from stockledger.core.roles import can

NAV = [
    # (title, url name, action needed): a role sees the links of the screens it can use.
    ("Pipes", "web:pipes", "pipes.operate"),
    ("Relief", "web:relief-packages", "relief.prepare"),
    ("Relief", "web:relief-packages", "relief.handover"),
    ("Approvals", "web:relief-approvals", "relief.approve"),
    ("Depot", "web:depot", "ledger.post"),
    ("Sales", "web:sales", "sales.write"),
    ("Reconcile", "web:reconcile", "reconcile.run"),
]


def nav(request):
    user = getattr(request, "user", None)
    if not user or not user.is_authenticated:
        return {}
    links, seen = [], set()
    for title, name, action in NAV:
        url = reverse(name) if ":" in name else name
        if url in seen or not can(user, action):
            continue
        seen.add(url)
        links.append({"title": title, "url": url})
    return {"nav_links": links}
