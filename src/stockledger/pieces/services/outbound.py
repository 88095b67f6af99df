"""Stock going out: dispatch (to a customer) and scrap, and closing a dispatch (its pieces SOLD_OUT).

Lines are in stock units: {stock_id, quantity} takes rolls (FULL_ROLL), bundles (BUNDLE) or any spare
pieces (SPARE); {stock_id, piece_ids} takes named cut or spare pieces. The batch quantity moves through
the stock engine (issue_locked: one ISSUE ledger row per batch, in metres or pieces).
"""

from collections import defaultdict
from decimal import Decimal

from django.db.models import F

from stockledger.core.errors import InsufficientStock
from stockledger.core.idempotency import run_once
from stockledger.core.locking import lock
from stockledger.core.roles import authorize
from stockledger.stock.engine import Posting
from stockledger.stock.models import Batch
from stockledger.stock.services import issue_locked

from ..models import PIECE_TYPES, CutPiece, Operation, OperationLine, PieceStatus, SparePiece, Stock, StockType
from ..rules import Problems, TakeLine, as_date, parse_take_lines
from ..selectors import returned_units
from .common import (
    check_active,
    check_version,
    customer_or_none,
    invalid,
    lock_operation,
    lock_stocks_and_batches,
    move_pieces,
    new_operation,
    not_in_stock,
    op_audit,
    records_audit,
    refresh_stocks,
    set_status,
    stock_state,
)

K = Operation.Kind
IN = PieceStatus.IN_STOCK
UNIT_WORD = {StockType.FULL_ROLL: "rolls", StockType.BUNDLE: "bundles", StockType.SPARE: "spare pieces"}


def _check_lines(parsed: list[TakeLine], stocks: dict[int, Stock]) -> dict[int, dict[int, object]]:
    """400 for lines that do not fit their stock record; returns the named pieces per stock id."""
    problems = Problems()
    pieces: dict[int, dict[int, object]] = defaultdict(dict)
    for t in parsed:
        at = f"lines.{t.i}"
        s = stocks.get(t.stock_id)
        if s is None:
            problems.add(f"{at}.stock_id", f"unknown stock record {t.stock_id}")
            continue
        if t.piece_ids is not None and s.stock_type not in PIECE_TYPES:
            problems.add(f"{at}.piece_ids", f"a {s.stock_type} record is taken by quantity ({UNIT_WORD[s.stock_type]})")
        elif t.quantity is not None and s.stock_type == StockType.CUT_ROLL:
            problems.add(f"{at}.quantity", "cut pieces differ in length: choose them by piece_ids")
        elif t.piece_ids:
            model = CutPiece if s.stock_type == StockType.CUT_ROLL else SparePiece
            found = {p.pk: p for p in model.objects.filter(pk__in=t.piece_ids, stock_id=s.pk)}
            for pk in t.piece_ids:
                if pk not in found:
                    problems.add(f"{at}.piece_ids", f"piece {pk} is not in stock record {s.pk}")
            pieces[s.pk].update(found)
    problems.raise_if_any()
    return pieces


def take(
    *, actor, op: Operation, parsed: list[TakeLine], to_status: str, action: str, allow_expired: bool, key: str = ""
) -> dict:
    """Lock, check every line, then write stock records, pieces, operation lines, ledger and audit."""
    stocks, batches = lock_stocks_and_batches(t.stock_id for t in parsed)
    named = _check_lines(parsed, stocks)
    authorize(actor, "pipes.operate", [b.warehouse_id for b in batches.values()])
    for t in parsed:
        check_version(stocks[t.stock_id], t.stock_version, "stock")
        check_version(batches[stocks[t.stock_id].batch_id], t.batch_version, "batch")
    for b in batches.values():
        check_active(b)
    bad = [{"piece_id": p.pk, "status": p.status} for ps in named.values() for p in ps.values() if p.status != IN]
    if bad:
        raise not_in_stock(bad)

    units: dict[int, int] = defaultdict(int)
    picked: dict[int, list[int]] = defaultdict(list)
    for t in parsed:
        if t.quantity is not None:
            units[t.stock_id] += t.quantity
        else:
            picked[t.stock_id].extend(t.piece_ids)
    short = []
    for pk, n in units.items():
        s = stocks[pk]
        if s.stock_type == StockType.SPARE:
            free = SparePiece.objects.filter(stock=s, status=IN).exclude(pk__in=picked[pk]).order_by("pk")
            chosen = list(free.values_list("pk", flat=True)[:n])
            if len(chosen) < n:
                short.append({"stock_id": pk, "stock_type": s.stock_type, "available": len(chosen), "requested": n})
            picked[pk].extend(chosen)
        elif n > s.quantity:
            short.append({"stock_id": pk, "stock_type": s.stock_type, "available": s.quantity, "requested": n})
    if short:
        raise InsufficientStock(
            "Not enough stock: "
            + "; ".join(
                f"stock record {x['stock_id']} has {x['available']} {UNIT_WORD[x['stock_type']]}, "
                f"{x['requested']} requested"
                for x in short
            ),
            extra={"lines": short},
        )

    lines = []
    for pk, n in units.items():
        s = stocks[pk]
        if s.stock_type in (StockType.FULL_ROLL, StockType.BUNDLE):
            size = s.length_per_unit if s.stock_type == StockType.FULL_ROLL else s.pieces_per_bundle
            lines.append(_line(op, s, units=n, qty=n * Decimal(size)))
    lengths = dict(
        CutPiece.objects.filter(pk__in=[p for pk in picked for p in picked[pk]]).values_list("pk", "length_meters")
    )
    for pk, ids in picked.items():
        s = stocks[pk]
        for pid in ids:
            if s.stock_type == StockType.CUT_ROLL:
                lines.append(_line(op, s, units=1, qty=lengths[pid], cut_piece_id=pid))
            else:
                lines.append(_line(op, s, units=1, qty=Decimal(1), spare_piece_id=pid))
    per_batch: dict[int, Decimal] = defaultdict(Decimal)
    for line in lines:
        per_batch[line.batch_id] += line.qty
    short = [
        {
            "batch_id": b,
            "batch_no": batches[b].batch_no,
            "available": str(batches[b].available_qty),
            "requested": str(q),
        }
        for b, q in per_batch.items()
        if q > batches[b].available_qty
    ]
    if short:
        raise InsufficientStock(
            "Not enough stock: "
            + "; ".join(f"batch #{x['batch_no']} has {x['available']}, {x['requested']} requested" for x in short),
            extra={"lines": short},
        )

    before = {s.pk: stock_state(s) for s in stocks.values()}
    for pk, n in units.items():
        if stocks[pk].stock_type != StockType.SPARE:
            Stock.objects.filter(pk=pk).update(quantity=F("quantity") - n, version=F("version") + 1)
    for pk, ids in picked.items():
        model = CutPiece if stocks[pk].stock_type == StockType.CUT_ROLL else SparePiece
        move_pieces(model, ids, frm=IN, to=to_status, op=op)
    OperationLine.objects.bulk_create(lines, batch_size=500)
    issue_locked(
        lines=[
            {"i": n, "batch_id": b, "qty": q, "version": None} for n, (b, q) in enumerate(sorted(per_batch.items()))
        ],
        batches={b: batches[b] for b in per_batch},
        posting=Posting(actor, f"pipe_{op.kind.lower()}", op.pk, key, op.reason, f"batch.pipe_{op.kind.lower()}"),
        allow_expired=allow_expired,
    )
    refresh_stocks(list(stocks.values()))
    records_audit(actor, action, list(stocks.values()), before, operation=op.number)
    return {
        "batches": [_batch_state(batches[b]) for b in sorted(per_batch)],
        "stocks": [stock_state(stocks[pk]) for pk in sorted(stocks)],
        "lines": len(lines),
    }


def _line(op: Operation, s: Stock, **kw) -> OperationLine:
    return OperationLine(
        operation=op,
        batch_id=s.batch_id,
        stock=s,
        stock_type=s.stock_type,
        length_per_unit=s.length_per_unit,
        pieces_per_bundle=s.pieces_per_bundle,
        **kw,
    )


def _batch_state(b: Batch) -> dict:
    return {"batch_id": b.pk, "batch_no": b.batch_no, "current_quantity": b.usable_qty, "version": b.version}


def dispatch_create(
    *,
    actor,
    customer_id,
    lines,
    dispatch_date=None,
    invoice_number: str = "",
    notes: str = "",
    idempotency_key: str | None = None,
) -> dict:
    """Dispatch to a customer from specific stock records of one or more batches. Stale batch / stock
    versions sent by the client → 409 stale_version ("Batch was modified, please retry")."""
    authorize(actor, "pipes.operate")
    problems = Problems()
    customer = customer_or_none(customer_id, problems, required=True)
    day = as_date(dispatch_date, "dispatch_date", problems)
    parsed = parse_take_lines(lines, problems)
    problems.raise_if_any()

    def work():
        op = new_operation(
            K.DISPATCH, actor, op_date=day, customer=customer, invoice_number=invoice_number or "", reason=notes
        )
        out = take(
            actor=actor,
            op=op,
            parsed=parsed,
            to_status=PieceStatus.DISPATCHED,
            action="stock.dispatch",
            allow_expired=False,
            key=idempotency_key or "",
        )
        op_audit(actor, op, "pipes.dispatch", after={"customer_id": customer.pk, "batches": out["batches"]})
        return {"dispatch_id": op.pk, "dispatch_number": op.number, **out}

    payload = {"customer": customer_id, "lines": lines, "date": str(day), "invoice": invoice_number}
    return run_once(idempotency_key, "pipe_dispatch", actor, work, payload)


def scrap_create(*, actor, reason: str, lines, scrap_date=None, idempotency_key: str | None = None) -> dict:
    """Scrap damaged stock (rolls, bundles, or named pieces / a number of spares) with a reason."""
    authorize(actor, "pipes.operate")
    problems = Problems()
    if not str(reason or "").strip():
        problems.add("reason", "a scrap reason is required")
    day = as_date(scrap_date, "scrap_date", problems)
    parsed = parse_take_lines(lines, problems)
    problems.raise_if_any()

    def work():
        op = new_operation(K.SCRAP, actor, op_date=day, reason=str(reason).strip()[:300])
        out = take(
            actor=actor,
            op=op,
            parsed=parsed,
            to_status=PieceStatus.SCRAPPED,
            action="stock.scrap",
            allow_expired=True,
            key=idempotency_key or "",
        )
        op_audit(actor, op, "pipes.scrap", after={"reason": op.reason, "batches": out["batches"]})
        return {"scrap_id": op.pk, "scrap_number": op.number, **out}

    return run_once(idempotency_key, "pipe_scrap", actor, work, {"reason": reason, "lines": lines, "date": str(day)})


def dispatch_close(*, actor, dispatch_id: int, idempotency_key: str | None = None) -> dict:
    """Close a dispatch: its pieces not returned become SOLD_OUT and nothing of it can be returned since."""
    authorize(actor, "pipes.operate")

    def work():
        op = lock_operation(dispatch_id, K.DISPATCH, "Dispatch")
        if op.status != Operation.Status.DONE:
            raise invalid(f"Dispatch {op.number} is already {op.status.lower()}.", dispatch_id=op.pk)
        lines = list(op.lines.all())
        stocks = lock(Stock, {line.stock_id for line in lines})
        batch_wh = dict(
            Batch.objects.filter(pk__in={s.batch_id for s in stocks.values()}).values_list("pk", "warehouse_id")
        )
        authorize(actor, "pipes.operate", list(batch_wh.values()))
        close = new_operation(K.DISPATCH_CLOSE, actor, reverts=None, details={"dispatch_id": op.pk})
        returned = returned_units(line.pk for line in lines)
        cut = [x.cut_piece_id for x in lines if x.cut_piece_id and not returned.get(x.pk)]
        spare = [x.spare_piece_id for x in lines if x.spare_piece_id and not returned.get(x.pk)]
        move_pieces(CutPiece, cut, frm=PieceStatus.DISPATCHED, to=PieceStatus.SOLD_OUT, op=close)
        move_pieces(SparePiece, spare, frm=PieceStatus.DISPATCHED, to=PieceStatus.SOLD_OUT, op=close)
        set_status(op, Operation.Status.CLOSED)
        op_audit(
            actor,
            op,
            "pipes.dispatch_close",
            {"status": "DONE"},
            {"status": op.status, "sold_out": len(cut) + len(spare)},
        )
        return {
            "dispatch_id": op.pk,
            "dispatch_number": op.number,
            "status": op.status,
            "sold_out": len(cut) + len(spare),
        }

    return run_once(idempotency_key, "pipe_dispatch_close", actor, work, {"dispatch": dispatch_id})
