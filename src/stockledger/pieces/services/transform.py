"""Transformations: cut a roll or piece, split a bundle, combine spares into a bundle.

A transformation changes the form of stock, never its amount: no ledger row, the batch quantity (and
the batch row) unchanged; a transformation operation, piece lineage and audit rows record it.
"""

from django.db.models import F

from stockledger.core.errors import InsufficientStock, NotFound
from stockledger.core.idempotency import run_once
from stockledger.core.roles import authorize

from ..models import CutPiece, Operation, PieceStatus, SparePiece, Stock, StockType
from ..rules import Problems, bundles_from, check_cut, count, id_list, optional_int
from .common import (
    check_active,
    check_version,
    invalid,
    lock_stocks_and_batches,
    move_pieces,
    new_cut_pieces,
    new_operation,
    new_spare_pieces,
    not_in_stock,
    op_audit,
    piece_record,
    records_audit,
    refresh_stocks,
    stock_state,
)

K = Operation.Kind
IN = PieceStatus.IN_STOCK


def _stock(stock_id) -> Stock:
    try:
        pk = int(stock_id)
    except (TypeError, ValueError):
        raise NotFound(f"Stock record {stock_id} not found.") from None
    stock = Stock.objects.select_related("batch__item__product_type").filter(pk=pk).first()
    if stock is None:
        raise NotFound(f"Stock record {pk} not found.")
    return stock


def _result(op: Operation, batch, *stocks: Stock) -> dict:
    return {
        "operation_id": op.pk,
        "operation_number": op.number,
        "batch_id": batch.pk,
        "batch_no": batch.batch_no,
        "current_quantity": batch.usable_qty,
        "batch_version": batch.version,
        "stocks": [stock_state(s) for s in stocks],
    }


def stock_cut(
    *,
    actor,
    stock_id,
    piece1_length,
    piece2_length,
    piece_id=None,
    version: int | None = None,
    idempotency_key: str | None = None,
) -> dict:
    """Cut one full roll (FULL_ROLL −1) or one IN_STOCK cut piece (→ CUT) into exactly two pieces whose
    lengths add up to the source; the pieces join the batch's CUT_ROLL record."""
    authorize(actor, "pipes.operate")
    stock = _stock(stock_id)
    if stock.stock_type not in (StockType.FULL_ROLL, StockType.CUT_ROLL):
        raise invalid(
            f"Only HDPE rolls can be cut (a FULL_ROLL or CUT_ROLL record); stock record {stock.pk} is a "
            f"{stock.stock_type}.",
            stock_id=stock.pk,
        )
    problems = Problems()
    piece = None
    if stock.stock_type == StockType.CUT_ROLL:
        pk = optional_int(piece_id, "piece_id", problems)
        if piece_id is None:
            problems.add("piece_id", "name the cut piece to cut (piece_id) when cutting from a CUT_ROLL record")
        elif pk is not None:
            piece = CutPiece.objects.filter(pk=pk, stock=stock).first()
            if piece is None:
                problems.add("piece_id", f"piece {pk} is not in stock record {stock.pk}")
    elif piece_id is not None:
        problems.add("piece_id", "a FULL_ROLL record is cut one whole roll at a time; piece_id is for CUT_ROLL")
    source_length = piece.length_meters if piece else stock.length_per_unit
    decimals = stock.batch.item.product_type.unit_decimals
    lengths = check_cut(source_length, piece1_length, piece2_length, decimals, problems) if source_length else ()
    problems.raise_if_any()
    authorize(actor, "pipes.operate", [stock.batch.warehouse_id])

    def work():
        stocks, batches = lock_stocks_and_batches([stock.pk], piece_slots=[StockType.CUT_ROLL])
        src, batch = stocks[stock.pk], batches[stock.batch_id]
        check_active(batch)
        check_version(src, version, "stock")
        before = {src.pk: stock_state(src)}
        if piece is None and src.quantity < 1:
            raise InsufficientStock(f"Stock record {src.pk} has no full roll left to cut.", extra={"stock_id": src.pk})
        if piece is not None:
            status = CutPiece.objects.get(pk=piece.pk).status
            if status != IN:
                raise not_in_stock([{"piece_id": piece.pk, "status": status}])
        op = new_operation(K.CUT, actor)
        target = piece_record(batch, StockType.CUT_ROLL, op)
        before.setdefault(target.pk, stock_state(target))
        if piece is None:
            Stock.objects.filter(pk=src.pk).update(quantity=F("quantity") - 1, version=F("version") + 1)
            made = new_cut_pieces(target, list(lengths), op, cut_from_stock=src)
        else:
            move_pieces(CutPiece, [piece.pk], frm=IN, to=PieceStatus.CUT, op=op)
            made = new_cut_pieces(target, list(lengths), op, cut_from_piece=piece)
        changed = [src] if src.pk == target.pk else [src, target]
        refresh_stocks(changed)
        details = {
            "source_stock_id": src.pk,
            "source_piece_id": piece.pk if piece else None,
            "source_length": str(source_length),
            "piece_ids": [p.pk for p in made],
            "lengths": [str(x) for x in lengths],
        }
        Operation.objects.filter(pk=op.pk).update(details=details)
        records_audit(actor, "stock.cut", changed, before, operation=op.number)
        op_audit(actor, op, "pipes.cut", after=details)
        return {**_result(op, batch, *changed), "new_stock_id": target.pk, "piece_ids": [p.pk for p in made]}

    payload = {"stock": stock.pk, "piece": piece_id, "a": str(piece1_length), "b": str(piece2_length), "v": version}
    return run_once(idempotency_key, "pipe_cut", actor, work, payload)


def bundle_split(*, actor, stock_id, version: int | None = None, idempotency_key: str | None = None) -> dict:
    """Split one whole bundle (BUNDLE −1) into pieces_per_bundle spare pieces of the batch's SPARE record."""
    authorize(actor, "pipes.operate")
    stock = _stock(stock_id)
    if stock.stock_type != StockType.BUNDLE:
        raise invalid(
            f"Only a bundle (a BUNDLE record) can be split; stock record {stock.pk} is a {stock.stock_type}.",
            stock_id=stock.pk,
        )
    authorize(actor, "pipes.operate", [stock.batch.warehouse_id])

    def work():
        stocks, batches = lock_stocks_and_batches([stock.pk], piece_slots=[StockType.SPARE])
        src, batch = stocks[stock.pk], batches[stock.batch_id]
        check_active(batch)
        check_version(src, version, "stock")
        if src.quantity < 1:
            raise InsufficientStock(f"Stock record {src.pk} has no bundle left to split.", extra={"stock_id": src.pk})
        op = new_operation(K.SPLIT, actor)
        target = piece_record(batch, StockType.SPARE, op)
        before = {src.pk: stock_state(src), target.pk: stock_state(target)}
        Stock.objects.filter(pk=src.pk).update(quantity=F("quantity") - 1, version=F("version") + 1)
        made = new_spare_pieces(target, src.pieces_per_bundle, op, split_from_stock=src)
        refresh_stocks([src, target])
        details = {"source_stock_id": src.pk, "pieces": len(made), "spare_stock_id": target.pk}
        Operation.objects.filter(pk=op.pk).update(details=details)
        records_audit(actor, "stock.split", [src, target], before, operation=op.number)
        op_audit(actor, op, "pipes.split", after=details)
        return {**_result(op, batch, src, target), "spare_stock_id": target.pk, "piece_ids": [p.pk for p in made]}

    return run_once(idempotency_key, "pipe_split", actor, work, {"stock": stock.pk, "v": version})


def spares_combine(
    *,
    actor,
    stock_id,
    bundle_size,
    quantity=None,
    piece_ids=None,
    version: int | None = None,
    idempotency_key: str | None = None,
) -> dict:
    """Combine spare pieces of ONE SPARE record (so one batch, one variant) into a NEW bundle record of
    `bundle_size` (any size); `quantity` pieces (default: one bundle's worth) or the chosen `piece_ids`."""
    authorize(actor, "pipes.operate")
    stock = _stock(stock_id)
    if stock.stock_type != StockType.SPARE:
        what = "cut pieces cannot be recombined into a roll" if stock.stock_type == StockType.CUT_ROLL else ""
        raise invalid(
            f"Only spare pieces (a SPARE record) can be combined into a bundle; stock record {stock.pk} is a "
            f"{stock.stock_type}" + (f": {what}." if what else "."),
            stock_id=stock.pk,
        )
    problems = Problems()
    size = count(bundle_size, "bundle_size", problems, "pieces")
    ids = None
    if quantity is not None and piece_ids is not None:
        problems.add("piece_ids", "give either quantity (a number of spare pieces) or piece_ids, not both")
    elif piece_ids is not None:
        ids = id_list(piece_ids, "piece_ids", problems)
        if ids:
            found = set(SparePiece.objects.filter(pk__in=ids, stock=stock).values_list("pk", flat=True))
            for pk in ids:
                if pk not in found:
                    problems.add(
                        "piece_ids",
                        f"piece {pk} is not in stock record {stock.pk}: spares combine within one batch and variant",
                    )
    n = len(ids) if ids else count(quantity, "quantity", problems, "pieces") if quantity is not None else size
    bundles = bundles_from(n, size, problems) if n and size else 0
    problems.raise_if_any()
    authorize(actor, "pipes.operate", [stock.batch.warehouse_id])

    def work():
        stocks, batches = lock_stocks_and_batches([stock.pk])
        src, batch = stocks[stock.pk], batches[stock.batch_id]
        check_active(batch)
        check_version(src, version, "stock")
        if ids:
            bad = SparePiece.objects.filter(pk__in=ids).exclude(status=IN).values_list("pk", "status")
            if bad:
                raise not_in_stock([{"piece_id": pk, "status": st} for pk, st in bad])
            chosen = ids
        else:
            chosen = list(
                SparePiece.objects.filter(stock=src, status=IN).order_by("pk").values_list("pk", flat=True)[:n]
            )
            if len(chosen) < n:
                raise InsufficientStock(
                    f"Stock record {src.pk} has {len(chosen)} spare pieces in stock, {n} requested.",
                    extra={"stock_id": src.pk, "available": len(chosen), "requested": n},
                )
        op = new_operation(K.COMBINE, actor)
        before = {src.pk: stock_state(src)}
        bundle = Stock.objects.create(
            batch=batch, stock_type=StockType.BUNDLE, quantity=bundles, pieces_per_bundle=size, created_by_op=op
        )
        move_pieces(SparePiece, chosen, frm=IN, to=PieceStatus.COMBINED, op=op, combined_into=bundle)
        refresh_stocks([src, bundle])
        details = {"source_stock_id": src.pk, "bundle_stock_id": bundle.pk, "bundle_size": size, "pieces": len(chosen)}
        Operation.objects.filter(pk=op.pk).update(details=details)
        records_audit(actor, "stock.combine", [src, bundle], before, operation=op.number)
        op_audit(actor, op, "pipes.combine", after=details)
        return {**_result(op, batch, src, bundle), "bundle_stock_id": bundle.pk, "piece_ids": chosen}

    payload = {"stock": stock.pk, "size": bundle_size, "q": quantity, "ids": piece_ids, "v": version}
    return run_once(idempotency_key, "pipe_combine", actor, work, payload)
