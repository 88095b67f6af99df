"""Pipe screens, part 2: dispatch (stock selection, review, confirm), scrap, the operation list and page,
and every revert (customer return of a dispatch, scrap revert, return revert) and closing a dispatch.

The selection form carries, per stock record shown, the stock and batch versions it displayed (hidden
inputs): a stale page gets the engine's 409 "Batch was modified, please retry", in place.
"""

from collections import OrderedDict
from decimal import Decimal

from django.shortcuts import get_object_or_404
from django.urls import reverse
from django.views.decorators.http import require_POST

from stockledger.catalog.models import Customer
from stockledger.core.errors import InsufficientStock, StaleVersion, ValidationError
from stockledger.core.roles import can
from stockledger.pieces import selectors as pipe_selectors
from stockledger.pieces import services as pipes
from stockledger.pieces.display import format_qty
from stockledger.pieces.models import Operation, StockType

from . import choices
from .common import FormError, attempt, done, form_key, int_or_none, or_none, paginate, render_form, role_required

MAX_RECORDS = 150
STALE = "Batch was modified, please retry"


# --- the stock selection (dispatch and scrap) -----------------------------------------------------


def selection(params) -> tuple[list[dict], bool]:
    """Stock records something can be taken from (filtered by item, warehouse, batch), grouped by batch."""
    recs = pipe_selectors.dispatch_selection(item=params.get("item") or None, warehouse=params.get("warehouse") or None)
    batch_id = str(params.get("batch_id") or "").strip()
    if batch_id:
        recs = [r for r in recs if str(r["batch_id"]) == batch_id]
    number = str(params.get("batch") or "").strip().lower()
    if number:
        recs = [r for r in recs if number in r["batch_no"].lower()]
    capped = len(recs) > MAX_RECORDS
    return recs[:MAX_RECORDS], capped


def group_by_batch(recs: list[dict]) -> list[dict]:
    groups: OrderedDict = OrderedDict()
    for r in recs:
        g = groups.setdefault(
            r["batch_id"],
            {
                "batch_id": r["batch_id"],
                "batch_no": r["batch_no"],
                "batch_version": r["batch_version"],
                "variant": r["variant"],
                "warehouse": r["warehouse"],
                "unit": r["unit"],
                "current": r["batch_current_quantity"],
                "records": [],
            },
        )
        g["records"].append(r)
    return list(groups.values())


def take_lines(post) -> list[dict]:
    """The chosen stock records → service lines, each with the versions the page displayed."""
    lines = []
    for sid in dict.fromkeys(post.getlist("shown")):
        take = (post.get(f"take-{sid}") or "").strip()
        pieces = post.getlist(f"piece-{sid}")
        if take and take != "0":
            line = {"stock_id": sid, "quantity": take}
        elif pieces:
            line = {"stock_id": sid, "piece_ids": pieces}
        else:
            continue
        line["stock_version"] = or_none(post.get(f"sv-{sid}"))
        line["batch_version"] = or_none(post.get(f"bv-{sid}"))
        lines.append(line)
    return lines


def review(lines: list[dict]) -> tuple[list[dict], FormError | None]:
    """Check the chosen lines against the stock as it is now, writing nothing: per batch, what leaves and
    what stays. Stale versions and quantities above what is available come back as the engine words them."""
    if not lines:
        return [], FormError.of(ValidationError("Select at least one stock record (rolls, bundles or pieces)."))
    fresh = {str(r["stock_id"]): r for r in pipe_selectors.dispatch_selection()}
    per_batch: OrderedDict = OrderedDict()
    short = []
    for line in lines:
        r = fresh.get(str(line["stock_id"]))
        if r is None:
            err = StaleVersion(STALE, extra={"object": "stock", "id": line["stock_id"], "reason": "nothing left"})
            return [], FormError.of(err)
        for what, sent, now in (
            ("stock", line.get("stock_version"), r["version"]),
            ("batch", line.get("batch_version"), r["batch_version"]),
        ):
            if sent is not None and int_or_none(sent) != now:
                obj_id = r["stock_id"] if what == "stock" else r["batch_id"]
                extra = {"object": what, "id": obj_id, "expected_version": sent, "current_version": now}
                return [], FormError.of(StaleVersion(STALE, extra=extra))
        if "piece_ids" in line:
            lengths = {str(p["piece_id"]): p["length_meters"] for p in r["pieces"]}
            missing = [p for p in line["piece_ids"] if p not in lengths]
            if missing:
                extra = {"object": "stock", "id": r["stock_id"], "reason": f"pieces {', '.join(missing)} gone"}
                return [], FormError.of(StaleVersion(STALE, extra=extra))
            n = len(line["piece_ids"])
            amount = (
                sum((lengths[p] for p in line["piece_ids"]), Decimal(0))
                if r["stock_type"] == StockType.CUT_ROLL
                else Decimal(n)
            )
            what = f"{n} piece{'s' if n != 1 else ''}"
        else:
            n = int_or_none(line["quantity"])
            if n is None or n < 1:
                return [], FormError.of(ValidationError("Quantities must be whole numbers greater than 0."))
            if n > r["available"]:
                short.append(f"stock record {r['stock_id']} has {r['available']} {r['available_unit']}, {n} requested")
            size = r["length_per_unit"] if r["stock_type"] == StockType.FULL_ROLL else r["pieces_per_bundle"] or 1
            amount = n * Decimal(size)
            what = f"{n} {r['available_unit'] if n != 1 else r['available_unit'].rstrip('s')}"
        b = per_batch.setdefault(
            r["batch_id"],
            {
                "batch_no": r["batch_no"],
                "variant": r["variant"],
                "unit": r["unit"],
                "current": r["batch_current_quantity"],
            },
        )
        b.setdefault("lines", []).append(f"{what} from {r['display']}")
        b["total"] = b.get("total", Decimal(0)) + amount
    if short:
        return [], FormError.of(InsufficientStock("Not enough stock: " + "; ".join(short)))
    out = []
    for b in per_batch.values():
        b["after"] = b["current"] - b["total"]
        b["total_text"] = format_qty(b["total"], b["unit"])
        b["after_text"] = format_qty(b["after"], b["unit"])
        out.append(b)
    return out, None


def _selection_context(request, kind: str) -> dict:
    params = request.POST if request.method == "POST" else request.GET
    recs, capped = selection(params)
    chosen = {}
    if request.method == "POST":
        for line in take_lines(request.POST):
            chosen[int_or_none(line["stock_id"])] = line
    return {
        "kind": kind,
        "groups": group_by_batch(recs),
        "capped": capped,
        "max_records": MAX_RECORDS,
        "variants": choices.pipe_variants(),
        "warehouses": choices.warehouses(),
        "customers": choices.customers(),
        "params": params,
        "chosen": chosen,
        "f": request.POST,
    }


def _review_step(request, ctx: dict, lines: list[dict]):
    """The review step: what leaves each batch, checked against the stock as it is now (nothing written). The
    confirmation page carries the selection, with the versions first displayed, in hidden inputs."""
    if request.POST.get("step") == "edit":
        return render_form(request, "web/pipes/select.html", ctx)
    summary, error = review(lines)
    if error:
        return render_form(request, "web/pipes/select.html", ctx, error)
    skip = {"csrfmiddlewaretoken", "step"}
    carried = [(k, v) for k, values in request.POST.lists() if k not in skip for v in values]
    customer = Customer.objects.filter(pk=int_or_none(request.POST.get("customer"))).first()
    extra = {"summary": summary, "carried": carried, "customer": customer}
    return render_form(request, "web/pipes/review.html", {**ctx, **extra})


@role_required("pipes.operate")
def dispatch(request):
    """Select stock records (what can be taken from each is shown), review, then dispatch."""
    ctx = _selection_context(request, "dispatch")
    if request.method != "POST":
        return render_form(request, "web/pipes/select.html", ctx)
    lines = take_lines(request.POST)
    if request.POST.get("step") != "confirm":
        return _review_step(request, ctx, lines)
    result, error = attempt(
        pipes.dispatch_create,
        actor=request.user,
        customer_id=or_none(request.POST.get("customer")),
        lines=lines,
        dispatch_date=or_none(request.POST.get("date")),
        invoice_number=request.POST.get("invoice_number", "").strip(),
        notes=request.POST.get("notes", "").strip(),
        idempotency_key=form_key(request),
    )
    if error:
        return render_form(request, "web/pipes/select.html", ctx, error)
    to = reverse("web:pipe-operation", args=[result["dispatch_id"]])
    return done(request, f"Dispatch {result['dispatch_number']} recorded ({result['lines']} lines).", to)


@role_required("pipes.operate")
def scrap(request):
    """Select damaged stock and a reason; the batch quantity goes down, pieces become SCRAPPED."""
    ctx = _selection_context(request, "scrap")
    if request.method != "POST":
        return render_form(request, "web/pipes/select.html", ctx)
    lines = take_lines(request.POST)
    if request.POST.get("step") != "confirm":
        return _review_step(request, ctx, lines)
    result, error = attempt(
        pipes.scrap_create,
        actor=request.user,
        reason=request.POST.get("reason", ""),
        lines=lines,
        scrap_date=or_none(request.POST.get("date")),
        idempotency_key=form_key(request),
    )
    if error:
        return render_form(request, "web/pipes/select.html", ctx, error)
    to = reverse("web:pipe-operation", args=[result["scrap_id"]])
    return done(request, f"Scrap {result['scrap_number']} recorded ({result['lines']} lines).", to)


# --- operations and reverts ----------------------------------------------------------------------


@role_required("read")
def operations(request):
    kind = request.GET.get("kind") or ""
    qs = (
        pipe_selectors.operations(kind)
        if kind
        else Operation.objects.select_related("customer", "reverts", "created_by").order_by("-pk")
    )
    if request.GET.get("status"):
        qs = qs.filter(status=request.GET["status"])
    if q := request.GET.get("q", "").strip():
        qs = qs.filter(number__icontains=q)
    page, query = paginate(request, qs, 50)
    ctx = {"page": page, "query": query, "kinds": Operation.Kind.choices, "statuses": Operation.Status.choices}
    return render_form(request, "web/pipes/operations.html", {**ctx, "f": request.GET})


def _operation_context(request, op: Operation) -> dict:
    detail = pipe_selectors.operation_detail(op)
    for line in detail["lines"]:
        line["left"] = line["units"] - line["returned_units"]
    user = request.user
    done_ = op.status == Operation.Status.DONE
    return {
        "op": op,
        "detail": detail,
        "returnable": [x for x in detail["lines"] if x["left"] > 0],
        "can_revert_dispatch": op.kind == Operation.Kind.DISPATCH and done_ and can(user, "pipes.revert_dispatch"),
        "can_close": op.kind == Operation.Kind.DISPATCH and done_ and can(user, "pipes.operate"),
        "can_revert_scrap": op.kind == Operation.Kind.SCRAP and done_ and can(user, "pipes.revert_privileged"),
        "can_revert_return": op.kind == Operation.Kind.RETURN and done_ and can(user, "pipes.revert_privileged"),
        "warehouses": choices.warehouses(),
        "f": request.POST,
        "reload_url": reverse("web:pipe-operation", args=[op.pk]),
    }


@role_required("read")
def operation(request, pk: int):
    op = get_object_or_404(Operation.objects.select_related("customer", "reverts", "created_by"), pk=pk)
    return render_form(request, "web/pipes/operation.html", _operation_context(request, op))


def _op_action(request, pk: int, kind: str, call):
    op = get_object_or_404(Operation, pk=pk, kind=kind)
    result, error = call(op)
    if error:
        return render_form(request, "web/pipes/operation.html", _operation_context(request, op), error)
    return result


@require_POST
@role_required("pipes.revert_dispatch")
def dispatch_revert(request, pk: int):
    """The customer brought (some of) a dispatch back: a NEW return batch per variant."""

    def call(op):
        lines = None
        if request.POST.get("scope") == "chosen":
            lines = []
            for key in request.POST:
                if key.startswith("ret-") and request.POST[key].strip() not in ("", "0"):
                    lines.append({"line_id": key[4:], "quantity": request.POST[key].strip()})
            if not lines:
                return None, FormError.of(ValidationError("Choose what came back, or choose “everything”."))
        result, error = attempt(
            pipes.dispatch_revert,
            actor=request.user,
            dispatch_id=op.pk,
            lines=lines,
            warehouse_id=or_none(request.POST.get("warehouse")),
            return_date=or_none(request.POST.get("return_date")),
            notes=request.POST.get("notes", "").strip(),
            idempotency_key=form_key(request),
        )
        if error:
            return None, error
        numbers = ", ".join(f"#{b['batch_no']}" for b in result["batches"])
        to = reverse("web:pipe-operation", args=[result["return_id"]])
        return done(request, f"Return {result['return_number']} recorded: new batch {numbers}.", to), None

    return _op_action(request, pk, Operation.Kind.DISPATCH, call)


@require_POST
@role_required("pipes.operate")
def dispatch_close(request, pk: int):
    def call(op):
        result, error = attempt(
            pipes.dispatch_close, actor=request.user, dispatch_id=op.pk, idempotency_key=form_key(request)
        )
        if error:
            return None, error
        to = reverse("web:pipe-operation", args=[op.pk])
        return done(
            request, f"Dispatch {result['dispatch_number']} closed: {result['sold_out']} pieces sold out.", to
        ), None

    return _op_action(request, pk, Operation.Kind.DISPATCH, call)


@require_POST
@role_required("pipes.revert_privileged")
def scrap_revert(request, pk: int):
    def call(op):
        result, error = attempt(
            pipes.scrap_revert, actor=request.user, scrap_id=op.pk, idempotency_key=form_key(request)
        )
        if error:
            return None, error
        return done(
            request,
            f"Scrap {op.number} reverted: the items are back in stock.",
            reverse("web:pipe-operation", args=[op.pk]),
        ), None

    return _op_action(request, pk, Operation.Kind.SCRAP, call)


@require_POST
@role_required("pipes.revert_privileged")
def return_revert(request, pk: int):
    def call(op):
        result, error = attempt(
            pipes.return_revert, actor=request.user, return_id=op.pk, idempotency_key=form_key(request)
        )
        if error:
            return None, error
        return done(request, f"Return {op.number} reverted.", reverse("web:pipe-operation", args=[op.pk])), None

    return _op_action(request, pk, Operation.Kind.RETURN, call)
