"""The pipe invariants, registered with the reconcile catalogue (imported by ReconcileConfig.ready):

- I5: batch.usable_qty = Σ stock totals (FULL_ROLL quantity × length_per_unit, CUT_ROLL Σ length of
  IN_STOCK pieces, BUNDLE quantity × pieces_per_bundle, SPARE count of IN_STOCK pieces). Report only:
  the ledger wins (I4 sets the batch from its ledger); a mismatch with the stock records is fixed by an
  adjustment a person approves, never by inventing or deleting pieces.
- I6: CUT_ROLL / SPARE stock.quantity = count of its IN_STOCK pieces (the trigger keeps it; recompute
  repairs it by recounting, under the stock record locks, audited).

Each check is one set-based query per chunk of items (UNION ALL + GROUP BY); only drifted rows leave
the database.
"""

from django.db.models import Count, F, OuterRef, Subquery
from django.db.models.functions import Coalesce

from stockledger.catalog.models import Item, ProductType
from stockledger.core import audit
from stockledger.core.locking import lock
from stockledger.reconcile.registry import Chunk, Drift, Invariant, Repaired, register
from stockledger.reconcile.sql import dec, fetchall, placeholders, rnd, slices
from stockledger.stock.models import Batch

from .models import CutPiece, SparePiece, Stock

BATCH, ITEM, PTYPE = Batch._meta.db_table, Item._meta.db_table, ProductType._meta.db_table
STOCK, CUT, SPARE = Stock._meta.db_table, CutPiece._meta.db_table, SparePiece._meta.db_table
ACTION = "recompute.repair"


def _i5_sql() -> str:
    in_chunk = f"JOIN {STOCK} s ON s.id = p.stock_id JOIN {BATCH} pb ON pb.id = s.batch_id"
    total = rnd("COALESCE(t.total, 0)")
    return f"""
        SELECT b.id, b.batch_no, b.usable_qty, {total}
        FROM {BATCH} b
        JOIN {ITEM} i ON i.id = b.item_id
        JOIN {PTYPE} pt ON pt.id = i.product_type_id
        LEFT JOIN (
            SELECT u.batch_id, SUM(u.t) AS total FROM (
                SELECT s.batch_id, CASE s.stock_type
                        WHEN 'FULL_ROLL' THEN s.quantity * s.length_per_unit
                        ELSE s.quantity * s.pieces_per_bundle END AS t
                FROM {STOCK} s JOIN {BATCH} sb ON sb.id = s.batch_id
                WHERE sb.item_id BETWEEN %s AND %s AND s.stock_type IN ('FULL_ROLL', 'BUNDLE')
                UNION ALL
                SELECT s.batch_id, p.length_meters FROM {CUT} p {in_chunk}
                WHERE pb.item_id BETWEEN %s AND %s AND p.status = 'IN_STOCK'
                UNION ALL
                SELECT s.batch_id, p.piece_count FROM {SPARE} p {in_chunk}
                WHERE pb.item_id BETWEEN %s AND %s AND p.status = 'IN_STOCK'
            ) u GROUP BY u.batch_id
        ) t ON t.batch_id = b.id
        WHERE b.item_id BETWEEN %s AND %s AND pt.has_stock_forms = %s AND {rnd("b.usable_qty")} <> {total}
        ORDER BY b.id"""


def check_i5(chunk: Chunk):
    """Pipe batches whose current quantity differs from the sum of their stock records."""
    rng = [chunk.lo, chunk.hi]
    rows = fetchall(_i5_sql(), rng * 4 + [True])
    chunk.examined(
        "batch",
        Batch.objects.filter(
            item_id__gte=chunk.lo, item_id__lte=chunk.hi, item__product_type__has_stock_forms=True
        ).count(),
    )
    for pk, batch_no, usable, total in rows:
        yield Drift(
            "I5",
            "batch",
            pk,
            f"#{batch_no}",
            "usable_qty",
            dec(usable),
            dec(total),
            "Σ stock records (report only: the ledger wins; fix by an adjustment a person approves)",
            repairable=False,
        )


def _counts_sql(where: str) -> str:
    """(stock id, stored quantity, IN_STOCK piece count) of CUT_ROLL / SPARE records matching `where`."""
    return f"""
        SELECT s.id, b.batch_no, s.stock_type, s.quantity, COALESCE(c.n, 0)
        FROM {STOCK} s
        JOIN {BATCH} b ON b.id = s.batch_id
        LEFT JOIN (
            SELECT u.stock_id, COUNT(*) AS n FROM (
                SELECT p.stock_id FROM {CUT} p JOIN {STOCK} ps ON ps.id = p.stock_id
                    JOIN {BATCH} pb ON pb.id = ps.batch_id WHERE p.status = 'IN_STOCK' AND {where.format(t="ps")}
                UNION ALL
                SELECT p.stock_id FROM {SPARE} p JOIN {STOCK} ps ON ps.id = p.stock_id
                    JOIN {BATCH} pb ON pb.id = ps.batch_id WHERE p.status = 'IN_STOCK' AND {where.format(t="ps")}
            ) u GROUP BY u.stock_id
        ) c ON c.stock_id = s.id
        WHERE s.stock_type IN ('CUT_ROLL', 'SPARE') AND {where.format(t="s")} AND s.quantity <> COALESCE(c.n, 0)
        ORDER BY s.id"""


def check_i6(chunk: Chunk):
    """CUT_ROLL / SPARE records whose quantity is not the count of their IN_STOCK pieces."""
    rng = [chunk.lo, chunk.hi]
    where = "{t}.batch_id IN (SELECT id FROM " + BATCH + " WHERE item_id BETWEEN %s AND %s)"
    rows = fetchall(_counts_sql(where), rng * 3)
    chunk.examined(
        "stock",
        Stock.objects.filter(
            batch__item_id__gte=chunk.lo, batch__item_id__lte=chunk.hi, stock_type__in=["CUT_ROLL", "SPARE"]
        ).count(),
    )
    for pk, batch_no, stock_type, stored, counted in rows:
        yield Drift("I6", "stock", pk, f"#{batch_no} {stock_type}", "quantity", int(stored), int(counted))


def repair_i6(chunk: Chunk, run) -> Repaired:
    """Recount: lock the drifted records (pk order), count their IN_STOCK pieces under the lock, set
    quantity (version + 1) with one UPDATE per piece table, one audit row per changed record."""
    result = Repaired()
    ids = sorted({d.object_id for d in run.drift if d.invariant == "I6" and d.repairable})
    changes = []
    for part in slices(ids):
        lock(Stock, part)
        rows = fetchall(_counts_sql("{t}.id IN (" + placeholders(part) + ")"), part * 3)
        for pk, _, _, stored, counted in rows:
            changes.append(
                audit.Change(ACTION, "stock", pk, {"quantity": int(stored)}, {"quantity": int(counted), "by": "I6"})
            )
        for model, stock_type in ((CutPiece, "CUT_ROLL"), (SparePiece, "SPARE")):
            todo = [r[0] for r in rows if r[2] == stock_type]
            if todo:
                _recount(model, todo)
    run.audit(changes)
    result.rows = len(changes)
    if changes:
        result.changed["I6"] = len(changes)
    return result


def _recount(model, stock_ids: list[int]) -> None:
    counted = (
        model.objects.filter(stock_id=OuterRef("pk"), status="IN_STOCK")
        .order_by()
        .values("stock_id")
        .annotate(n=Count("pk"))
        .values("n")[:1]
    )
    Stock.objects.filter(pk__in=stock_ids).update(quantity=Coalesce(Subquery(counted), 0), version=F("version") + 1)


register(
    Invariant(
        "I5",
        "pipes: batch.usable_qty = Σ stock totals (rolls × length, IN_STOCK cut lengths, bundles × size, "
        "IN_STOCK spares); report only: the ledger wins",
        check_i5,
    )
)
register(
    Invariant(
        "I6",
        "pipes: CUT_ROLL / SPARE stock.quantity = count of IN_STOCK pieces (repaired by recounting)",
        check_i6,
        repair_i6,
    )
)
