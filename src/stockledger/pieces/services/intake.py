"""Stock coming in: production (one call = one batch) and return (one batch per variant).

Both create the batch through the stock engine's `receive` (a RECEIVE ledger row: initial = current =
total), then its stock records and pieces, then audit rows. A return never names or adds to an
existing batch.
"""

from decimal import Decimal

from stockledger.catalog.models import Item, Warehouse
from stockledger.core.errors import ValidationError
from stockledger.core.idempotency import run_once
from stockledger.core.roles import authorize
from stockledger.stock import engine
from stockledger.stock.engine import Posting
from stockledger.stock.models import Batch, inventory_key
from stockledger.stock.services import receive

from ..models import Operation
from ..rules import Problems, StockSpec, as_date, merge_specs, parse_intake_line
from .common import (
    create_records,
    customer_or_none,
    new_operation,
    op_audit,
    pipe_item,
    records_audit,
    types_of,
    warehouse_or_yard,
)

K = Operation.Kind


def parse_specs(lines, item: Item, problems: Problems, name: str, *, item_key: bool) -> list[StockSpec]:
    if not isinstance(lines, list | tuple) or not lines:
        problems.add(name, "at least one line is required")
        return []
    specs = []
    for i, line in enumerate(lines):
        extra = ("item_id",) if item_key else ()
        if item_key and isinstance(line, dict) and line.get("item_id") not in (None, item.pk, str(item.pk)):
            problems.add(
                f"{name}.{i}.item_id",
                "one production entry makes one batch of one variant; enter other variants separately",
            )
        spec = parse_intake_line(
            line, f"{name}.{i}", problems, types=types_of(item), decimals=item.product_type.unit_decimals, extra=extra
        )
        if spec is not None:
            specs.append(spec)
    return merge_specs(specs)


def intake(
    *, actor, op: Operation, item: Item, warehouse: Warehouse, specs, posting: Posting, origin, lines=True, **batch
):
    """A new batch holding `specs` (inside the caller's transaction, inventory row already locked):
    (batch, [(stock record, its new pieces)])."""
    total = sum((s.total for s in specs), Decimal(0)).quantize(Decimal("0.001"))
    b = receive(actor=actor, item=item, warehouse=warehouse, qty=total, posting=posting, origin=origin, **batch)
    made = create_records(b, specs, op, lines=lines)
    records_audit(actor, "stock.create", [rec for rec, _ in made], operation=op.number)
    return b, made


def batch_result(b: Batch, records) -> dict:
    return {
        "batch_id": b.pk,
        "batch_no": b.batch_no,
        "batch_code": b.batch_code,
        "item_id": b.item_id,
        "warehouse_id": b.warehouse_id,
        "initial_quantity": b.initial_qty,
        "current_quantity": b.usable_qty,
        "version": b.version,
        "stock_ids": [rec.pk for rec, _ in records],
    }


def lock_inventory_rows(pairs) -> None:
    """Lock (creating if needed) the inventory rows of several (item, warehouse) pairs in one pk-ordered step."""
    engine.lock_inventory({inventory_key(i, w, None): (i, w, None) for i, w in pairs})


def production_create(
    *,
    actor,
    item_id,
    lines,
    warehouse_id=None,
    batch_no: str | None = None,
    batch_date=None,
    notes: str = "",
    idempotency_key: str | None = None,
) -> dict:
    """One production entry = one batch of one variant, mixing FULL_ROLL + CUT_ROLL or BUNDLE + SPARE."""
    authorize(actor, "pipes.operate")
    item = pipe_item(item_id)
    problems = Problems()
    specs = parse_specs(lines, item, problems, "lines", item_key=True)
    day = as_date(batch_date, "batch_date", problems)
    problems.raise_if_any()
    warehouse = warehouse_or_yard(warehouse_id)
    authorize(actor, "pipes.operate", [warehouse.pk])

    def work():
        op = new_operation(K.PRODUCTION, actor, op_date=day, reason=notes)
        posting = Posting(actor, "pipe_production", op.pk, idempotency_key or "", notes, "batch.pipe_production")
        b, records = intake(
            actor=actor,
            op=op,
            item=item,
            warehouse=warehouse,
            specs=specs,
            posting=posting,
            origin=Batch.Origin.PRODUCTION,
            batch_no=batch_no or None,
            batch_date=day,
        )
        op_audit(actor, op, "pipes.production", after={"batch_id": b.pk, "current_quantity": b.usable_qty})
        return {"production_id": op.pk, "production_number": op.number, **batch_result(b, records)}

    payload = {"item": item.pk, "lines": lines, "warehouse": warehouse.pk, "batch_no": batch_no, "date": str(day)}
    return run_once(idempotency_key, "pipe_production", actor, work, payload)


def return_create(
    *,
    actor,
    items,
    warehouse_id=None,
    return_date=None,
    customer_id=None,
    notes: str = "",
    idempotency_key: str | None = None,
) -> dict:
    """Customer-returned stock: one NEW batch per variant (never the original batch), several stock
    records per batch when forms or roll lengths differ."""
    authorize(actor, "pipes.operate")
    problems = Problems()
    day = as_date(return_date, "return_date", problems)
    per_item: dict[int, list] = {}
    if not isinstance(items, list | tuple) or not items:
        problems.add("items", "at least one returned item is required")
        items = []
    for i, line in enumerate(items):
        if not isinstance(line, dict) or line.get("item_id") is None:
            problems.add(f"items.{i}.item_id", "each returned item names its variant (item_id)")
            continue
        try:
            item = pipe_item(line["item_id"], f"items.{i}.item_id")
        except ValidationError as err:  # collected with the others
            problems.absorb(err)
            continue
        per_item.setdefault(item.pk, [item, []])[1].append((i, line))
    groups = []
    for pk in sorted(per_item):
        item, lines = per_item[pk]
        specs = []
        for i, line in lines:
            spec = parse_intake_line(
                line,
                f"items.{i}",
                problems,
                types=types_of(item),
                decimals=item.product_type.unit_decimals,
                extra=("item_id",),
            )
            if spec is not None:
                specs.append(spec)
        groups.append((item, merge_specs(specs)))
    customer = customer_or_none(customer_id, problems)
    problems.raise_if_any()
    warehouse = warehouse_or_yard(warehouse_id)
    authorize(actor, "pipes.operate", [warehouse.pk])

    def work():
        op = new_operation(K.RETURN, actor, op_date=day, reason=notes, customer=customer)
        posting = Posting(actor, "pipe_return", op.pk, idempotency_key or "", notes, "batch.pipe_return")
        lock_inventory_rows((item.pk, warehouse.pk) for item, _ in groups)
        made = []
        for item, specs in groups:
            b, records = intake(
                actor=actor,
                op=op,
                item=item,
                warehouse=warehouse,
                specs=specs,
                posting=posting,
                origin=Batch.Origin.RETURN,
                batch_date=day,
            )
            made.append(batch_result(b, records))
        op_audit(actor, op, "pipes.return", after={"batch_ids": [m["batch_id"] for m in made]})
        return {
            "return_id": op.pk,
            "return_number": op.number,
            "batch_ids": [m["batch_id"] for m in made],
            "batches": made,
        }

    payload = {"items": items, "warehouse": warehouse.pk, "date": str(day), "customer": customer_id}
    return run_once(idempotency_key, "pipe_return", actor, work, payload)
