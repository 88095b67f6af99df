"""Reverts: scrap revert (same batch, RESTORE), dispatch revert (a customer return: a NEW batch) and
return revert (the return's batches REVERTED, to zero, through a REVERT ledger row).

Each is all-or-nothing where the spec says so, and each compensating ledger row points to the row it
reverts (`reverts`), so the ledger reads as a history, never as an edit.
"""

from collections import defaultdict
from decimal import Decimal

from django.db.models import F

from stockledger.core import audit
from stockledger.core.errors import StaleVersion, ValidationError
from stockledger.core.idempotency import run_once
from stockledger.core.roles import authorize
from stockledger.stock import engine
from stockledger.stock.engine import Delta, Posting
from stockledger.stock.models import Batch, LedgerEntry

from ..models import CutPiece, Operation, OperationLine, PieceStatus, SparePiece, Stock, StockType
from ..rules import Problems, StockSpec, as_date, count, merge_specs, optional_int
from ..selectors import returned_units
from .common import (
    STALE,
    check_active,
    invalid,
    lock_operation,
    lock_stocks_and_batches,
    move_pieces,
    new_operation,
    op_audit,
    records_audit,
    refresh_stocks,
    set_status,
    stock_state,
    warehouse_or_yard,
)
from .intake import batch_result, intake, lock_inventory_rows

K = Operation.Kind
LK = LedgerEntry.Kind


def _entries(doc_type: str, op: Operation) -> dict[int, int]:
    """batch id -> the ledger row an operation wrote for it (pipe services write one row per batch)."""
    return dict(LedgerEntry.objects.filter(doc_type=doc_type, doc_id=str(op.pk)).values_list("batch_id", "pk"))


def _batch_states(batches) -> list[dict]:
    return [
        {"batch_id": b.pk, "batch_no": b.batch_no, "current_quantity": b.usable_qty, "status": b.status}
        for b in sorted(batches, key=lambda b: b.pk)
    ]


# --- scrap revert --------------------------------------------------------------------------------


def scrap_revert(*, actor, scrap_id: int, idempotency_key: str | None = None) -> dict:
    """Undo a scrap, all of it: the pieces back IN_STOCK, rolls / bundles back on their records, the batch
    quantity restored (RESTORE). LM / ADMIN. Refused when already reverted or a piece changed since."""
    authorize(actor, "pipes.revert_privileged")

    def work():
        op = lock_operation(scrap_id, K.SCRAP, "Scrap")
        if op.status == Operation.Status.REVERTED:
            raise invalid(f"Scrap {op.number} was already reverted; a scrap is reverted once.", scrap_id=op.pk)
        lines = list(op.lines.all())
        stocks, batches = lock_stocks_and_batches({line.stock_id for line in lines})
        authorize(actor, "pipes.revert_privileged", [b.warehouse_id for b in batches.values()])
        for b in batches.values():
            check_active(b)
        cut = [x.cut_piece_id for x in lines if x.cut_piece_id]
        spare = [x.spare_piece_id for x in lines if x.spare_piece_id]
        moved = [
            {"piece_id": pk, "status": st}
            for model, ids in ((CutPiece, cut), (SparePiece, spare))
            for pk, st, by in model.objects.filter(pk__in=ids).values_list("pk", "status", "status_op_id")
            if st != PieceStatus.SCRAPPED or by != op.pk
        ]
        if moved:
            text = ", ".join(f"piece #{p['piece_id']} is {p['status']}" for p in moved)
            raise invalid(f"Scrap {op.number} cannot be reverted: {text} now.", pieces=moved)
        rev = new_operation(K.SCRAP_REVERT, actor, reverts=op, reason=op.reason)
        before = {s.pk: stock_state(s) for s in stocks.values()}
        units: dict[int, int] = defaultdict(int)
        per_batch: dict[int, Decimal] = defaultdict(Decimal)
        for x in lines:
            per_batch[x.batch_id] += x.qty
            if x.stock_type in (StockType.FULL_ROLL, StockType.BUNDLE):
                units[x.stock_id] += x.units
        for pk, n in units.items():
            Stock.objects.filter(pk=pk).update(quantity=F("quantity") + n, version=F("version") + 1)
        move_pieces(CutPiece, cut, frm=PieceStatus.SCRAPPED, to=PieceStatus.IN_STOCK, op=rev)
        move_pieces(SparePiece, spare, frm=PieceStatus.SCRAPPED, to=PieceStatus.IN_STOCK, op=rev)
        reverted = _entries("pipe_scrap", op)
        engine.apply(
            [Delta(qty=q, kind=LK.RESTORE, batch=batches[b], reverts_id=reverted.get(b)) for b, q in per_batch.items()],
            Posting(actor, "pipe_scrap_revert", rev.pk, idempotency_key or "", op.reason, "batch.pipe_scrap_revert"),
        )
        set_status(op, Operation.Status.REVERTED)
        refresh_stocks(list(stocks.values()))
        records_audit(actor, "stock.scrap_revert", list(stocks.values()), before, operation=rev.number)
        op_audit(actor, op, "pipes.scrap_revert", {"status": "DONE"}, {"status": op.status, "revert": rev.number})
        return {
            "scrap_id": op.pk,
            "scrap_number": op.number,
            "revert_id": rev.pk,
            "status": op.status,
            "message": f"Scrap {op.number} reverted.",
            "batches": _batch_states(batches.values()),
        }

    return run_once(idempotency_key, "pipe_scrap_revert", actor, work, {"scrap": scrap_id})


# --- dispatch revert (customer return) -----------------------------------------------------------


def _parse_revert_lines(lines, problems: Problems) -> list[tuple[int, int | None]] | None:
    if lines is None or lines == []:
        return None  # everything not yet returned
    if not isinstance(lines, list | tuple):
        problems.add("lines", "a list of {line_id, quantity?}")
        return []
    out = []
    for i, line in enumerate(lines):
        if not isinstance(line, dict) or line.get("line_id") is None:
            problems.add(f"lines.{i}.line_id", "name a line of the dispatch (line_id)")
            continue
        for key in sorted(set(line) - {"line_id", "quantity"}):
            problems.add(f"lines.{i}.{key}", "unknown field; a line is {line_id, quantity?}")
        pk = optional_int(line["line_id"], f"lines.{i}.line_id", problems)
        n = count(line["quantity"], f"lines.{i}.quantity", problems) if line.get("quantity") is not None else None
        out.append((pk, n))
    return out


def dispatch_revert(
    *,
    actor,
    dispatch_id: int,
    lines=None,
    warehouse_id=None,
    return_date=None,
    batch_no: str | None = None,
    notes: str = "",
    idempotency_key: str | None = None,
) -> dict:
    """The customer brought (some of) a dispatch back: a NEW return batch per variant holding what came
    back (all of it, or the chosen lines / a number of rolls or bundles of a line). The original batch is
    never restored. Refused for lines already returned and for a closed dispatch (SOLD_OUT)."""
    authorize(actor, "pipes.revert_dispatch")
    problems = Problems()
    chosen = _parse_revert_lines(lines, problems)
    day = as_date(return_date, "return_date", problems)
    problems.raise_if_any()

    def work():
        op = lock_operation(dispatch_id, K.DISPATCH, "Dispatch")
        if op.status == Operation.Status.CLOSED:
            raise invalid(
                f"Dispatch {op.number} is closed: its items are SOLD_OUT and cannot be returned.", dispatch_id=op.pk
            )
        dlines = {x.pk: x for x in op.lines.select_related("batch__item__product_type", "cut_piece")}
        back = returned_units(dlines)
        left = {pk: x.units - back.get(pk, 0) for pk, x in dlines.items()}
        wanted = _wanted(chosen, dlines, left)
        sold = _sold_out([x for x, _ in wanted])
        if sold:
            raise invalid("These items are SOLD_OUT and cannot be returned.", lines=sold)
        per_item: dict[int, list] = {}
        for x, n in wanted:
            per_item.setdefault(x.batch.item_id, []).append((x, n))
        if batch_no and len(per_item) > 1:
            raise ValidationError(
                "batch_no can name the new batch only when one variant comes back.", fields={"batch_no": ["ambiguous"]}
            )
        targets = {
            i: warehouse_or_yard(warehouse_id if warehouse_id is not None else v[0][0].batch.warehouse_id)
            for i, v in per_item.items()
        }
        authorize(actor, "pipes.revert_dispatch", [w.pk for w in targets.values()])
        rev = new_operation(
            K.RETURN,
            actor,
            op_date=day,
            reverts=op,
            customer=op.customer,
            reason=notes,
            details={"dispatch_id": op.pk, "dispatch_number": op.number},
        )
        posting = Posting(actor, "pipe_return", rev.pk, idempotency_key or "", notes, "batch.pipe_return")
        lock_inventory_rows((i, targets[i].pk) for i in sorted(per_item))
        made = []
        for item_id in sorted(per_item):
            made.append(_return_variant(actor, rev, per_item[item_id], targets[item_id], posting, day, batch_no))
        ids = [m["batch_id"] for m in made]
        op_audit(actor, op, "pipes.dispatch_revert", after={"return": rev.number, "batch_ids": ids})
        return {
            "dispatch_id": op.pk,
            "return_id": rev.pk,
            "return_number": rev.number,
            "new_batch_id": made[0]["batch_id"],
            "batch_ids": [m["batch_id"] for m in made],
            "batches": made,
        }

    payload = {"dispatch": dispatch_id, "lines": lines, "warehouse": warehouse_id, "date": str(day), "no": batch_no}
    return run_once(idempotency_key, "pipe_dispatch_revert", actor, work, payload)


def _sold_out(lines: list[OperationLine]) -> list[dict]:
    out = []
    for model, attr in ((CutPiece, "cut_piece_id"), (SparePiece, "spare_piece_id")):
        line_of = {getattr(x, attr): x.pk for x in lines if getattr(x, attr)}
        for pk in model.objects.filter(pk__in=line_of, status=PieceStatus.SOLD_OUT).values_list("pk", flat=True):
            out.append({"line_id": line_of[pk], "piece_id": pk})
    return out


def _wanted(chosen, dlines: dict, left: dict) -> list[tuple[OperationLine, int]]:
    if chosen is None:
        wanted = [(x, left[pk]) for pk, x in sorted(dlines.items()) if left[pk] > 0]
        if not wanted:
            raise invalid("Everything in this dispatch was already returned.")
        return wanted
    problems, done, wanted = Problems(), [], []
    asked: dict[int, int] = defaultdict(int)
    for i, (pk, n) in enumerate(chosen):
        if pk not in dlines:
            problems.add(f"lines.{i}.line_id", f"line {pk} is not a line of this dispatch")
            continue
        asked[pk] += n or left[pk] or 1
        wanted.append((dlines[pk], n or left[pk]))
    problems.raise_if_any()
    for pk, n in asked.items():
        if n > left[pk]:
            done.append({"line_id": pk, "returnable": left[pk], "requested": n})
    if done:
        text = "; ".join(f"line {d['line_id']}: {d['returnable']} returnable, {d['requested']} asked" for d in done)
        raise invalid(f"Already returned: {text}.", lines=done)
    return wanted


def _return_variant(actor, rev: Operation, wanted, warehouse, posting: Posting, day, batch_no) -> dict:
    """One new batch for one variant's returned lines; each return line points to its dispatch line."""
    item = wanted[0][0].batch.item
    specs = []
    for x, n in wanted:
        if x.stock_type == StockType.CUT_ROLL:
            specs.append(StockSpec(StockType.CUT_ROLL, piece_lengths=[x.qty]))
        else:
            specs.append(StockSpec(x.stock_type, n, x.length_per_unit, x.pieces_per_bundle))
    b, made = intake(
        actor=actor,
        op=rev,
        item=item,
        warehouse=warehouse,
        specs=merge_specs(specs),
        posting=posting,
        origin=Batch.Origin.RETURN,
        lines=False,
        batch_date=day,
        batch_no=batch_no or None,
    )
    by_key = {(rec.stock_type, rec.length_per_unit, rec.pieces_per_bundle): (rec, list(p)) for rec, p in made}
    rows = []
    for x, n in wanted:
        rec, pieces = by_key[(x.stock_type, x.length_per_unit, x.pieces_per_bundle)]
        piece = pieces.pop(0) if x.stock_type in (StockType.CUT_ROLL, StockType.SPARE) else None
        rows.append(
            OperationLine(
                operation=rev,
                batch=b,
                stock=rec,
                stock_type=x.stock_type,
                units=n,
                qty=x.qty if piece else n * (x.length_per_unit or x.pieces_per_bundle),
                length_per_unit=x.length_per_unit,
                pieces_per_bundle=x.pieces_per_bundle,
                cut_piece=piece if x.stock_type == StockType.CUT_ROLL else None,
                spare_piece=piece if x.stock_type == StockType.SPARE else None,
                source_line=x,
            )
        )
    OperationLine.objects.bulk_create(rows)
    return batch_result(b, made)


# --- return revert -------------------------------------------------------------------------------


def return_revert(*, actor, return_id: int, idempotency_key: str | None = None) -> dict:
    """Undo a return entered by mistake, all of it: each of its batches REVERTED with current quantity 0
    (a REVERT ledger row), its pieces REVERTED. LM / ADMIN. Refused if any of its items was dispatched."""
    authorize(actor, "pipes.revert_privileged")

    def work():
        op = lock_operation(return_id, K.RETURN, "Return")
        if op.status == Operation.Status.REVERTED:
            raise invalid(f"Return {op.number} was already reverted.", return_id=op.pk)
        batch_ids = set(op.lines.values_list("batch_id", flat=True))
        stock_ids = set(Stock.objects.filter(batch_id__in=batch_ids).values_list("pk", flat=True))
        stocks, batches = lock_stocks_and_batches(stock_ids)
        if set(Stock.objects.filter(batch_id__in=batch_ids).values_list("pk", flat=True)) != stock_ids:
            raise StaleVersion(STALE, extra={"reason": "a stock record was added concurrently"})
        authorize(actor, "pipes.revert_privileged", [b.warehouse_id for b in batches.values()])
        sent = list(
            OperationLine.objects.filter(batch_id__in=batch_ids, operation__kind=K.DISPATCH)
            .values_list("operation__number", flat=True)
            .distinct()
        )
        if sent:
            raise invalid(
                f"Return {op.number} cannot be reverted: some of its items were dispatched "
                f"({', '.join(sorted(sent))}).",
                dispatches=sorted(sent),
            )
        for b in batches.values():
            check_active(b)
            if b.reserved_qty:
                raise invalid(f"Batch #{b.batch_no} has reserved stock; release it first.", batch_id=b.pk)
        rev = new_operation(K.RETURN_REVERT, actor, reverts=op)
        before = {s.pk: stock_state(s) for s in stocks.values()}
        Stock.objects.filter(pk__in=stock_ids, stock_type__in=[StockType.FULL_ROLL, StockType.BUNDLE]).update(
            quantity=0, version=F("version") + 1
        )
        for model in (CutPiece, SparePiece):
            model.objects.filter(stock_id__in=stock_ids, status=PieceStatus.IN_STOCK).update(
                status=PieceStatus.REVERTED, status_op=rev
            )
        received = dict(
            LedgerEntry.objects.filter(batch_id__in=batch_ids, kind=LK.RECEIVE).values_list("batch_id", "pk")
        )
        deltas = [
            Delta(qty=-b.usable_qty, kind=LK.REVERT, batch=b, reverts_id=received.get(b.pk))
            for b in batches.values()
            if b.usable_qty
        ]
        posting = Posting(actor, "pipe_return_revert", rev.pk, idempotency_key or "", "", "batch.pipe_return_revert")
        if deltas:
            engine.apply(deltas, posting)
        Batch.objects.filter(pk__in=batch_ids).update(status=Batch.Status.REVERTED, version=F("version") + 1)
        changes = []
        for b in batches.values():
            changes.append(
                audit.Change(
                    "batch.revert", "batch", b.pk, {"status": b.status}, {"status": "REVERTED", "doc": rev.number}
                )
            )
            b.status, b.version = Batch.Status.REVERTED, b.version + 1
        audit.record_many(actor, changes)
        set_status(op, Operation.Status.REVERTED)
        refresh_stocks(list(stocks.values()))
        records_audit(actor, "stock.return_revert", list(stocks.values()), before, operation=rev.number)
        op_audit(actor, op, "pipes.return_revert", {"status": "DONE"}, {"status": op.status, "revert": rev.number})
        return {
            "return_id": op.pk,
            "return_number": op.number,
            "revert_id": rev.pk,
            "status": op.status,
            "message": f"Return {op.number} reverted.",
            "batches": _batch_states(batches.values()),
        }

    return run_once(idempotency_key, "pipe_return_revert", actor, work, {"return": return_id})
