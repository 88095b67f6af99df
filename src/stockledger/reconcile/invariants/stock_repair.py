"""Repair of I1, I2 and I4: the ledger wins. One function for the three, so a row is written and
audited once even when several of its totals drifted.

Runs inside the chunk's transaction (recompute opens it). The candidates come from the unlocked
check; under the locks the ledger is aggregated again for exactly those rows, so a posting that
landed after the check is counted, never overwritten:

1. lock the candidate batches, then the candidate inventory rows, each in primary-key order (the
   engine's order: no deadlock with a concurrent posting);
2. insert the missing inventory rows (version 0 marks "created by this run"; their primary keys are
   higher than every row locked in step 1, so the order still holds), lock them and give them their
   chain's head (I8);
3. aggregate the ledger for the locked rows, keep those that differ (a row whose derived totals
   would break a CHECK constraint is skipped and reported, never written);
4. one set-based UPDATE ... FROM / JOIN per table for those rows (version + 1, last_updated);
5. one audit row per changed row (bulk insert), job_id = the run.

The ledger is aggregated for exactly the locked rows, never for their whole items: the rows are
grouped by the NULL pattern of (warehouse, holder) and each group joins the ledger on plain equality
and IS NULL, which the ledger's (item, warehouse, holder, qty_delta, reserved_delta) index answers by
lookups (index-only on PostgreSQL). A NULL-safe join on COALESCE(col, 0) could not use the index: it
would read every entry of the items once per slice of rows.
"""

from decimal import Decimal

from django.db import connection
from django.db.models import Case, Value, When

from stockledger.core import audit
from stockledger.core.locking import lock
from stockledger.stock.models import Batch, Inventory

from ..registry import Chunk, Repaired
from ..sql import dec, execute, fetchall, placeholders, rnd, slices, update_from
from .stock import BATCH, INVENTORY, LEDGER

ACTION = "recompute.repair"


class RepairRaced(RuntimeError):
    """An UPDATE touched another number of rows than the locked re-aggregation said: roll back."""


def _s(v: Decimal | None) -> str | None:
    return None if v is None else f"{v:.3f}"


def _bad(usable: Decimal, reserved: Decimal) -> str:
    if usable < 0 or reserved < 0:
        return "the derived total is negative"
    if reserved > usable:
        return "the derived reserved_qty exceeds usable_qty"
    return ""


def repair_stock(chunk: Chunk, run) -> Repaired:
    scope = run.invariants
    fix = {"batch_u": "I4" in scope, "batch_r": "I2" in scope, "inv_u": "I1" in scope, "inv_r": "I2" in scope}
    drift = [d for d in run.drift if d.repairable and d.invariant in scope]
    batch_ids = sorted({d.object_id for d in drift if d.object_type == "batch"})
    inv_ids = sorted({d.object_id for d in drift if d.object_type == "inventory" and d.object_id is not None})
    missing = sorted({d.key for d in drift if d.object_type == "inventory" and d.object_id is None})
    if not fix["inv_u"]:
        missing = []  # a missing row is created by I1 (it carries the usable total)

    for ids in slices(batch_ids):
        lock(Batch, ids)
    locked: dict[int, Inventory] = {}
    for ids in slices(inv_ids):
        locked.update(lock(Inventory, ids))
    locked.update(_insert_missing(missing))

    result = Repaired()
    changes = _repair_batches(batch_ids, fix, result) + _repair_inventory(locked, fix, result, run.now)
    run.audit(changes)
    result.rows = len(changes)
    return result


# --- missing inventory rows --------------------------------------------------------------------


def _insert_missing(keys: list[str]) -> dict[int, Inventory]:
    """Create the rows (version 0, totals 0; a concurrent posting may win the race: then we keep its
    row), lock them and set the head of their key's chain on the ones we created. Returns them by id."""
    if not keys:
        return {}
    parts = [tuple(int(x) for x in k.split(":")) for k in keys]
    Inventory.objects.bulk_create(
        [
            Inventory(key=k, item_id=i, warehouse_id=w or None, holder_id=h or None, ledger_head="", version=0)
            for k, (i, w, h) in zip(keys, parts, strict=True)
        ],
        ignore_conflicts=True,
    )
    ids = sorted(Inventory.objects.filter(key__in=keys).values_list("pk", flat=True))
    locked: dict[int, Inventory] = {}
    for part in slices(ids):
        rows = lock(Inventory, part)
        locked.update(rows)
        heads = _chain_heads(_by_pattern(rows))
        if heads:
            Inventory.objects.filter(pk__in=heads, version=0).update(
                ledger_head=Case(*(When(pk=pk, then=Value(h)) for pk, h in heads.items()), default=Value(""))
            )
    return locked


def _chain_heads(groups) -> dict[int, str]:
    """The hash of the last non-batched ledger entry of each row's key: the row's ledger_head (I8)."""
    last, params = _per_row("i.id AS id, MAX(l.id) AS last", [], groups, "JOIN", " AND l.batch_id IS NULL")
    return dict(fetchall(f"SELECT h.id, e.hash FROM ({last}) h JOIN {LEDGER} e ON e.id = h.last", params))


# --- inventory rows: the ledger of exactly these rows ------------------------------------------

# (warehouse is NULL, holder is NULL) -> how a row of that NULL pattern joins its ledger entries
PATTERNS = {
    (False, True): "l.warehouse_id = i.warehouse_id AND l.holder_id IS NULL",
    (True, False): "l.warehouse_id IS NULL AND l.holder_id = i.holder_id",
    (False, False): "l.warehouse_id = i.warehouse_id AND l.holder_id = i.holder_id",
    (True, True): "l.warehouse_id IS NULL AND l.holder_id IS NULL",
}


def _by_pattern(rows: dict[int, Inventory]) -> list[tuple[tuple[bool, bool], list[int]]]:
    """The ids of these inventory rows grouped by NULL pattern (only the patterns that occur)."""
    groups: dict[tuple[bool, bool], list[int]] = {}
    for pk in sorted(rows):
        groups.setdefault((rows[pk].warehouse_id is None, rows[pk].holder_id is None), []).append(pk)
    return list(groups.items())


def _per_row(select: str, params: list, groups, join: str = "LEFT JOIN", extra: str = "") -> tuple[str, list]:
    """One SELECT per NULL pattern over its inventory rows joined to their ledger entries, UNION ALL,
    and its parameters. `select` (with its own `params`, repeated per branch) names the row i and the
    entries l; it is grouped by i.id."""
    branches, args = [], []
    for pattern, ids in groups:
        branches.append(
            f"SELECT {select} FROM {INVENTORY} i {join} {LEDGER} l ON l.item_id = i.item_id AND {PATTERNS[pattern]}"
            f"{extra} WHERE i.id IN ({placeholders(ids)}) GROUP BY i.id"
        )
        args += [*params, *ids]
    return " UNION ALL ".join(branches), args


# --- batches -----------------------------------------------------------------------------------


def _batch_derived(ids: list[int]) -> str:
    """Σ ledger per batch (params: ids twice); a batch without entries gets 0."""
    q, r = rnd("COALESCE(l.q, 0)"), rnd("COALESCE(l.r, 0)")
    return f"""SELECT b.id AS id, {q} AS q, {r} AS r
        FROM {BATCH} b LEFT JOIN (
            SELECT batch_id, SUM(qty_delta) AS q, SUM(reserved_delta) AS r FROM {LEDGER}
            WHERE batch_id IN ({placeholders(ids)}) GROUP BY batch_id
        ) l ON l.batch_id = b.id
        WHERE b.id IN ({placeholders(ids)})"""


def _repair_batches(batch_ids: list[int], fix: dict, result: Repaired) -> list[audit.Change]:
    changes = []
    for ids in slices(batch_ids):
        rows = fetchall(
            f"SELECT b.id, b.usable_qty, b.reserved_qty, d.q, d.r FROM {BATCH} b JOIN ({_batch_derived(ids)}) d "
            "ON d.id = b.id ORDER BY b.id",
            ids * 2,
        )
        todo = []
        for pk, *vals in rows:
            u, r, q, lr = (dec(v) for v in vals)
            new_u, new_r = (q if fix["batch_u"] else u), (lr if fix["batch_r"] else r)
            if (new_u, new_r) == (u, r):
                continue
            if why := _bad(new_u, new_r):
                result.skipped.append({"object_type": "batch", "object_id": pk, "reason": why})
                continue
            todo.append(pk)
            for inv, changed in (("I4", new_u != u), ("I2", new_r != r)):
                if changed:
                    result.changed[inv] = result.changed.get(inv, 0) + 1
            changes.append(
                audit.Change(
                    ACTION,
                    "batch",
                    pk,
                    {"usable_qty": _s(u), "reserved_qty": _s(r)},
                    {"usable_qty": _s(new_u), "reserved_qty": _s(new_r)},
                )
            )
        if todo:
            sets, differs = [], []
            for col, alias, on in (("usable_qty", "d.q", fix["batch_u"]), ("reserved_qty", "d.r", fix["batch_r"])):
                if on:
                    sets.append((col, alias))
                    differs.append(f"{rnd(f'{BATCH}.{col}')} <> {alias}")
            sets.append(("version", f"{BATCH}.version + 1"))
            n = execute(update_from(BATCH, _batch_derived(todo), sets, " OR ".join(differs)), todo * 2)
            if n != len(todo):
                raise RepairRaced(f"batch update touched {n} rows, expected {len(todo)}")
    return changes


# --- inventory rows ----------------------------------------------------------------------------


def _inventory_derived(groups, ts) -> tuple[str, list]:
    """Σ ledger per inventory row of `groups` (0 without entries) and the write time; with its params."""
    q, r = rnd("COALESCE(SUM(l.qty_delta), 0)"), rnd("COALESCE(SUM(l.reserved_delta), 0)")
    return _per_row(f"i.id AS id, {q} AS q, {r} AS r, %s AS ts", [ts], groups)


def _repair_inventory(locked: dict[int, Inventory], fix: dict, result: Repaired, now) -> list[audit.Change]:
    changes = []
    ts = connection.ops.adapt_datetimefield_value(now)
    for ids in slices(locked):
        groups = _by_pattern({pk: locked[pk] for pk in ids})
        derived, params = _inventory_derived(groups, ts)
        rows = fetchall(
            f"SELECT i.id, i.version, i.usable_qty, i.reserved_qty, d.q, d.r FROM {INVENTORY} i "
            f"JOIN ({derived}) d ON d.id = i.id ORDER BY i.id",
            params,
        )
        todo, stuck = [], []
        for pk, version, *vals in rows:
            u, r, q, lr = (dec(v) for v in vals)
            created = version == 0
            new_u, new_r = (q if fix["inv_u"] else u), (lr if fix["inv_r"] else r)
            if why := _bad(new_u, new_r):
                result.skipped.append({"object_type": "inventory", "object_id": pk, "reason": why})
                if created:
                    stuck.append(pk)  # keeps its zero totals; no longer marked as ours
                continue
            if (new_u, new_r) == (u, r) and not created:
                continue
            todo.append(pk)
            for inv, changed in (("I1", created or new_u != u), ("I2", new_r != r)):
                if changed:
                    result.changed[inv] = result.changed.get(inv, 0) + 1
            before = None if created else {"usable_qty": _s(u), "reserved_qty": _s(r)}
            after = {"usable_qty": _s(new_u), "reserved_qty": _s(new_r)} | ({"created": True} if created else {})
            changes.append(audit.Change(ACTION, "inventory", pk, before, after))
        if stuck:
            Inventory.objects.filter(pk__in=stuck, version=0).update(version=1)
        if todo:
            sets, differs = [], [f"{INVENTORY}.version = 0"]
            for col, alias, on in (("usable_qty", "d.q", fix["inv_u"]), ("reserved_qty", "d.r", fix["inv_r"])):
                if on:
                    sets.append((col, alias))
                    differs.append(f"{rnd(f'{INVENTORY}.{col}')} <> {alias}")
            sets += [("version", f"{INVENTORY}.version + 1"), ("last_updated", "d.ts")]
            chosen = set(todo)
            kept = [(p, mine) for p, g in groups if (mine := [i for i in g if i in chosen])]
            derived, params = _inventory_derived(kept, ts)
            n = execute(update_from(INVENTORY, derived, sets, " OR ".join(differs)), params)
            if n != len(todo):
                raise RepairRaced(f"inventory update touched {n} rows, expected {len(todo)}")
    return changes
