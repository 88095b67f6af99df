"""The built-in invariants of the stock engine (DESIGN §1): I1, I2, I3, I4 and I8.

Registered when the app is ready (ReconcileConfig.ready imports this package, then every other
app's `invariants` module: pipes add I5/I6, sales I7 there).
"""

from ..registry import Invariant, register
from .chain import check_i8
from .stock import check_i1, check_i2, check_i3, check_i4
from .stock_repair import repair_stock

BUILTIN = [
    Invariant(
        "I1",
        "inventory.usable_qty = Σ ledger qty_delta of its (item, warehouse, holder), NULL-safe on both",
        check_i1,
        repair_stock,
    ),
    Invariant(
        "I2",
        "reserved_qty = Σ ledger reserved_delta (inventory key and batch); "
        "batch.reserved_qty = Σ reservations (report only)",
        check_i2,
        repair_stock,
    ),
    Invariant("I3", "0 ≤ reserved_qty ≤ usable_qty on batches and inventory rows (report only)", check_i3),
    Invariant("I4", "batch.usable_qty = Σ ledger qty_delta of the batch; initial_qty > 0", check_i4, repair_stock),
    Invariant(
        "I8",
        "ledger hash chains intact: prev_hash links, entry hashes, heads on batch / inventory rows (report only)",
        check_i8,
    ),
]

for _invariant in BUILTIN:
    register(_invariant)
