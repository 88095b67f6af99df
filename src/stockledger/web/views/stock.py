"""Dashboard, inventory list, batch detail with ledger history, stock chart, audit trail."""

from collections import OrderedDict
from datetime import timedelta
from decimal import Decimal

from django.db.models import F, Sum
from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.utils import timezone

from stockledger.catalog.models import Item, Warehouse
from stockledger.catalog.selectors import item_sort_key
from stockledger.core.models import AuditLog
from stockledger.core.roles import can, roles_of
from stockledger.pieces.display import variant_label
from stockledger.stock.models import Batch, Inventory, LedgerEntry

from .common import paginate, role_required
from .filters import AuditFilter, InventoryPageFilter
from .pipes import pipe_batch_block


@role_required("read")
def dashboard(request):
    """What needs me: cards by role (DASHBOARD_HOOKS), batches expiring in 30 days, stock below reorder level."""
    today = timezone.localdate()
    expiring = (
        Batch.objects.select_related("item__product_type", "warehouse")
        .filter(
            status=Batch.Status.ACTIVE,
            usable_qty__gt=0,
            expiry_date__gte=today,
            expiry_date__lte=today + timedelta(days=30),
        )
        .order_by("expiry_date", "pk")
    )
    low = (
        Inventory.objects.select_related("item__product_type", "warehouse", "holder")
        .filter(reorder_qty__gt=0, usable_qty__lt=F("reorder_qty"))
        .order_by("item__name", "pk")
    )
    cards = []
    for hook in DASHBOARD_HOOKS:
        try:
            cards.extend(hook(request) or [])
        except ImportError:  # the app providing the card is not installed
            continue
    return render(
        request,
        "web/dashboard.html",
        {
            "roles": sorted(roles_of(request.user)),
            "expiring": expiring[:20],
            "expiring_count": expiring.count(),
            "low": low[:20],
            "low_count": low.count(),
            "cards": cards,
            "actions": [a for a in QUICK_ACTIONS if can(request.user, a[2])],
            "today": today,
        },
    )


# (title, url name, action): the buttons a role sees first on its dashboard.
QUICK_ACTIONS = [
    ("Record production", "web:pipe-production", "pipes.operate"),
    ("Dispatch pipes", "web:pipe-dispatch", "pipes.operate"),
    ("Customer return", "web:pipe-return", "pipes.operate"),
    ("New relief request", "web:relief-request-new", "relief.prepare"),
    ("Approval queue", "web:relief-approvals", "relief.approve"),
    ("New sale", "web:sale-new", "sales.write"),
    ("Ledger posting", "web:ledger-post", "ledger.post"),
    ("Verify and recompute", "web:reconcile", "reconcile.run"),
]


def _relief_cards(request):
    from stockledger.relief.models import ReliefPackage  # noqa: PLC0415

    S = ReliefPackage.Status
    packages = reverse("web:relief-packages")
    cards = []
    if can(request.user, "relief.approve"):
        n = ReliefPackage.objects.filter(status=S.AWAITING_APPROVAL).count()
        cards.append({"title": "packages awaiting LM approval", "count": n, "url": reverse("web:relief-approvals")})
    if can(request.user, "relief.prepare"):
        n = ReliefPackage.objects.filter(status=S.BEING_PREPARED).count()
        cards.append({"title": "packages being prepared", "count": n, "url": f"{packages}?status={S.BEING_PREPARED}"})
    if can(request.user, "relief.handover"):
        n = ReliefPackage.objects.filter(status=S.DISPATCHED, handed_over_at__isnull=True).count()
        cards.append(
            {"title": "dispatched packages to hand over", "count": n, "url": f"{packages}?status={S.DISPATCHED}"}
        )
    return cards


def _drift_card(request):
    """Drift found by the last check (a verify inside a recompute run, dry or not), for who can repair it."""
    if not can(request.user, "reconcile.run"):
        return []
    from stockledger.reconcile.models import RecomputeRun  # noqa: PLC0415

    last = RecomputeRun.objects.order_by("-id").first()
    url = reverse("web:reconcile")
    if last is None:
        return [{"title": "no verify or recompute has run yet", "count": None, "url": url}]
    drift = sum(int(v.get("drift", 0)) for v in (last.summary or {}).get("invariants", {}).values())
    kind = "dry run" if last.dry_run else "recompute"
    when = timezone.localtime(last.started_at).strftime("%Y-%m-%d %H:%M")
    return [{"title": f"drift rows found by the last check ({kind} #{last.pk}, {when})", "count": drift, "url": url}]


def _sales_card(request):
    if not can(request.user, "sales.write"):
        return []
    from stockledger.sales.models import Invoice  # noqa: PLC0415

    n = Invoice.objects.filter(status__in=[Invoice.Status.GENERATED, Invoice.Status.SENT]).count()
    return [{"title": "invoices not yet paid", "count": n, "url": reverse("web:invoices") + "?status=open"}]


DASHBOARD_HOOKS = [_relief_cards, _drift_card, _sales_card]


@role_required("read")
def inventory_list(request):
    """Batches grouped by product type and variant, with filters and totals per variant."""
    qs = Batch.objects.select_related("item__product_type", "warehouse").order_by("item_id", "batch_date", "id")
    f = request.GET
    data = f.copy()
    # In stock only unless the box is unticked ("0"; the form's last value wins). The filter wants true/false.
    data["in_stock"] = "false" if data.get("in_stock") in ("0", "false") else "true"
    qs = InventoryPageFilter(data, queryset=qs).qs  # a value that does not parse is ignored, never a 500
    page, query = paginate(request, qs, 100)
    groups: OrderedDict = OrderedDict()
    for b in sorted(page.object_list, key=lambda b: item_sort_key(b.item)):
        key = (b.item.product_type.name, b.item)
        g = groups.setdefault(
            key,
            {
                "type": b.item.product_type,
                "item": b.item,
                "label": _variant(b.item),
                "batches": [],
                "usable": Decimal(0),
                "reserved": Decimal(0),
            },
        )
        g["batches"].append(b)
        g["usable"] += b.usable_qty
        g["reserved"] += b.reserved_qty
    totals = dict(qs.values("item_id").annotate(t=Sum("usable_qty")).values_list("item_id", "t"))
    for g in groups.values():
        g["variant_total"] = totals.get(g["item"].pk, g["usable"])
    from stockledger.catalog.models import ProductType  # noqa: PLC0415

    return render(
        request,
        "web/inventory_list.html",
        {
            "groups": groups.values(),
            "page": page,
            "query": query,
            "warehouses": Warehouse.objects.all(),
            "types": ProductType.objects.all(),
            "f": f,
            "statuses": Batch.Status.values,
        },
    )


def _variant(item) -> str:
    """A pipe variant reads as the spec writes it (HDPE OD=110, PN=8, PE=63, Brand=Tarko); others by name."""
    if item.product_type.has_stock_forms:
        return variant_label(item.product_type.code, item.attributes or {}, include_brand=True)
    return item.name


@role_required("read")
def batch_detail(request, pk: int):
    batch = get_object_or_404(Batch.objects.select_related("item__product_type", "warehouse", "source_batch"), pk=pk)
    entries = LedgerEntry.objects.filter(batch=batch).select_related("actor").order_by("-id")
    page, query = paginate(request, entries, 50)
    extras = []
    for hook in BATCH_DETAIL_HOOKS:
        try:
            if block := hook(request, batch):
                extras.append(block)
        except ImportError:
            continue
    return render(request, "web/batch_detail.html", {"batch": batch, "page": page, "query": query, "extras": extras})


# hook(request, batch) -> None or {"template": ..., ...}: blocks shown on the batch page above its ledger.
BATCH_DETAIL_HOOKS: list = [pipe_batch_block]


@role_required("read")
def item_chart(request, pk: int):
    """A variant's stock over time: running Σ of its ledger per day, drawn as an inline SVG polyline."""
    item = get_object_or_404(Item, pk=pk)
    rows = LedgerEntry.objects.filter(item=item).order_by("created_at").values_list("created_at", "qty_delta")
    points, total = [], Decimal(0)
    for at, delta in rows.iterator(chunk_size=2000):
        total += delta
        day = at.date()
        if points and points[-1][0] == day:
            points[-1] = (day, total)
        else:
            points.append((day, total))
    width, height = 600, 200
    svg_points = ""
    if points:
        top = max(p[1] for p in points) or Decimal(1)
        n = max(len(points) - 1, 1)
        svg_points = " ".join(
            f"{i * width / n:.1f},{height - float(p[1] / top) * (height - 10):.1f}" for i, p in enumerate(points)
        )
    return render(
        request,
        "web/item_chart.html",
        {"item": item, "points": points, "svg_points": svg_points, "width": width, "height": height},
    )


@role_required("read")
def audit_trail(request):
    f = request.GET
    qs = AuditFilter(f, queryset=AuditLog.objects.all().order_by("-id")).qs
    page, query = paginate(request, qs, 50)
    template = "web/partials/audit_rows.html" if request.htmx else "web/audit.html"
    return render(request, template, {"page": page, "query": query, "f": f})
