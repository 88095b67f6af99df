"""`import ledger`: postings of non-batched items (LPG depots, vehicles, customer-held stock) from a CSV file.

Two streaming passes over the file; memory stays bounded by the number of (item, warehouse, holder)
keys, never by the number of lines:

1. check every line (codes, quantity, kind, time, lengths) and run the balance of each key from its
   current inventory row: a key that would go negative is reported at the line where it would.
   Bad lines are listed up to 50, then only counted. Any bad line: nothing is written.
2. in ONE transaction: lock the inventory rows of every key (pk order), read the file again, insert
   the ledger rows in chunks, each hash-chained to the previous row of its key (from the row's
   ledger_head), then move every touched inventory row by Σ of its deltas (set-based: chunked CASE
   updates), one audit row per row, and one StockDocument (kind posting) for the import.
"""

from collections.abc import Iterator
from dataclasses import dataclass
from datetime import datetime
from decimal import Decimal, InvalidOperation

from django.db import transaction
from django.db.models import Case, F, Value, When
from django.utils import timezone

from stockledger.core import audit
from stockledger.core.errors import ValidationError
from stockledger.core.roles import authorize

from ..chain import entry_hash
from ..models import QTY, ZERO, Inventory, LedgerEntry, StockDocument, inventory_key
from ..services.common import new_document
from ..services.postings import POSTING_KINDS
from ..validation import quantity
from .common import (
    IN_CHUNK,
    MAX_QTY,
    Catalog,
    Columns,
    CsvSource,
    LineErrors,
    Progress,
    authorize_import,
    chunked,
    is_system,
    lock_keys,
    no_progress,
    parse_datetime,
    plain,
    reject,
)

LEDGER_COLUMNS = Columns(
    known=("item_sku", "warehouse_code", "holder_code", "qty_delta", "kind", "reason", "created_at", "reference"),
    required=frozenset({"item_sku", "qty_delta", "kind"}),
    export_only=("id", "batch_no", "reserved_delta", "doc_type", "doc_id", "actor", "hash", "prev_hash"),
)
MAX_LISTED = 50
DOC_TYPE = "import"
UPDATE_CHUNK = 200  # inventory rows per CASE update
DEC = Inventory._meta.get_field("usable_qty")
QUANTUM = Decimal(1).scaleb(-QTY["decimal_places"])


@dataclass(slots=True)
class Leg:
    line: int
    key: str
    label: str
    item_id: int
    warehouse_id: int | None
    holder_id: int | None
    qty: Decimal
    kind: str
    reason: str
    created_at: datetime | None
    reference: str


@dataclass(slots=True)
class KeyState:
    """One inventory key of the file: its running balance, Σ deltas, line count and chain head."""

    item_id: int
    warehouse_id: int | None
    holder_id: int | None
    label: str
    balance: Decimal = ZERO
    reserved: Decimal = ZERO
    delta: Decimal = ZERO
    lines: int = 0
    head: str = ""
    failed: bool = False

    def restart(self, row: Inventory) -> None:
        """Run again from the locked inventory row (pass 2)."""
        self.balance, self.reserved, self.head = row.usable_qty, row.reserved_qty, row.ledger_head
        self.delta, self.lines, self.failed = ZERO, 0, False


class _DryRun(Exception):
    pass


def ledger_import(
    *, path, actor, chunk_size: int = 5000, dry_run: bool = False, progress: Progress = no_progress
) -> dict:
    """Check the whole file (streaming), then post all its lines in one transaction, or none."""
    if chunk_size < 1:
        raise ValidationError("The chunk size must be at least 1.", fields={"chunk_size": ["at least 1"]})
    authorize_import(actor)
    source, catalog = CsvSource(path, LEDGER_COLUMNS), Catalog()
    keys: dict[str, KeyState] = {}
    errors = LineErrors(limit=MAX_LISTED)
    for legs in _leg_chunks(source, catalog, errors, chunk_size, progress, "checking", None):
        _load_balances(keys, legs)
        for leg in legs:
            _run(keys[leg.key], leg, errors)
    errors.raise_if_any(source.name)
    if not keys:
        raise reject(source.name, 1, "no lines to import")
    warehouses = {s.warehouse_id for s in keys.values()}
    authorize_import(actor, warehouses)
    if not is_system(actor):
        authorize(actor, "ledger.post", warehouses)

    result = {"file": source.name, "lines": source.count, "dry_run": dry_run}
    try:
        with transaction.atomic():
            result.update(_write(source, catalog, keys, actor, chunk_size, progress))
            if dry_run:
                raise _DryRun
    except _DryRun:
        result["document_id"] = None
    return result


def _leg_chunks(source, catalog, errors, chunk_size, progress, desc, total) -> Iterator[list[Leg]]:
    """The file's good lines as legs, chunk by chunk (codes resolved once per chunk); bad lines -> errors."""
    rows = progress(source.rows(), total=total, desc=desc, unit="line")
    for chunk in chunked(rows, chunk_size):
        good = [v for _, v, _ in chunk if v]
        catalog.load(
            skus=(v.get("item_sku") for v in good),
            warehouses=(v.get("warehouse_code") for v in good),
            customers=(v.get("holder_code") for v in good),
        )
        legs = []
        for line, values, shape in chunk:
            leg, problems = (None, [shape]) if shape else _parse(line, values, catalog)
            if problems:
                errors.add(line, *problems)
            else:
                legs.append(leg)
        yield legs


def _parse(line: int, v: dict[str, str], catalog: Catalog) -> tuple[Leg | None, list[str]]:
    problems = []
    sku, wh_code, holder_code = v.get("item_sku", ""), v.get("warehouse_code", ""), v.get("holder_code", "")
    item = catalog.items.get(sku)
    if not sku:
        problems.append("item_sku: required")
    elif item is None:
        problems.append(f"item_sku: unknown item {sku!r}")
    elif item.batch_tracked:
        problems.append(f"item_sku: {sku} is batch-tracked; its stock is imported with `import batches`")
    warehouse_id = catalog.warehouses.get(wh_code) if wh_code else None
    if wh_code and warehouse_id is None:
        problems.append(f"warehouse_code: unknown warehouse {wh_code!r}")
    holder_id = catalog.customers.get(holder_code) if holder_code else None
    if holder_code and holder_id is None:
        problems.append(f"holder_code: unknown customer {holder_code!r}")
    if not wh_code and not holder_code:
        problems.append("warehouse_code, holder_code: a line needs a warehouse (depot, vehicle) or a holder customer")
    qty = ZERO
    if item is not None:
        try:
            places = min(item.decimals, QTY["decimal_places"])
            qty = quantity(v.get("qty_delta", ""), places, item.unit, "qty_delta", allow_negative=True)
            if qty == 0:
                problems.append("qty_delta: must not be zero")
            elif abs(qty) >= MAX_QTY:
                problems.append(f"qty_delta: {qty} is too large")
        except ValidationError as e:
            problems.append(f"qty_delta: {e.message}")
    elif not v.get("qty_delta"):
        problems.append("qty_delta: required")
    kind = v.get("kind", "").upper()
    if kind not in POSTING_KINDS:
        problems.append(f"kind: {v.get('kind', '')!r} is not one of {', '.join(sorted(POSTING_KINDS))}")
    reason = v.get("reason", "")
    if len(reason) > 300:
        problems.append("reason: longer than 300 characters")
    elif kind == "ADJUSTMENT" and not reason:
        problems.append("reason: required for ADJUSTMENT")
    created_at = None
    if v.get("created_at"):
        try:
            created_at = parse_datetime(v["created_at"], "created_at")
        except ValueError as e:
            problems.append(str(e))
    if len(v.get("reference", "")) > 64:
        problems.append("reference: longer than 64 characters")
    problems += _export_only_problems(v)
    if problems:
        return None, problems
    label = f"{sku} at {wh_code or '-'} held by {holder_code or '-'}"
    key = inventory_key(item.pk, warehouse_id, holder_id)
    qty = qty.quantize(QUANTUM)
    return Leg(
        line, key, label, item.pk, warehouse_id, holder_id, qty, kind, reason, created_at, v.get("reference", "")
    ), []


def _export_only_problems(v: dict[str, str]) -> list[str]:
    """Columns an export writes are ignored, except where ignoring them would lose stock."""
    problems = []
    if v.get("batch_no"):
        problems.append("batch_no: a batch's ledger row; batch stock is imported with `import batches`")
    if v.get("reserved_delta"):
        try:
            if Decimal(v["reserved_delta"]) != 0:
                problems.append("reserved_delta: reservations are not imported")
        except InvalidOperation:
            problems.append(f"reserved_delta: {v['reserved_delta']!r} is not a number")
    return problems


def _load_balances(keys: dict[str, KeyState], legs: list[Leg]) -> None:
    """Start each new key from its current inventory row (0 when it has none yet)."""
    new = {leg.key: leg for leg in legs if leg.key not in keys}
    for part in chunked(sorted(new), IN_CHUNK):
        current = {
            k: (u, r)
            for k, u, r in Inventory.objects.filter(key__in=part).values_list("key", "usable_qty", "reserved_qty")
        }
        for k in part:
            leg = new[k]
            usable, reserved = current.get(k, (ZERO, ZERO))
            keys[k] = KeyState(leg.item_id, leg.warehouse_id, leg.holder_id, leg.label, usable, reserved)


def _run(state: KeyState, leg: Leg, errors: LineErrors) -> None:
    before = state.balance
    state.balance += leg.qty
    state.delta += leg.qty
    state.lines += 1
    if state.balance < state.reserved and not state.failed:
        state.failed = True  # reported once per key, at the first line where it goes under
        floor = "0" if not state.reserved else f"its reserved {plain(state.reserved)}"
        errors.add(
            leg.line,
            f"qty_delta: {state.label} would go below {floor}: {plain(before)} + ({plain(leg.qty)}) = "
            f"{plain(state.balance)}",
        )


def _write(source: CsvSource, catalog: Catalog, keys: dict[str, KeyState], actor, chunk_size, progress) -> dict:
    name, count, digest = source.name, source.count, source.digest
    now = timezone.now()
    reason = f"CSV import of {name}"
    doc = new_document(StockDocument.Kind.POSTING, actor, [{"file": name, "lines": count, "keys": len(keys)}], reason)
    rows = lock_keys({k: (s.item_id, s.warehouse_id, s.holder_id) for k, s in keys.items()})
    for k, s in keys.items():
        s.restart(rows[k])  # from here on, the locked rows are the truth
    errors, written, actor_id = LineErrors(limit=MAX_LISTED), 0, getattr(actor, "pk", None)
    for legs in _leg_chunks(source, catalog, errors, chunk_size, progress, "importing", count):
        entries = []
        for leg in legs:
            s = keys.get(leg.key)
            if s is None:
                errors.add(leg.line, "the file changed during the import")
                continue
            _run(s, leg, errors)
            e = LedgerEntry(
                created_at=leg.created_at or now,
                item_id=leg.item_id,
                warehouse_id=leg.warehouse_id,
                holder_id=leg.holder_id,
                qty_delta=leg.qty,
                reserved_delta=ZERO,
                kind=leg.kind,
                doc_type=DOC_TYPE,
                doc_id=leg.reference or str(doc.pk),
                reason=leg.reason,
                actor_id=actor_id,
                prev_hash=s.head,
            )
            e.hash = s.head = entry_hash(e.prev_hash, e)
            entries.append(e)
        LedgerEntry.objects.bulk_create(entries, batch_size=chunk_size)
        written += len(entries)
    if source.digest != digest or source.count != count:
        raise ValidationError(f"{name} changed during the import; nothing was imported.", code="import_rejected")
    errors.raise_if_any(name)  # another writer moved a key between the check and the lock
    _move_inventory(keys, rows, now)
    changes = [
        audit.Change(
            "inventory.import",
            "inventory",
            rows[k].pk,
            {"usable_qty": rows[k].usable_qty, "reserved_qty": rows[k].reserved_qty, "version": rows[k].version},
            {
                "usable_qty": s.balance,
                "reserved_qty": s.reserved,
                "version": rows[k].version + 1,
                "lines": s.lines,
                "doc": f"posting#{doc.pk}",
            },
        )
        for k, s in keys.items()
    ]
    changes.append(
        audit.Change(
            "ledger.import", "stock_document", doc.pk, None, {"file": name, "lines": count, "entries": written}
        )
    )
    audit.record_many(actor, changes)
    return {"document_id": doc.pk, "entries": written, "inventory_rows": len(keys)}


def _move_inventory(keys: dict[str, KeyState], rows: dict[str, Inventory], now) -> None:
    """usable_qty += Σ deltas, ledger_head := last hash, version + 1: one CASE update per chunk of rows."""
    touched = sorted((rows[k].pk, s) for k, s in keys.items())
    for part in chunked(touched, UPDATE_CHUNK):
        Inventory.objects.filter(pk__in=[pk for pk, _ in part]).update(
            usable_qty=F("usable_qty")
            + Case(
                *[When(pk=pk, then=Value(s.delta, output_field=DEC)) for pk, s in part],
                default=Value(ZERO, output_field=DEC),
                output_field=DEC,
            ),
            ledger_head=Case(*[When(pk=pk, then=Value(s.head)) for pk, s in part], default=F("ledger_head")),
            version=F("version") + 1,
            last_updated=Value(now),
        )
