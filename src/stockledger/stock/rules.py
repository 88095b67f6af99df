"""Pure stock rules (no Django): used by the engine and by the apps on top of it."""

from collections.abc import Mapping
from decimal import Decimal

ZERO = Decimal(0)


def reservation_deltas(old: Mapping[int, Decimal], new: Mapping[int, Decimal]) -> dict[int, Decimal]:
    """Per batch, new_allocated - old_allocated; apply as reserved_qty += delta. Zero deltas omitted."""
    if any(qty < ZERO for qty in (*old.values(), *new.values())):
        raise ValueError("Allocated quantities cannot be negative.")
    deltas: dict[int, Decimal] = {}
    for batch_id in sorted(old.keys() | new.keys()):
        delta = new.get(batch_id, ZERO) - old.get(batch_id, ZERO)
        if delta != ZERO:
            deltas[batch_id] = delta
    return deltas
