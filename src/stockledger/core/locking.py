"""All row locks, in one place, always in primary-key order (no deadlocks between two writers).

PostgreSQL and MariaDB take SELECT ... FOR UPDATE row locks. SQLite has no row locks: the settings
open every transaction with BEGIN IMMEDIATE, which takes the database write lock at once, so the
same code is serialised there too. `of=` is never used (MariaDB does not support it).
"""

from collections.abc import Iterable

from django.db import models, transaction


def lock(model: type[models.Model], ids: Iterable[int]) -> dict:
    """Lock the rows with these ids and return them by id. Must run inside transaction.atomic.

    No joins: FOR UPDATE on a join would lock the joined rows too, out of pk order.
    """
    assert transaction.get_connection().in_atomic_block, "lock() needs a transaction"
    # An id outside the key column's range names no row (and would overflow the driver), so it is left out.
    low, high = transaction.get_connection().ops.integer_field_range(model._meta.pk.get_internal_type())
    wanted = sorted({i for i in ids if low <= i <= high})
    if not wanted:
        return {}
    qs = model._default_manager.select_for_update().filter(pk__in=wanted).order_by("pk")
    return {row.pk: row for row in qs}


def lock_one(model: type[models.Model], pk: int):
    return lock(model, [pk]).get(pk)
