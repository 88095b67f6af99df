"""Operations of the stock engine's API: receipts, transfers (issue + receive in one transaction),
count adjustments (request, then approve or reject), and the reads that refresh a client's view."""

from datetime import date, timedelta

from ..history import OK
from .base import Operation, Request, dec, register

API = "/api/v1"


def _entries_problems(entries: list[dict], doc_type: str, doc_id=None) -> list[str]:
    problems = []
    docs = {(e["doc_type"], e["doc_id"]) for e in entries}
    if len(docs) > 1:
        problems.append(f"rows of {len(docs)} documents under one key: {sorted(docs)}")
    if any(e["doc_type"] != doc_type for e in entries):
        problems.append(f"doc_type {sorted({e['doc_type'] for e in entries})} instead of {doc_type}")
    if doc_id is not None and any(e["doc_id"] != str(doc_id) for e in entries):
        problems.append(f"doc_id {sorted({e['doc_id'] for e in entries})} instead of the acknowledged {doc_id}")
    return problems


@register
class Receive(Operation):
    name = "receive"
    weight = 18
    requires = (f"{API}/receipts/",)

    def generate(self, state, rng):
        item = state.pick_item("batched")
        if item is None:
            return None
        body = {"item_id": item["id"], "warehouse_id": state.pick_warehouse(), "qty": state.qty(item, 5, 40)}
        if item["can_expire"]:
            today = date.today()
            if rng.random() < 0.05:  # an already expired batch: transfers from it must be refused
                body.update(batch_date=str(today - timedelta(days=30)), expiry_date=str(today - timedelta(days=1)))
            else:
                body["expiry_date"] = str(today + timedelta(days=rng.randint(30, 400)))
        return Request("POST", f"{API}/receipts/", body)

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK:
            state.learn_batch({**body, "expiry_date": req.body.get("expiry_date")})

    def check_ledger(self, op, entries, ctx):
        req, body = op["req"]["body"], op.get("body") if op["outcome"] == OK else None
        problems = _entries_problems(entries, "receipt", body and body.get("document_id"))
        if len(entries) != 1:
            return [*problems, f"{len(entries)} ledger rows instead of 1"]
        e = entries[0]
        if e["kind"] != "RECEIVE" or dec(e["qty_delta"]) != dec(req["qty"]) or dec(e["reserved_delta"]) != 0:
            problems.append(f"row {e['kind']} {e['qty_delta']}/{e['reserved_delta']} for a receipt of {req['qty']}")
        if e["item_id"] != req["item_id"] or e["warehouse_id"] != req["warehouse_id"]:
            problems.append("row on another item or warehouse than requested")
        if body and e["batch_id"] != body.get("batch_id"):
            problems.append(f"row on batch {e['batch_id']}, acknowledged batch {body.get('batch_id')}")
        return problems


@register
class Transfer(Operation):
    """Batch stock from one warehouse to another: an issue and a receipt in one transaction."""

    name = "transfer"
    weight = 30
    requires = (f"{API}/transfers/",)
    expected_codes = frozenset({"insufficient_stock", "stale_version", "batch_not_issuable"})

    def generate(self, state, rng):
        item = state.pick_item("batched")
        if item is None:
            return None
        candidates = state.batches_of(item["id"])
        if not candidates:
            return None
        picked = rng.sample(candidates, min(len(candidates), 2 if rng.random() < 0.25 else 1))
        dest = state.pick_warehouse(exclude={b["warehouse_id"] for _, b in picked})
        if dest is None:
            return None
        lines = []
        for pk, b in picked:
            avail = state.available(b)
            # now and then more than (last seen) available: a 409 unless it grew meanwhile
            qty = str(avail + 1) if rng.random() < 0.1 else state.qty(item, 1, max(1, min(int(avail), 8)))
            line = {"batch_id": pk, "qty": qty}
            if rng.random() < 0.2 and "version" in b:
                line["version"] = b["version"]  # what this client last saw: often stale under contention
            lines.append(line)
        return Request("POST", f"{API}/transfers/", {"to_warehouse_id": dest, "lines": lines, "reason": "torture"})

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK:
            for b in [*body.get("from", []), *body.get("to", [])]:
                state.learn_batch(b)
        elif status == 409:
            for line in req.body["lines"]:  # the view is stale: forget the quantity until the next read
                state.batches.get(line["batch_id"], {}).update(usable_qty="0", reserved_qty="0")

    def check_ledger(self, op, entries, ctx):
        req, body = op["req"]["body"], op.get("body") if op["outcome"] == OK else None
        problems = _entries_problems(entries, "transfer", body and body.get("document_id"))
        out_per_batch: dict[int, object] = {}
        for line in req["lines"]:
            out_per_batch[line["batch_id"]] = out_per_batch.get(line["batch_id"], dec(0)) + dec(line["qty"])
        outs = [e for e in entries if e["kind"] == "TRANSFER_OUT"]
        ins = [e for e in entries if e["kind"] == "TRANSFER_IN"]
        if len(outs) + len(ins) != len(entries):
            problems.append(f"unexpected kinds {sorted({e['kind'] for e in entries})}")
        got: dict[int, object] = {}
        for e in outs:
            got[e["batch_id"]] = got.get(e["batch_id"], dec(0)) - dec(e["qty_delta"])
        if got != out_per_batch:
            problems.append(f"TRANSFER_OUT per batch {got} != requested {out_per_batch}")
        if sum(dec(e["qty_delta"]) for e in ins) != sum(out_per_batch.values()):
            problems.append("TRANSFER_IN total differs from the quantity taken out")
        if any(e["warehouse_id"] != req["to_warehouse_id"] for e in ins):
            problems.append("TRANSFER_IN row outside the destination warehouse")
        if any(dec(e["reserved_delta"]) != 0 for e in entries):
            problems.append("a transfer moved a reservation")
        return problems


@register
class AdjustRequest(Operation):
    """A count that differs from the record: a PENDING document, no quantity moves yet."""

    name = "adjust_request"
    weight = 5
    requires = (f"{API}/adjustments/",)
    expected_codes = frozenset({"nothing_to_adjust"})

    def generate(self, state, rng):
        item = state.pick_item("batched")
        known = state.batches_of(item["id"], in_stock=False) if item else []
        if not known:
            return None
        pk, b = rng.choice(known)
        counted = max(dec(b.get("usable_qty", 0)) + rng.choice([-3, -2, -1, 1, 2, 3]), dec(0))
        body = {"batch_id": pk, "counted_qty": str(counted), "reason": "torture count"}
        return Request("POST", f"{API}/adjustments/", body)

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK:
            state.extra.setdefault("pending_adjustments", []).append(body["document_id"])

    def must_write_ledger(self, op):
        return False

    def check_ledger(self, op, entries, ctx):
        return [f"an adjustment request wrote {len(entries)} ledger rows"] if entries else []


@register
class AdjustDecide(Operation):
    """A manager approves (applies counted − recorded) or rejects a pending count."""

    name = "adjust_decide"
    weight = 5
    requires = (f"{API}/adjustments/",)
    expected_codes = frozenset({"stale_version", "insufficient_stock", "already_decided"})

    def generate(self, state, rng):
        pending = state.extra.get("pending_adjustments") or []
        if not pending:
            return None
        doc = pending.pop(rng.randrange(len(pending)))
        action = "approve" if rng.random() < 0.8 else "reject"
        return Request("POST", f"{API}/adjustments/{doc}/{action}/", {}, role="manager", meta={"doc": doc})

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK:
            state.learn_batch(body)

    def must_write_ledger(self, op):
        return op["req"]["path"].endswith("/approve/")

    def check_ledger(self, op, entries, ctx):
        doc = op["req"]["path"].rstrip("/").split("/")[-2]
        if not op["req"]["path"].endswith("/approve/"):
            return [f"a rejection wrote {len(entries)} ledger rows"] if entries else []
        problems = _entries_problems(entries, "adjustment", doc)
        if len(entries) != 1 or entries[0]["kind"] != "ADJUST":
            problems.append(f"{len(entries)} rows ({sorted({e['kind'] for e in entries})}) instead of one ADJUST")
        elif (
            ctx is not None
            and (want := ctx.adjustment_difference(int(doc))) is not None
            and (dec(entries[0]["qty_delta"]) != want)
        ):
            problems.append(f"ADJUST {entries[0]['qty_delta']} != counted − recorded {want}")
        return problems


@register
class BadReceipt(Operation):
    """Bad input (too many decimals, negative): must be refused with 400 before anything is written."""

    name = "bad_receipt"
    weight = 1
    requires = (f"{API}/receipts/",)
    expected_codes = frozenset({"validation_error"})

    def generate(self, state, rng):
        item = state.pick_item("batched")
        if item is None:
            return None
        qty = rng.choice(["-3", "0", "abc", "1." + "1" * (item["unit_decimals"] + 1)])
        return Request(
            "POST", f"{API}/receipts/", {"item_id": item["id"], "warehouse_id": state.warehouses[0], "qty": qty}
        )

    def must_write_ledger(self, op):
        return False


@register
class ReadBatches(Operation):
    name = "read_batches"
    weight = 10
    requires = (f"{API}/batches/",)

    def generate(self, state, rng):
        item = state.pick_item("batched")
        if item is None:
            return None
        return Request("GET", f"{API}/batches/?item={item['id']}&page_size=500", role="reader", write=False)

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK and isinstance(body, dict):
            for b in body.get("results", []):
                state.learn_batch(b)


@register
class ReadInventory(Operation):
    name = "read_inventory"
    weight = 3
    requires = (f"{API}/inventory/",)

    def generate(self, state, rng):
        return Request("GET", f"{API}/inventory/?page_size=500", role="reader", write=False)
