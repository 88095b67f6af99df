"""Depot screens (LPG cylinders): depot stock, ledger postings, sales with line items, invoices (status
changes, and links to the sales app's print page and PDF)."""

from django.shortcuts import get_object_or_404, render
from django.urls import reverse
from django.views.decorators.http import require_POST

from stockledger.core.roles import can
from stockledger.sales import selectors as sales_selectors
from stockledger.sales import services as sales
from stockledger.sales.models import Invoice, LineItem
from stockledger.stock import services as stock
from stockledger.stock.models import LedgerEntry
from stockledger.stock.services.postings import POSTING_KINDS

from . import choices
from .common import attempt, done, form_key, int_or_none, or_none, paginate, render_form, role_required, rows

LEG_FIELDS = ("item", "warehouse", "holder", "qty")
SALE_FIELDS = ("product", "kind", "quantity", "unit_price")


@role_required("read")
def depot_home(request):
    """Cylinder stock per depot, truck and customer site (the inventory snapshots)."""
    qs = sales_selectors.depot_stock_list().order_by("warehouse__name", "holder__name", "item__name", "pk")
    if wh := request.GET.get("warehouse"):
        qs = qs.filter(warehouse_id=wh) if wh != "none" else qs.filter(warehouse__isnull=True)
    page, query = paginate(request, qs, 50)
    ctx = {"page": page, "query": query, "warehouses": choices.warehouses("depot", "vehicle"), "f": request.GET}
    return render(request, "web/depot/home.html", ctx)


def _posting_context(request, sent: list[dict], extra: int) -> dict:
    row_values = [*sent, *({} for _ in range(extra))]
    recent = LedgerEntry.objects.filter(doc_type="posting").select_related("item", "warehouse", "holder", "actor")
    page, query = paginate(request, recent.order_by("-pk"), 25)
    return {
        "kinds": sorted(POSTING_KINDS - {"SALE"}),
        "items": choices.unbatched_items(),
        "warehouses": choices.warehouses(),
        "holders": choices.customers(),
        "rows": row_values,
        "next_row": len(row_values),
        "page": page,
        "query": query,
    }


@role_required("ledger.post")
def ledger_post(request):
    """One posting: LOAD, DELIVERY, COLLECTION, RETURN, TRANSFER (two legs), DUMP, ADJUSTMENT (a reason)."""
    if request.method != "POST":
        return render_form(request, "web/depot/ledger.html", {**_posting_context(request, [], 2), "f": {}})
    sent = [v for _, v in rows(request.POST, "leg", LEG_FIELDS)]
    ctx = {**_posting_context(request, sent, 1), "f": request.POST}
    if request.POST.get("add_line"):
        return render_form(request, "web/depot/ledger.html", ctx)
    result, error = attempt(
        stock.ledger_post,
        actor=request.user,
        kind=request.POST.get("kind", ""),
        legs=[
            {
                "item_id": or_none(v["item"]),
                "warehouse_id": or_none(v["warehouse"]),
                "holder_id": or_none(v["holder"]),
                "qty_delta": or_none(v["qty"]),
            }
            for v in sent
        ],
        reason=request.POST.get("reason", "").strip(),
        idempotency_key=form_key(request),
    )
    if error:
        return render_form(request, "web/depot/ledger.html", ctx, error)
    n = len(result["entries"])
    return done(request, f"Posting #{result['document_id']} recorded ({n} ledger entries).", reverse("web:ledger-post"))


@role_required("ledger.post")
def leg_row(request):
    n = max(0, min(int_or_none(request.GET.get("n")) or 0, 50))
    ctx = {"n": n, "row": {}, "next_row": n + 1, "oob": True}
    ctx.update(items=choices.unbatched_items(), warehouses=choices.warehouses(), holders=choices.customers())
    return render(request, "web/depot/partials/leg_row.html", ctx)


# --- sales and invoices --------------------------------------------------------------------------


@role_required("read")
def sale_list(request):
    qs = sales_selectors.sale_list().order_by("-pk")
    if q := request.GET.get("q", "").strip():
        qs = qs.filter(number__icontains=q)
    page, query = paginate(request, qs, 25)
    return render(request, "web/depot/sales.html", {"page": page, "query": query, "f": request.GET})


def _sale_context(sent: list[dict], extra: int) -> dict:
    row_values = [*sent, *({} for _ in range(extra))]
    return {
        "customers": choices.customers(),
        "depots": choices.warehouses("depot", "vehicle"),
        "products": sales_selectors.lpg_product_list().filter(active=True),
        "line_kinds": LineItem.Kind.choices,
        "rows": row_values,
        "next_row": len(row_values),
    }


@role_required("sales.write")
def sale_new(request):
    """A sale with its line items: the invoice is issued in the same transaction."""
    if request.method != "POST":
        return render_form(request, "web/depot/sale_form.html", {**_sale_context([], 2), "f": {}})
    sent = [v for _, v in rows(request.POST, "line", SALE_FIELDS)]
    ctx = {**_sale_context(sent, 1), "f": request.POST}
    if request.POST.get("add_line"):
        return render_form(request, "web/depot/sale_form.html", ctx)
    result, error = attempt(
        sales.sale_create,
        actor=request.user,
        customer_id=or_none(request.POST.get("customer")),
        depot_id=or_none(request.POST.get("depot")),
        lines=[
            {
                "product_id": or_none(v["product"]),
                "kind": v["kind"],
                "quantity": or_none(v["quantity"]),
                "unit_price": or_none(v["unit_price"]),
            }
            for v in sent
        ],
        note=request.POST.get("note", "").strip(),
        idempotency_key=form_key(request),
    )
    if error:
        return render_form(request, "web/depot/sale_form.html", ctx, error)
    to = reverse("web:invoice", args=[result["invoice_id"]])
    return done(request, f"Sale {result['number']} recorded; invoice {result['invoice_number']} issued.", to)


@role_required("sales.write")
def sale_row(request):
    n = max(0, min(int_or_none(request.GET.get("n")) or 0, 200))
    ctx = {**_sale_context([], 0), "n": n, "row": {}, "next_row": n + 1, "oob": True}
    return render(request, "web/depot/partials/sale_row.html", ctx)


@role_required("read")
def invoice_list(request):
    qs = sales_selectors.invoice_list().order_by("-pk")
    status = request.GET.get("status", "")
    if status == "open":
        qs = qs.filter(status__in=[Invoice.Status.GENERATED, Invoice.Status.SENT])
    elif status:
        qs = qs.filter(status=status)
    if q := request.GET.get("q", "").strip():
        qs = qs.filter(number__icontains=q)
    page, query = paginate(request, qs, 25)
    ctx = {"page": page, "query": query, "f": request.GET, "statuses": Invoice.Status.choices}
    return render(request, "web/depot/invoices.html", ctx)


def _invoice_context(request, pk: int) -> dict:
    invoice = get_object_or_404(sales_selectors.invoice_list(), pk=pk)
    doc = sales_selectors.invoice_document(invoice)
    allowed = sales.allowed_actions(invoice.status) if can(request.user, "sales.write") else []
    reload_url = reverse("web:invoice", args=[pk])
    return {"invoice": invoice, "doc": doc, "allowed": allowed, "f": request.POST, "reload_url": reload_url}


@role_required("read")
def invoice_detail(request, pk: int):
    return render_form(request, "web/depot/invoice.html", _invoice_context(request, pk))


@require_POST
@role_required("sales.write")
def invoice_action(request, pk: int, action: str):
    """Send, pay or void (voiding reverses the sale's ledger legs), with the version the page showed."""
    result, error = attempt(
        sales.invoice_transition,
        actor=request.user,
        invoice_id=pk,
        action=action,
        version=request.POST.get("version"),
        reason=request.POST.get("reason", ""),
        idempotency_key=form_key(request),
    )
    if error:
        return render_form(request, "web/depot/invoice.html", _invoice_context(request, pk), error)
    return done(request, f"Invoice {result['number']} is now {result['status']}.", reverse("web:invoice", args=[pk]))
