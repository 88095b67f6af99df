"""I8: the ledger's hash chains are intact (report only: a ledger row is never rewritten).

Per chunk of items, each chain (one per batch, one per non-batched inventory key) is walked in id
order from a streamed query (`.iterator()`): every entry's prev_hash must be the previous entry's
hash ("" for the first), its hash must be entry_hash(prev_hash, entry), and the last hash must be the
chain head stored on the batch / inventory row. Memory holds one chain's state plus the chunk's heads.
"""

from types import SimpleNamespace

from django.db.models import Value
from django.db.models.functions import Coalesce

from stockledger.stock.chain import FIELDS, entry_hash
from stockledger.stock.models import Batch, Inventory, LedgerEntry, inventory_key

from ..registry import Chunk, Drift

STREAM = 2000


def _short(h: str | None) -> str | None:
    return h[:16] if h else h


_START = object()


class _Walker:
    """Walks ordered ledger rows chain by chain; collects entry-level drift, counts entries."""

    def __init__(self):
        self.drift: list[Drift] = []
        self.count = 0

    def walk(self, rows, chain_of, label_of):
        """rows: (id, prev_hash, hash, *FIELDS) ordered by chain, then id. Yields (chain, last hash)."""
        current, expected = _START, ""
        for pk, prev, stored, *values in rows:
            self.count += 1
            entry = SimpleNamespace(**dict(zip(FIELDS, values, strict=True)))
            chain = chain_of(entry)
            if chain != current:
                if current is not _START:
                    yield current, expected
                current, expected = chain, ""
            if prev != expected:
                note = "chain broken: prev_hash is not the previous entry's hash"
                self.drift.append(
                    Drift(
                        "I8",
                        "ledger_entry",
                        pk,
                        label_of(entry),
                        "prev_hash",
                        _short(prev),
                        _short(expected),
                        note,
                        False,
                    )
                )
            computed = entry_hash(prev, entry)
            if computed != stored:
                note = "entry changed after it was written"
                self.drift.append(
                    Drift(
                        "I8", "ledger_entry", pk, label_of(entry), "hash", _short(stored), _short(computed), note, False
                    )
                )
            expected = stored
        if current is not _START:
            yield current, expected


def check_i8(chunk: Chunk):
    rng = (chunk.lo, chunk.hi)
    cols = ("id", "prev_hash", "hash", *FIELDS)
    walker = _Walker()

    batch_heads = dict(Batch.objects.filter(item_id__gte=rng[0], item_id__lte=rng[1]).values_list("id", "ledger_head"))
    batched = (
        LedgerEntry.objects.filter(item_id__gte=rng[0], item_id__lte=rng[1], batch_id__isnull=False)
        .order_by("batch_id", "id")
        .values_list(*cols)
        .iterator(chunk_size=STREAM)
    )
    seen = set()
    for batch_id, last in walker.walk(batched, lambda e: e.batch_id, lambda e: f"chain b{e.batch_id}"):
        seen.add(batch_id)
        if batch_heads.get(batch_id, "") != last:
            yield Drift(
                "I8",
                "batch",
                batch_id,
                f"chain b{batch_id}",
                "ledger_head",
                _short(batch_heads.get(batch_id)),
                _short(last),
                "head is not the chain's last entry",
                False,
            )
    for batch_id, head in batch_heads.items():
        if batch_id not in seen and head:
            yield Drift(
                "I8",
                "batch",
                batch_id,
                f"chain b{batch_id}",
                "ledger_head",
                _short(head),
                "",
                "head set on a batch without ledger entries",
                False,
            )

    inv_heads = {
        inventory_key(i, w, h): (pk, head)
        for pk, i, w, h, head in Inventory.objects.filter(item_id__gte=rng[0], item_id__lte=rng[1]).values_list(
            "id", "item_id", "warehouse_id", "holder_id", "ledger_head"
        )
    }
    loose = (
        LedgerEntry.objects.filter(item_id__gte=rng[0], item_id__lte=rng[1], batch_id__isnull=True)
        .order_by("item_id", Coalesce("warehouse_id", Value(0)), Coalesce("holder_id", Value(0)), "id")
        .values_list(*cols)
        .iterator(chunk_size=STREAM)
    )

    def key_of(e):
        return inventory_key(e.item_id, e.warehouse_id, e.holder_id)

    seen = set()
    for key, last in walker.walk(loose, key_of, lambda e: f"chain k{key_of(e)}"):
        seen.add(key)
        pk, head = inv_heads.get(key, (None, None))
        if head != last:
            note = "no inventory row for this chain" if pk is None else "head is not the chain's last entry"
            yield Drift("I8", "inventory", pk, f"chain k{key}", "ledger_head", _short(head), _short(last), note, False)
    for key, (pk, head) in inv_heads.items():
        if key not in seen and head:
            yield Drift(
                "I8",
                "inventory",
                pk,
                f"chain k{key}",
                "ledger_head",
                _short(head),
                "",
                "head set on a row without non-batched ledger entries",
                False,
            )

    yield from walker.drift
    chunk.examined("ledger_entry", walker.count)
