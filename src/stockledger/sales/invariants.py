"""I7, registered with reconcile: transaction.total_amount = Σ line quantity × unit_price, and
invoice.total_amount = its transaction's total.

Chunked by transaction id range (a transaction and its invoice are always in the same chunk). Both
sides are compared in whole cents: exact NUMERIC/DECIMAL arithmetic on PostgreSQL and MariaDB, and
on SQLite (which keeps decimals as REAL) each amount is rounded to its cents first, so a float sum
never reports drift that is not there.

Repair rules: only rows that differ are written (updated_at and version set on them); a transaction
whose line items are all gone is set to 0; an invoice total is rewritten only while the invoice is
GENERATED: a drifted total on a SENT, PAID or VOID invoice is reported, never rewritten (the
customer has it: it needs a credit note). One audit row per changed row, with before/after and the
run id (job_id).
"""

from decimal import Decimal

from django.db import connection

from stockledger.core import audit
from stockledger.core.locking import lock
from stockledger.reconcile.registry import Chunk, Drift, Invariant, Partition, Repaired, register
from stockledger.reconcile.sql import execute, fetchall, placeholders, slices, update_from

from .models import Invoice, SalesTransaction

TRX, LINE, INVOICE = SalesTransaction._meta.db_table, "sales_lineitem", Invoice._meta.db_table
SALES = Partition("sales", "sales.SalesTransaction")
ACTION = "recompute.repair"
CENT = Decimal("0.01")
GENERATED = Invoice.Status.GENERATED


def cents(expr: str) -> str:
    """An amount in whole cents: exact where the backend has decimals, rounded where it has floats."""
    if connection.vendor == "sqlite":
        return f"CAST(ROUND(({expr}) * 100) AS INTEGER)"
    return f"(({expr}) * 100)"


def from_cents(expr: str) -> str:
    return f"({expr}) / 100.0" if connection.vendor == "sqlite" else f"({expr}) / 100"


def money(value) -> Decimal | None:
    if value is None:
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    return Decimal(value).quantize(CENT)


def _derived(where: str) -> str:
    """Σ line amounts in cents per transaction (0 for a transaction without lines)."""
    return f"""SELECT t2.id AS id, COALESCE(SUM(l.quantity * {cents("l.unit_price")}), 0) AS cents
        FROM {TRX} t2 LEFT JOIN {LINE} l ON l.transaction_id = t2.id
        WHERE {where} GROUP BY t2.id"""


# --- check -----------------------------------------------------------------------------------------


def check_i7(chunk: Chunk) -> list[Drift]:
    """Every transaction of the chunk against its lines, and its invoice against the same sum."""
    rows = fetchall(
        f"""SELECT t.id, t.number, t.total_amount, d.cents, i.id, i.number, i.status, i.total_amount
            FROM {TRX} t JOIN ({_derived("t2.id BETWEEN %s AND %s")}) d ON d.id = t.id
            LEFT JOIN {INVOICE} i ON i.transaction_id = t.id
            WHERE {cents("t.total_amount")} <> d.cents
               OR (i.id IS NOT NULL AND {cents("i.total_amount")} <> d.cents)
            ORDER BY t.id""",
        [chunk.lo, chunk.hi],
    )
    chunk.examined("sales_transaction", chunk.size)
    n_invoices = fetchall(
        f"SELECT COUNT(*) FROM {INVOICE} WHERE transaction_id BETWEEN %s AND %s", [chunk.lo, chunk.hi]
    )
    chunk.examined("invoice", n_invoices[0][0])
    out = []
    for t_id, t_no, t_total, d_cents, i_id, i_no, status, i_total in rows:
        derived = money(Decimal(str(d_cents)) / 100)
        stored = money(t_total)
        if stored != derived:
            note = "" if d_cents else "no line items: the total should be 0"
            out.append(Drift("I7", "sales_transaction", t_id, t_no, "total_amount", stored, derived, note))
        if i_id is not None and money(i_total) != derived:
            generated = status == GENERATED
            note = "" if generated else f"invoice is {status}: needs a credit note, never rewritten"
            out.append(
                Drift("I7", "invoice", i_id, i_no, "total_amount", money(i_total), derived, note, repairable=generated)
            )
    return out


# --- repair ----------------------------------------------------------------------------------------


def repair_i7(chunk: Chunk, run) -> Repaired:
    """Inside the chunk's transaction: lock the drifted transactions, then their invoices (pk order),
    re-aggregate under the locks, write only what differs, audit each changed row."""
    drift = [d for d in run.drift if d.invariant == "I7" and d.repairable]
    invoice_ids = sorted({d.object_id for d in drift if d.object_type == "invoice"})
    trx_ids = {d.object_id for d in drift if d.object_type == "sales_transaction"}
    trx_ids |= set(Invoice.objects.filter(pk__in=invoice_ids).values_list("transaction_id", flat=True))
    for ids in slices(trx_ids):
        lock(SalesTransaction, ids)
    for ids in slices(invoice_ids):
        lock(Invoice, ids)
    result = Repaired()
    ts = connection.ops.adapt_datetimefield_value(run.now)
    changes = _repair_transactions(sorted(trx_ids), ts, run) + _repair_invoices(invoice_ids, ts, run, result)
    result.changed = {"I7": len(changes)} if changes else {}
    result.rows = run.audit(changes) if changes else 0
    return result


def _repair_transactions(trx_ids: list[int], ts, run) -> list[audit.Change]:
    changes = []
    for ids in slices(trx_ids):
        derived = _derived(f"t2.id IN ({placeholders(ids)})")
        rows = fetchall(
            f"SELECT t.id, t.total_amount, d.cents FROM {TRX} t JOIN ({derived}) d ON d.id = t.id "
            f"WHERE {cents('t.total_amount')} <> d.cents ORDER BY t.id",
            ids,
        )
        if not rows:
            continue
        todo = [r[0] for r in rows]
        sql = update_from(
            TRX,
            _derived(f"t2.id IN ({placeholders(todo)})"),
            [("total_amount", from_cents("d.cents")), ("updated_at", "%s"), ("version", f"{TRX}.version + 1")],
            f"{cents(f'{TRX}.total_amount')} <> d.cents",
        )
        # The SET placeholder comes before the derived table's ids except in MySQL's UPDATE ... JOIN.
        execute(sql, [*todo, ts] if connection.vendor == "mysql" else [ts, *todo])
        for pk, before, d_cents in rows:
            after = money(Decimal(str(d_cents)) / 100)
            changes.append(
                audit.Change(
                    ACTION,
                    "sales_transaction",
                    pk,
                    {"total_amount": str(money(before)), "invariant": "I7"},
                    {"total_amount": str(after), "run": run.id},
                )
            )
    return changes


def _invoice_update_sql(ids: list[int]) -> str:
    where = (
        f"{INVOICE}.id IN ({placeholders(ids)}) AND {INVOICE}.status = %s "
        f"AND {cents(f'{INVOICE}.total_amount')} <> {cents('t.total_amount')}"
    )
    sets = f"total_amount = t.total_amount, updated_at = %s, version = {INVOICE}.version + 1"
    if connection.vendor == "mysql":
        sets = ", ".join(f"{INVOICE}.{part}" for part in sets.split(", "))
        return f"UPDATE {INVOICE} JOIN {TRX} t ON t.id = {INVOICE}.transaction_id SET {sets} WHERE {where}"
    return f"UPDATE {INVOICE} SET {sets} FROM {TRX} t WHERE t.id = {INVOICE}.transaction_id AND {where}"


def _repair_invoices(invoice_ids: list[int], ts, run, result: Repaired) -> list[audit.Change]:
    """Propagate the (repaired) transaction total to GENERATED invoices only."""
    changes = []
    for ids in slices(invoice_ids):
        rows = fetchall(
            f"SELECT i.id, i.status, i.total_amount, t.total_amount FROM {INVOICE} i "
            f"JOIN {TRX} t ON t.id = i.transaction_id WHERE i.id IN ({placeholders(ids)}) "
            f"AND {cents('i.total_amount')} <> {cents('t.total_amount')} ORDER BY i.id",
            ids,
        )
        todo = []
        for pk, status, before, after in rows:
            if status != GENERATED:
                result.skipped.append(
                    {"object_type": "invoice", "object_id": pk, "reason": f"invoice is {status}: needs a credit note"}
                )
                continue
            todo.append(pk)
            changes.append(
                audit.Change(
                    ACTION,
                    "invoice",
                    pk,
                    {"total_amount": str(money(before)), "status": status, "invariant": "I7"},
                    {"total_amount": str(money(after)), "run": run.id},
                )
            )
        if todo:
            execute(_invoice_update_sql(todo), [ts, *todo, GENERATED])
    return changes


I7 = register(
    Invariant(
        "I7",
        "sales: transaction.total_amount = Σ line quantity × unit_price; invoice.total_amount = its "
        "transaction's total (rewritten on GENERATED invoices only)",
        check_i7,
        repair_i7,
        partition=SALES,
    )
)
