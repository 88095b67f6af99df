"""Ledger postings for non-batched items (LPG cylinders at depots, vehicles and customers).

One call posts one or more legs (a TRANSFER has two) in one transaction; the inventory row of each
(item, warehouse, holder) key moves by the same delta, NULL-safe on both warehouse and holder. No row
may go negative: the call is refused (409) and an offline client retries later with the same key.
"""

from stockledger.catalog.models import Customer, Item, Warehouse
from stockledger.core.errors import ValidationError
from stockledger.core.idempotency import run_once
from stockledger.core.roles import authorize

from .. import engine
from ..engine import Delta, Posting
from ..models import Inventory, LedgerEntry, StockDocument
from ..validation import collect, item_units, quantity
from .common import new_document

POSTING_KINDS = {"LOAD", "DELIVERY", "COLLECTION", "RETURN", "TRANSFER", "DUMP", "ADJUSTMENT", "SALE"}


def parse_legs(legs) -> list[dict]:
    if not isinstance(legs, list | tuple) or not legs:
        raise ValidationError("At least one leg is required.", fields={"legs": ["at least one leg is required"]})
    errors, out = {}, []
    ids = {"item": set(), "warehouse": set(), "holder": set()}
    for i, leg in enumerate(legs):
        if not isinstance(leg, dict):
            errors[f"legs.{i}"] = ["must be an object"]
            continue
        parsed = {"i": i, "qty_delta": leg.get("qty_delta")}
        for f in ("item", "warehouse", "holder"):
            raw = leg.get(f"{f}_id")
            if raw in (None, ""):
                parsed[f] = None
                continue
            try:
                parsed[f] = int(raw)
                ids[f].add(parsed[f])
            except (TypeError, ValueError):
                errors[f"legs.{i}.{f}_id"] = ["must be an id"]
        if parsed.get("item") is None:
            errors.setdefault(f"legs.{i}.item_id", ["required"])
        if parsed.get("warehouse") is None and parsed.get("holder") is None:
            errors[f"legs.{i}"] = ["a leg needs a warehouse (depot, vehicle) or a holder customer"]
        out.append(parsed)
    collect(errors)
    known = {
        "item": set(Item.objects.filter(pk__in=ids["item"]).values_list("pk", flat=True)),
        "warehouse": set(Warehouse.objects.filter(pk__in=ids["warehouse"]).values_list("pk", flat=True)),
        "holder": set(Customer.objects.filter(pk__in=ids["holder"]).values_list("pk", flat=True)),
    }
    units = item_units(known["item"])
    for leg in out:
        for f in ("item", "warehouse", "holder"):
            if leg[f] is not None and leg[f] not in known[f]:
                errors[f"legs.{leg['i']}.{f}_id"] = [f"unknown {f} {leg[f]}"]
        if leg["item"] in units:
            dec, unit, tracked, _ = units[leg["item"]]
            if tracked:
                errors[f"legs.{leg['i']}.item_id"] = ["this item is batch-tracked: use receive / issue / transfer"]
            try:
                leg["qty_delta"] = quantity(
                    leg["qty_delta"], dec, unit, f"legs.{leg['i']}.qty_delta", allow_negative=True
                )
                if leg["qty_delta"] == 0:
                    errors[f"legs.{leg['i']}.qty_delta"] = ["must not be zero"]
            except ValidationError as e:
                errors.update(e.extra["fields"])
    collect(errors)
    return out


def post_legs(*, actor, kind: str, legs: list[dict], posting: Posting) -> list[LedgerEntry]:
    """Inside a transaction: lock the keys (pk order), refuse any negative result, write."""
    return engine.apply(
        [
            Delta(
                qty=leg["qty_delta"],
                kind=kind,
                item_id=leg["item"],
                warehouse_id=leg["warehouse"],
                holder_id=leg["holder"],
            )
            for leg in legs
        ],
        posting,
    )


def ledger_post(*, actor, kind: str, legs, reason: str = "", idempotency_key: str | None = None) -> dict:
    if kind not in POSTING_KINDS:
        raise ValidationError("Unknown posting kind.", fields={"kind": [", ".join(sorted(POSTING_KINDS))]})
    if kind == "ADJUSTMENT" and not (reason or "").strip():
        raise ValidationError("An adjustment needs a reason.", fields={"reason": ["required for ADJUSTMENT"]})
    parsed = parse_legs(legs)
    if kind == "TRANSFER" and (len(parsed) != 2 or sum(leg["qty_delta"] for leg in parsed) != 0):
        raise ValidationError(
            "A transfer has two legs that cancel out (−q from one holder, +q to the other).",
            fields={"legs": ["two legs summing to zero"]},
        )
    authorize(actor, "ledger.post", {leg["warehouse"] for leg in parsed})

    def work():
        doc = new_document(StockDocument.Kind.POSTING, actor, [{**leg, "kind": kind} for leg in parsed], reason)
        entries = post_legs(
            actor=actor,
            kind=kind,
            legs=parsed,
            posting=Posting(actor, "posting", doc.pk, idempotency_key or "", reason, "inventory.post"),
        )
        rows = Inventory.objects.filter(
            key__in={
                engine.Delta(item_id=e.item_id, warehouse_id=e.warehouse_id, holder_id=e.holder_id).key for e in entries
            }
        )
        return {
            "document_id": doc.pk,
            "entries": [e.pk for e in entries],
            "inventory": [
                {
                    "item_id": r.item_id,
                    "warehouse_id": r.warehouse_id,
                    "holder_id": r.holder_id,
                    "quantity": r.usable_qty,
                    "usable_qty": r.usable_qty,
                    "version": r.version,
                }
                for r in rows
            ],
        }

    return run_once(idempotency_key, "ledger_post", actor, work, {"kind": kind, "legs": legs, "reason": reason})
