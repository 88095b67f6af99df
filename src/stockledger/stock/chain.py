"""The ledger's hash chain (I8): each entry hashes its content with the previous entry of its chain.

A chain is per batch (batched movements) or per inventory key (non-batched postings), never global:
the row lock that serialises writers of one batch or key also serialises its chain. The chain's head
is kept on the batch / inventory row, so appending costs no extra read.
"""

import hashlib
from decimal import Decimal

FIELDS = (
    "item_id",
    "warehouse_id",
    "holder_id",
    "batch_id",
    "qty_delta",
    "reserved_delta",
    "kind",
    "doc_type",
    "doc_id",
    "actor_id",
    "reverts_id",
    "created_at",
)


def _fmt(value) -> str:
    if value is None:
        return ""
    if isinstance(value, Decimal):
        return f"{value:.3f}"
    if hasattr(value, "isoformat"):
        return value.isoformat(timespec="microseconds")
    return str(value)


def entry_hash(prev: str, entry) -> str:
    """sha256 over the previous hash and the entry's content (quantities at 3 decimals, UTC times)."""
    parts = [prev] + [_fmt(getattr(entry, f)) for f in FIELDS]
    return hashlib.sha256("|".join(parts).encode()).hexdigest()


def chain_key(entry) -> str:
    if entry.batch_id:
        return f"b{entry.batch_id}"
    return f"k{entry.item_id}:{entry.warehouse_id or 0}:{entry.holder_id or 0}"
