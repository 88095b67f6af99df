"""Relief screens: requests, package preparation with the batch drawer (Save Draft as an htmx partial),
submit, the LM's approval queue (Approve & Dispatch, Send to Dispatch), cancel, handover, receipt, and the
links to the relief app's waybill (HTML and PDF).

A Save Draft sends the *package* version only (DESIGN §3): officers preparing different packages from
one batch never conflict; availability is re-checked by the engine under the batch row lock.
"""

from decimal import Decimal

from django.http import Http404
from django.shortcuts import render
from django.urls import reverse
from django.views.decorators.http import require_POST

from stockledger.core.errors import DomainError, NotFound
from stockledger.core.roles import can
from stockledger.relief import selectors
from stockledger.relief import services as relief
from stockledger.relief.models import ReliefPackage, ReliefRequest
from stockledger.stock.models import Inventory

from . import choices
from .common import (
    FormError,
    attempt,
    done,
    form_key,
    int_or_none,
    new_key,
    paginate,
    render_form,
    role_required,
    rows,
)

P = ReliefPackage.Status
R = ReliefRequest.Status
ZERO = Decimal(0)


def _or_404(fn, *args):
    try:
        return fn(*args)
    except NotFound as err:
        raise Http404(err.message) from None


# --- requests ------------------------------------------------------------------------------------


@role_required("read")
def requests(request):
    qs = selectors.request_queryset()
    if status := request.GET.get("status"):
        qs = qs.filter(status=status)
    page, query = paginate(request, qs, 25)
    items = selectors.request_dicts(page.object_list)
    ctx = {"page": page, "query": query, "items": items, "statuses": R.choices, "f": request.GET}
    return render(request, "web/relief/requests.html", ctx)


def _request_form_context(sent: list[dict], extra: int) -> dict:
    row_values = [*sent, *({} for _ in range(extra))]
    return {
        "agencies": choices.customers(),
        "items": choices.batch_items(),
        "urgencies": ReliefRequest.Urgency.choices,
        "rows": row_values,
        "next_row": len(row_values),
    }


@role_required("relief.prepare")
def request_new(request):
    if request.method != "POST":
        return render_form(request, "web/relief/request_form.html", {**_request_form_context([], 3), "f": {}})
    sent = [v for _, v in rows(request.POST, "line", ("item", "qty"))]
    ctx = {**_request_form_context(sent, 1), "f": request.POST}
    if request.POST.get("add_line"):
        return render_form(request, "web/relief/request_form.html", ctx)
    result, error = attempt(
        relief.relief_request_create,
        actor=request.user,
        agency_id=int_or_none(request.POST.get("agency")),
        event=request.POST.get("event", ""),
        urgency=request.POST.get("urgency") or ReliefRequest.Urgency.MEDIUM,
        notes=request.POST.get("notes", "").strip(),
        lines=[{"item_id": v["item"] or None, "requested_qty": v["qty"] or None} for v in sent],
        idempotency_key=form_key(request),
    )
    if error:
        return render_form(request, "web/relief/request_form.html", ctx, error)
    return done(
        request, f"Relief request #{result['id']} saved as a draft.", reverse("web:relief-request", args=[result["id"]])
    )


@role_required("relief.prepare")
def request_row(request):
    n = max(0, min(int_or_none(request.GET.get("n")) or 0, 200))
    ctx = {"n": n, "row": {}, "items": choices.batch_items(), "next_row": n + 1, "oob": True}
    return render(request, "web/relief/partials/request_row.html", ctx)


def _request_context(request, pk: int) -> dict:
    req = _or_404(selectors.request_detail, pk)
    return {
        "req": req,
        "can_prepare": can(request.user, "relief.prepare"),
        "warehouses": choices.warehouses(),
        "f": request.POST,
        "reload_url": reverse("web:relief-request", args=[pk]),
    }


@role_required("read")
def request_detail(request, pk: int):
    return render_form(request, "web/relief/request.html", _request_context(request, pk))


def _request_action(request, pk: int, fn, message: str, **kwargs):
    result, error = attempt(fn, actor=request.user, idempotency_key=form_key(request), **kwargs)
    if error:
        return render_form(request, "web/relief/request.html", _request_context(request, pk), error)
    return done(request, message.format(**result), reverse("web:relief-request", args=[pk]))


@require_POST
@role_required("relief.prepare")
def request_submit(request, pk: int):
    v = request.POST.get("version")
    return _request_action(
        request, pk, relief.relief_request_submit, "Request #{id} submitted.", request_id=pk, version=v
    )


@require_POST
@role_required("relief.prepare")
def request_cancel(request, pk: int):
    v = request.POST.get("version")
    return _request_action(
        request, pk, relief.relief_request_cancel, "Request #{id} cancelled.", request_id=pk, version=v
    )


@require_POST
@role_required("relief.prepare")
def package_new(request, pk: int):
    result, error = attempt(
        relief.relief_package_create,
        actor=request.user,
        request_id=pk,
        destination_warehouse_id=int_or_none(request.POST.get("destination")),
        notes=request.POST.get("notes", "").strip(),
        idempotency_key=form_key(request),
    )
    if error:
        return render_form(request, "web/relief/request.html", _request_context(request, pk), error)
    to = reverse("web:relief-package", args=[result["id"]])
    return done(request, f"Package {result['tracking_no']} created: choose its batches in the drawer.", to)


# --- packages ------------------------------------------------------------------------------------


@role_required("read")
def packages(request):
    qs = selectors.package_queryset()
    if status := request.GET.get("status"):
        qs = qs.filter(status=status)
    if q := request.GET.get("q", "").strip():
        qs = qs.filter(tracking_no__icontains=q)
    page, query = paginate(request, qs, 25)
    ctx = {"page": page, "query": query, "items": selectors.package_dicts(page.object_list), "statuses": P.choices}
    return render(request, "web/relief/packages.html", {**ctx, "f": request.GET, "title": "Relief packages"})


@role_required("relief.approve")
def approvals(request):
    """The LM's queue: packages awaiting approval, oldest first."""
    qs = selectors.package_queryset().filter(status=P.AWAITING_APPROVAL).order_by("submitted_at", "pk")
    page, query = paginate(request, qs, 25)
    preparing = selectors.package_queryset().filter(status=P.BEING_PREPARED).order_by("pk")[:25]
    ctx = {
        "page": page,
        "query": query,
        "items": selectors.package_dicts(page.object_list),
        "preparing": selectors.package_dicts(preparing),
        "approvals": True,
    }
    return render(request, "web/relief/packages.html", {**ctx, "f": request.GET, "title": "Approval queue"})


def drawer(pkg: dict, item: dict, warehouse: str = "", fill: str = "", typed: dict | None = None) -> dict:
    """One item's batch drawer: its batches in FEFO/FIFO order, reserved and available per batch, the
    suggested allocation, and the quantity to show in each input (typed, suggested, or held)."""
    data = selectors.batch_drawer(item_id=item["item_id"], warehouse=warehouse or None, package=pkg["id"])
    typed = typed or {}
    for b in data["batches"]:
        key = str(b["batch_id"])
        if key in typed:
            b["value"] = typed[key]
        elif fill:
            b["value"] = b["suggested_qty"]
        else:
            b["value"] = b["held_by_this_package"]
    return {**data, "line": item, "warehouse": warehouse, "package": pkg}


def _warehouse_totals(req: dict) -> list[dict]:
    """Inventory rows (per warehouse) of the items the request asks for: usable, reserved, available."""
    item_ids = [line["item_id"] for line in req["lines"]]
    qs = Inventory.objects.filter(item_id__in=item_ids, holder__isnull=True).select_related("item", "warehouse")
    return [
        {
            "item": r.item.name,
            "warehouse": r.warehouse.name if r.warehouse else "–",
            "usable": r.usable_qty,
            "reserved": r.reserved_qty,
            "available": r.usable_qty - r.reserved_qty,
        }
        for r in qs.order_by("item__name", "warehouse__name")
    ]


def _package_context(request, pk: int, *, typed: dict | None = None, warehouses: dict | None = None) -> dict:
    pkg = _or_404(selectors.package_detail, pk)
    req = selectors.request_detail(pkg["request_id"])
    user = request.user
    is_open = pkg["status"] in ReliefPackage.OPEN
    editable = is_open and can(user, "relief.prepare")
    params = request.GET
    warehouses = warehouses or {}
    drawers = []
    if editable:
        for line in req["lines"]:
            item_key = str(line["item_id"])
            wh = warehouses.get(item_key, params.get(f"wh-{item_key}", ""))
            drawers.append(drawer(pkg, line, wh, fill=params.get("fill") == item_key, typed=typed))
    return {
        "pkg": pkg,
        "req": req,
        "drawers": drawers,
        "totals": _warehouse_totals(req),
        "editable": editable,
        "can_submit": pkg["status"] == P.BEING_PREPARED and can(user, "relief.prepare"),
        "can_cancel": editable,
        "can_send": pkg["status"] == P.BEING_PREPARED and can(user, "relief.approve"),
        "can_approve": pkg["status"] == P.AWAITING_APPROVAL and can(user, "relief.approve"),
        "can_handover": pkg["status"] == P.DISPATCHED and not pkg["handed_over_at"] and can(user, "relief.handover"),
        "can_receive": pkg["status"] == P.DISPATCHED and pkg["handed_over_at"] and can(user, "relief.prepare"),
        "sent": pkg["status"] in ReliefPackage.SENT,
        "warehouse_choices": choices.warehouses(),
        "f": request.POST,
        "reload_url": reverse("web:relief-package", args=[pk]),
    }


@role_required("read")
def package_detail(request, pk: int):
    return render_form(request, "web/relief/package.html", _package_context(request, pk))


@role_required("relief.prepare")
def package_drawer(request, pk: int, item_pk: int):
    """htmx: one item's drawer again (another warehouse, or filled with the suggested allocation)."""
    pkg = _or_404(selectors.package_detail, pk)
    req = selectors.request_detail(pkg["request_id"])
    line = next((x for x in req["lines"] if x["item_id"] == item_pk), None)
    if line is None:
        raise Http404("This request does not ask for that item.")
    try:
        wh = request.GET.get("warehouse") or request.GET.get(f"wh-{item_pk}", "")
        d = drawer(pkg, line, wh, fill=request.GET.get("fill", ""))
    except DomainError as err:
        return render(request, "web/partials/form_error.html", {"error": FormError.of(err)}, status=err.status)
    ctx = {"d": d, "warehouse_choices": choices.warehouses(), "editable": True}
    return render(request, "web/relief/partials/drawer.html", ctx)


def _nonzero(text) -> bool:
    """A typed quantity other than zero (anything unreadable goes to the service, which says why)."""
    try:
        return Decimal(str(text)) != 0
    except (ArithmeticError, ValueError):
        return True


def typed_allocations(post) -> dict[str, str]:
    """{batch_id: qty as typed} for every batch input the page showed (a blank input means 0)."""
    return {b: (post.get(f"alloc-{b}") or "").strip() or "0" for b in dict.fromkeys(post.getlist("shown"))}


@require_POST
@role_required("relief.prepare")
def package_draft(request, pk: int):
    """Save Draft: the package then holds exactly what the drawers show (plus what it holds elsewhere)."""
    typed = typed_allocations(request.POST)
    held = {str(a["batch_id"]): a["qty"] for a in _or_404(selectors.package_detail, pk)["allocations"]}
    wanted = {**held, **typed}
    allocations = [{"batch_id": b, "qty": q} for b, q in wanted.items() if b in held or _nonzero(q)]
    warehouses = {k[3:]: v for k, v in request.POST.items() if k.startswith("wh-")}
    result, error = attempt(
        relief.relief_package_save_draft,
        actor=request.user,
        package_id=pk,
        version=request.POST.get("version"),
        allocations=allocations,
        idempotency_key=form_key(request),
    )
    if error:
        ctx = _package_context(request, pk, typed=typed, warehouses=warehouses)
        template = "web/relief/partials/package_panel.html" if request.htmx else "web/relief/package.html"
        return render_form(request, template, ctx, error)
    message = (
        f"Draft saved: package {result['tracking_no']} now holds {len(result['allocations'])} batch allocation(s)."
    )
    if request.htmx:
        ctx = _package_context(request, pk, warehouses=warehouses)
        fresh = {"saved": message, "idempotency_key": new_key()}  # the next save is another request
        return render_form(request, "web/relief/partials/package_panel.html", {**ctx, **fresh})
    return done(request, message, reverse("web:relief-package", args=[pk]))


def _package_action(request, pk: int, fn, message: str, **kwargs):
    result, error = attempt(fn, actor=request.user, package_id=pk, idempotency_key=form_key(request), **kwargs)
    if error:
        return render_form(request, "web/relief/package.html", _package_context(request, pk), error)
    return done(request, message.format(**result), reverse("web:relief-package", args=[pk]))


@require_POST
@role_required("relief.prepare")
def package_submit(request, pk: int):
    msg = "Package {tracking_no} submitted for LM approval."
    return _package_action(request, pk, relief.relief_package_submit, msg, version=request.POST.get("version"))


@require_POST
@role_required("relief.prepare")
def package_cancel(request, pk: int):
    msg = "Package {tracking_no} cancelled; its reservations are released."
    reason = request.POST.get("reason", "").strip()
    return _package_action(
        request, pk, relief.relief_package_cancel, msg, version=request.POST.get("version"), reason=reason
    )


@require_POST
@role_required("relief.approve")
def package_approve_dispatch(request, pk: int):
    msg = "Package {tracking_no} approved and dispatched."
    return _package_action(
        request,
        pk,
        relief.relief_package_approve_dispatch,
        msg,
        version=request.POST.get("version"),
        override_reason=request.POST.get("override_reason", "").strip(),
    )


@require_POST
@role_required("relief.approve")
def package_send_to_dispatch(request, pk: int):
    msg = "Package {tracking_no} sent to dispatch."
    return _package_action(
        request,
        pk,
        relief.relief_package_send_to_dispatch,
        msg,
        version=request.POST.get("version"),
        override_reason=request.POST.get("override_reason", "").strip(),
    )


@require_POST
@role_required("relief.handover")
def package_handover(request, pk: int):
    msg = "Package {tracking_no} handed over to the carrier."
    return _package_action(request, pk, relief.relief_package_handover, msg, version=request.POST.get("version"))


@require_POST
@role_required("relief.prepare")
def package_receive(request, pk: int):
    msg = "Package {tracking_no}: receipt confirmed."
    return _package_action(request, pk, relief.relief_package_receive, msg, version=request.POST.get("version"))
