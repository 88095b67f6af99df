"""Dashboard, inventory list, batch detail with ledger history, stock chart, audit trail."""

from collections import OrderedDict
from datetime import timedelta
from decimal import Decimal

from django.db.models import F, Q, Sum
from django.shortcuts import get_object_or_404, render
from django.utils import timezone

from stockledger.catalog.models import Item, Warehouse
from stockledger.catalog.selectors import item_sort_key
from stockledger.core.models import AuditLog
from stockledger.core.roles import roles_of
from stockledger.stock.models import Batch, Inventory, LedgerEntry

from .common import paginate, role_required


@role_required("read")
def dashboard(request):
    today = timezone.localdate()
    expiring = (
        Batch.objects.select_related("item", "warehouse")
        .filter(
            status=Batch.Status.ACTIVE,
            usable_qty__gt=0,
            expiry_date__gte=today,
            expiry_date__lte=today + timedelta(days=30),
        )
        .order_by("expiry_date")[:20]
    )
    low = (
        Inventory.objects.select_related("item", "warehouse")
        .filter(reorder_qty__gt=0, usable_qty__lt=F("reorder_qty"))
        .order_by("item__name")[:20]
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
            "expiring": expiring,
            "low": low,
            "cards": cards,
            "today": today,
        },
    )


def _relief_card(request):
    from stockledger.relief.models import ReliefPackage  # noqa: PLC0415

    status = getattr(ReliefPackage, "Status", None)
    waiting = getattr(status, "AWAITING_APPROVAL", None) if status else None
    if waiting is None:
        return []
    n = ReliefPackage.objects.filter(status=waiting).count()
    return [{"title": "Packages awaiting LM approval", "count": n, "url": "/relief/approvals/"}]


def _drift_card(request):
    from stockledger.reconcile.models import RecomputeRun  # noqa: PLC0415

    last = RecomputeRun.objects.order_by("-id").first()
    if last is None:
        return [{"title": "No verify or recompute has run yet", "count": None, "url": "/reconcile/"}]
    changed = getattr(last, "rows_changed", 0)
    return [
        {
            "title": f"Last reconcile run #{last.pk}: rows {'to change' if last.dry_run else 'changed'}",
            "count": changed,
            "url": "/reconcile/",
        }
    ]


DASHBOARD_HOOKS = [_relief_card, _drift_card]


@role_required("read")
def inventory_list(request):
    """Batches grouped by product type and variant, with filters and totals per variant."""
    qs = Batch.objects.select_related("item__product_type", "warehouse").order_by("item_id", "batch_date", "id")
    f = request.GET
    if f.get("status"):
        qs = qs.filter(status=f["status"])
    if f.get("warehouse"):
        qs = qs.filter(warehouse_id=f["warehouse"])
    if f.get("product_type"):
        qs = qs.filter(item__product_type__code=f["product_type"])
    if f.get("date_from"):
        qs = qs.filter(batch_date__gte=f["date_from"])
    if f.get("date_to"):
        qs = qs.filter(batch_date__lte=f["date_to"])
    if f.get("expiring_within"):
        try:
            days = int(f["expiring_within"])
            qs = qs.filter(expiry_date__lte=timezone.localdate() + timedelta(days=days))
        except ValueError:
            pass
    if f.get("in_stock", "1") == "1":
        qs = qs.filter(usable_qty__gt=0)
    if q := f.get("q", "").strip():
        qs = qs.filter(Q(batch_no__icontains=q) | Q(item__name__icontains=q) | Q(item__sku__icontains=q))
    page, query = paginate(request, qs, 100)
    groups: OrderedDict = OrderedDict()
    for b in sorted(page.object_list, key=lambda b: item_sort_key(b.item)):
        key = (b.item.product_type.name, b.item)
        g = groups.setdefault(
            key,
            {"type": b.item.product_type, "item": b.item, "batches": [], "usable": Decimal(0), "reserved": Decimal(0)},
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


@role_required("read")
def batch_detail(request, pk: int):
    batch = get_object_or_404(Batch.objects.select_related("item__product_type", "warehouse", "source_batch"), pk=pk)
    entries = LedgerEntry.objects.filter(batch=batch).select_related("actor").order_by("-id")
    page, query = paginate(request, entries, 50)
    extra = None
    for hook in BATCH_DETAIL_HOOKS:
        try:
            extra = hook(batch) or extra
        except ImportError:
            continue
    return render(request, "web/batch_detail.html", {"batch": batch, "page": page, "query": query, "extra": extra})


BATCH_DETAIL_HOOKS: list = []


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
    qs = AuditLog.objects.all().order_by("-id")
    f = request.GET
    if f.get("object_type"):
        qs = qs.filter(object_type=f["object_type"])
    if f.get("object_id"):
        qs = qs.filter(object_id=f["object_id"])
    if f.get("user"):
        qs = qs.filter(actor_name__icontains=f["user"])
    if f.get("action"):
        qs = qs.filter(action__icontains=f["action"])
    if f.get("date_from"):
        qs = qs.filter(created_at__date__gte=f["date_from"])
    if f.get("date_to"):
        qs = qs.filter(created_at__date__lte=f["date_to"])
    if f.get("job"):
        qs = qs.filter(job_id=f["job"])
    page, query = paginate(request, qs, 50)
    template = "web/partials/audit_rows.html" if request.htmx else "web/audit.html"
    return render(request, template, {"page": page, "query": query, "f": f})
