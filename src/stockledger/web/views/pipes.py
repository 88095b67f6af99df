"""Pipe screens, part 1: the pipes hub, production and return (many lines), cut, split and combine, and
the pipe block of the batch page (the spec's inventory detail view).

Views turn form rows into the service's input, call one service, and redirect; on a DomainError the same
form comes back with the engine's message and the rows as typed (nothing was written).
"""

import re

from django.shortcuts import get_object_or_404, render
from django.urls import reverse

from stockledger.core.roles import can
from stockledger.pieces import selectors as pipe_selectors
from stockledger.pieces import services as pipes
from stockledger.pieces.display import group_piece_lengths
from stockledger.pieces.models import CutPiece, Operation, PieceStatus, Stock, StockType

from . import choices
from .common import attempt, blank, done, form_key, new_key, or_none, render_form, role_required, rows

LINE_FIELDS = ("stock_type", "count", "size", "lengths")
RETURN_FIELDS = ("item", *LINE_FIELDS)
FORMS = [
    (StockType.FULL_ROLL, "Full rolls (HDPE)"),
    (StockType.CUT_ROLL, "Cut pieces (HDPE)"),
    (StockType.BUNDLE, "Bundles (sprinkler)"),
    (StockType.SPARE, "Spare pieces (sprinkler)"),
]
BLANK_ROWS = 2


@role_required("read")
def pipes_home(request):
    """Per-variant totals of pipe stock and the recent operations, with the clerk's actions."""
    totals = pipe_selectors.variant_totals(product_type=request.GET.get("type") or None)
    recent = Operation.objects.select_related("customer").order_by("-pk")[:10]
    return render(request, "web/pipes/home.html", {"totals": totals, "recent": recent})


# --- production and return -----------------------------------------------------------------------


def split_lengths(text: str) -> list[str]:
    """'200, 150 150;100' → ['200', '150', '150', '100'] (the service checks each one)."""
    return [x for x in re.split(r"[,;\s]+", text or "") if x]


def intake_line(values: dict, *, with_item: bool) -> dict:
    """One form row → one production / return line of the service (it validates everything)."""
    t = values.get("stock_type", "")
    line: dict = {"stock_type": t}
    if with_item:
        line["item_id"] = or_none(values.get("item"))
    if t == StockType.CUT_ROLL:
        line["piece_lengths"] = split_lengths(values.get("lengths", ""))
    else:
        line["quantity"] = or_none(values.get("count"))
    if t == StockType.FULL_ROLL:
        line["length_per_unit"] = or_none(values.get("size"))
    elif t == StockType.BUNDLE:
        line["pieces_per_bundle"] = or_none(values.get("size"))
    return line


def form_rows(sent: list[dict], extra: int = 1) -> list[dict]:
    """Rows to show again: what was sent (in the order the service numbered it), then blank ones."""
    return [*sent, *({} for _ in range(extra))]


def _intake_context(kind: str, row_values: list[dict]) -> dict:
    return {
        "kind": kind,
        "variants": choices.pipe_variants(),
        "warehouses": choices.warehouses(),
        "customers": choices.customers(),
        "forms": FORMS,
        "rows": row_values,
        "next_row": len(row_values),
    }


@role_required("pipes.operate")
def production(request):
    """One production entry = one batch: full rolls + cut pieces, or bundles + spares."""
    if request.method != "POST":
        ctx = _intake_context("production", form_rows([], BLANK_ROWS))
        ctx["f"] = {"item": request.GET.get("item", "")}
        return render_form(request, "web/pipes/intake.html", ctx)
    if request.POST.get("add_line"):
        sent = [v for _, v in rows(request.POST, "line", LINE_FIELDS)]
        ctx = {**_intake_context("production", form_rows(sent, 1)), "f": request.POST}
        return render_form(request, "web/pipes/intake.html", ctx)
    sent = [v for _, v in rows(request.POST, "line", LINE_FIELDS)]
    result, error = attempt(
        pipes.production_create,
        actor=request.user,
        item_id=or_none(request.POST.get("item")),
        lines=[intake_line(v, with_item=False) for v in sent],
        warehouse_id=or_none(request.POST.get("warehouse")),
        batch_no=or_none(request.POST.get("batch_no")),
        batch_date=or_none(request.POST.get("batch_date")),
        notes=request.POST.get("notes", "").strip(),
        idempotency_key=form_key(request),
    )
    if error:
        ctx = {**_intake_context("production", form_rows(sent, 1)), "f": request.POST}
        return render_form(request, "web/pipes/intake.html", ctx, error)
    return done(
        request,
        f"Production {result['production_number']} recorded: batch #{result['batch_no']}.",
        reverse("web:batch", args=[result["batch_id"]]),
    )


@role_required("pipes.operate")
def return_create(request):
    """A customer return: many lines, several variants; one NEW batch per variant."""
    if request.method != "POST":
        ctx = {**_intake_context("return", form_rows([], BLANK_ROWS)), "f": {}}
        return render_form(request, "web/pipes/intake.html", ctx)
    sent = [v for _, v in rows(request.POST, "line", RETURN_FIELDS)]
    if request.POST.get("add_line"):
        ctx = {**_intake_context("return", form_rows(sent, 1)), "f": request.POST}
        return render_form(request, "web/pipes/intake.html", ctx)
    result, error = attempt(
        pipes.return_create,
        actor=request.user,
        items=[intake_line(v, with_item=True) for v in sent],
        warehouse_id=or_none(request.POST.get("warehouse")),
        return_date=or_none(request.POST.get("return_date")),
        customer_id=or_none(request.POST.get("customer")),
        notes=request.POST.get("notes", "").strip(),
        idempotency_key=form_key(request),
    )
    if error:
        ctx = {**_intake_context("return", form_rows(sent, 1)), "f": request.POST}
        return render_form(request, "web/pipes/intake.html", ctx, error)
    numbers = ", ".join(f"#{b['batch_no']}" for b in result["batches"])
    to = reverse("web:pipe-operation", args=[result["return_id"]])
    return done(request, f"Return {result['return_number']} recorded: new batch {numbers}.", to)


@role_required("pipes.operate")
def intake_row(request):
    """htmx: one more blank line row (and the "Add a line" button, out of band, counting on)."""
    try:
        n = max(0, min(int(request.GET.get("n", "0")), 200))
    except ValueError:
        n = 0
    ctx = {
        "n": n,
        "row": {},
        "kind": request.GET.get("kind", "production"),
        "forms": FORMS,
        "variants": choices.pipe_variants() if request.GET.get("kind") == "return" else [],
        "next_row": n + 1,
        "oob": True,
    }
    return render(request, "web/pipes/partials/intake_row.html", ctx)


# --- transformations -----------------------------------------------------------------------------


def _stock(pk: int) -> Stock:
    return get_object_or_404(Stock.objects.select_related("batch__item__product_type", "batch__warehouse"), pk=pk)


def _back_to_batch(stock: Stock) -> str:
    return reverse("web:batch", args=[stock.batch_id])


@role_required("pipes.operate")
def stock_cut(request, pk: int):
    """Cut one full roll, or one cut piece, into exactly two pieces."""
    stock = _stock(pk)
    piece_id = request.POST.get("piece") or request.GET.get("piece") or None
    piece = CutPiece.objects.filter(pk=piece_id, stock=stock).first() if piece_id and piece_id.isdigit() else None
    ctx = {
        "stock": stock,
        "piece": piece,
        "source_length": piece.length_meters if piece else stock.length_per_unit,
        "f": request.POST,
        "version": request.POST.get("version") or stock.version,
        "reload_url": request.path + (f"?piece={piece.pk}" if piece else ""),
    }
    if request.method != "POST":
        return render_form(request, "web/pipes/cut.html", ctx)
    result, error = attempt(
        pipes.stock_cut,
        actor=request.user,
        stock_id=stock.pk,
        piece_id=piece_id,
        piece1_length=or_none(request.POST.get("piece1_length")),
        piece2_length=or_none(request.POST.get("piece2_length")),
        version=_int(request.POST.get("version")),
        idempotency_key=form_key(request),
    )
    if error:
        return render_form(request, "web/pipes/cut.html", ctx, error)
    a, b = request.POST.get("piece1_length"), request.POST.get("piece2_length")
    return done(request, f"Cut {result['operation_number']}: two pieces of {a} m and {b} m.", _back_to_batch(stock))


@role_required("pipes.operate")
def bundle_split(request, pk: int):
    """Split one whole bundle into its spare pieces."""
    stock = _stock(pk)
    ctx = {"stock": stock, "version": request.POST.get("version") or stock.version}
    if request.method != "POST":
        return render_form(request, "web/pipes/split.html", ctx)
    result, error = attempt(
        pipes.bundle_split,
        actor=request.user,
        stock_id=stock.pk,
        version=_int(request.POST.get("version")),
        idempotency_key=form_key(request),
    )
    if error:
        return render_form(request, "web/pipes/split.html", ctx, error)
    n = len(result["piece_ids"])
    return done(
        request, f"Split {result['operation_number']}: one bundle into {n} spare pieces.", _back_to_batch(stock)
    )


@role_required("pipes.operate")
def spares_combine(request, pk: int):
    """Combine spare pieces of this record into a new bundle record of any size."""
    stock = _stock(pk)
    ctx = {"stock": stock, "f": request.POST, "version": request.POST.get("version") or stock.version}
    if request.method != "POST":
        return render_form(request, "web/pipes/combine.html", ctx)
    result, error = attempt(
        pipes.spares_combine,
        actor=request.user,
        stock_id=stock.pk,
        bundle_size=or_none(request.POST.get("bundle_size")),
        quantity=or_none(request.POST.get("quantity")),
        version=_int(request.POST.get("version")),
        idempotency_key=form_key(request),
    )
    if error:
        return render_form(request, "web/pipes/combine.html", ctx, error)
    n = len(result["piece_ids"])
    return done(request, f"Combine {result['operation_number']}: {n} spare pieces bundled.", _back_to_batch(stock))


def _int(value):
    return int(value) if not blank(value) and str(value).strip().isdigit() else None


# --- the batch page's pipe block (BATCH_DETAIL_HOOKS) ---------------------------------------------


def pipe_batch_block(request, batch) -> dict | None:
    """The spec's inventory detail view for a pipe batch: its display lines, then each stock record with
    its pieces grouped by length, initial vs current, total available, and the clerk's actions."""
    if not batch.item.product_type.has_stock_forms:
        return None
    detail = pipe_selectors.batch_detail(batch)
    records = []
    for rec in detail["stock_records"]:
        pieces = rec["pieces"]
        groups = []
        if rec["stock_type"] == StockType.CUT_ROLL:
            first_of = {}
            for p in pieces:
                first_of.setdefault(p["length_meters"].normalize(), p["piece_id"])
            groups = [
                {"length": length, "count": n, "piece_id": first_of[length.normalize()]}
                for length, n in group_piece_lengths(p["length_meters"] for p in pieces)
            ]
        records.append({**rec, "groups": groups, "piece_count": len(pieces)})
    operate = can(request.user, "pipes.operate") and batch.status == batch.Status.ACTIVE
    return {
        "template": "web/pipes/partials/batch_block.html",
        "detail": detail,
        "records": records,
        "operate": operate,
        "idempotency_key": new_key(),
        "in_stock": PieceStatus.IN_STOCK,
    }
