"""The few SQL differences between PostgreSQL, MariaDB/MySQL and SQLite, in one place.

- UPDATE from an aggregate: `UPDATE t SET ... FROM (agg) d WHERE t.id = d.id` on PostgreSQL and SQLite
  (3.33+), `UPDATE t JOIN (agg) d ON t.id = d.id SET t.... WHERE ...` on MariaDB/MySQL.
- NULL-safe keys are joined on COALESCE(col, 0) (ids start at 1), never IS NOT DISTINCT FROM / <=>:
  a plain equality on expressions keeps hash joins possible on PostgreSQL.
- SQLite keeps decimals as REAL, so its sums are floats: both sides of a comparison are rounded to the
  column's 3 decimals there (exact NUMERIC/DECIMAL arithmetic elsewhere needs no rounding).
- FULL OUTER JOIN: PostgreSQL and SQLite ≥ 3.39 have it, MariaDB/MySQL do not (callers fall back to a
  UNION ALL grouped once). String concatenation: `||` there, CONCAT() on MariaDB/MySQL.
- One snapshot for several reads (`consistent_read`): under READ COMMITTED every statement sees the data
  committed when *it* starts, so two statements of one check (I8 reads the chain heads, then the chains)
  can see two moments and report drift that never existed. A read-only REPEATABLE READ transaction
  (PostgreSQL, MariaDB) or a deferred read transaction (SQLite, WAL) makes them see one moment.
"""

import contextlib
from collections.abc import Iterable, Iterator, Sequence
from decimal import Decimal

from django.db import connection, transaction

Q3 = Decimal("0.001")


def vendor() -> str:
    return connection.vendor


def rnd(expr: str) -> str:
    """A quantity expression rounded to the column's scale where the backend sums in floating point."""
    return f"ROUND({expr}, 3)" if vendor() == "sqlite" else expr


def has_full_join() -> bool:
    if vendor() == "postgresql":
        return True
    if vendor() == "sqlite":
        return connection.Database.sqlite_version_info >= (3, 39, 0)
    return False


def concat(*parts: str) -> str:
    """The SQL expressions (numbers print as their digits) concatenated into one string."""
    if vendor() == "mysql":
        return f"CONCAT({', '.join(parts)})"
    return " || ".join(parts)


def dec(value) -> Decimal | None:
    """A database number (Decimal, or float/int on SQLite) as a Decimal with 3 decimals."""
    if value is None:
        return None
    if isinstance(value, float):
        value = Decimal(repr(value))
    return Decimal(value).quantize(Q3)


def placeholders(values: Sequence) -> str:
    return ", ".join(["%s"] * len(values))


def slices(ids: Iterable[int], size: int = 1000) -> Iterator[list[int]]:
    """Sorted ids in slices (bounded IN lists; locking slice after slice keeps primary-key order)."""
    ordered = sorted(set(ids))
    for i in range(0, len(ordered), size):
        yield ordered[i : i + size]


def fetchall(sql: str, params: Sequence = ()) -> list[tuple]:
    with connection.cursor() as cur:
        cur.execute(sql, list(params))
        return cur.fetchall()


def execute(sql: str, params: Sequence = ()) -> int:
    with connection.cursor() as cur:
        cur.execute(sql, list(params))
        return cur.rowcount


def update_from(table: str, derived: str, sets: list[tuple[str, str]], where: str) -> str:
    """UPDATE `table` from the derived table `d` (which has an `id` column) for the rows matching `where`.

    `sets` are (column, expression) pairs; expressions and `where` name the target as `table` and the
    derived row as `d`.
    """
    if vendor() == "mysql":
        assignments = ", ".join(f"{table}.{col} = {expr}" for col, expr in sets)
        return f"UPDATE {table} JOIN ({derived}) d ON {table}.id = d.id SET {assignments} WHERE {where}"
    assignments = ", ".join(f"{col} = {expr}" for col, expr in sets)
    return f"UPDATE {table} SET {assignments} FROM ({derived}) d WHERE {table}.id = d.id AND ({where})"


@contextlib.contextmanager
def consistent_read():
    """Every query in the block reads the same committed state (a snapshot), taking no lock.

    Inside a caller's transaction the caller's isolation decides (nothing is changed). Otherwise: a
    REPEATABLE READ, READ ONLY transaction on PostgreSQL and MariaDB/MySQL (the snapshot is taken by the
    first query), and on SQLite a DEFERRED transaction (the connection's BEGIN IMMEDIATE would take the
    write lock; in WAL mode a reader's transaction sees one snapshot and blocks no writer).
    """
    if connection.in_atomic_block:
        yield
        return
    connection.ensure_connection()
    vendor = connection.vendor
    if vendor == "sqlite":
        mode = connection.transaction_mode
        connection.transaction_mode = "DEFERRED"  # read by atomic() for this BEGIN only
        try:
            with transaction.atomic():
                connection.transaction_mode = mode
                yield
        finally:
            connection.transaction_mode = mode
        return
    with transaction.atomic():
        if vendor in ("postgresql", "mysql"):
            execute("SET TRANSACTION ISOLATION LEVEL REPEATABLE READ, READ ONLY")
        yield
