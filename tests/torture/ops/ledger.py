"""Ledger postings of non-batched items (LPG cylinders): POST /api/v1/ledger/ with signed legs."""

from collections import Counter

from .base import Operation, Request, dec, register

API = "/api/v1"


@register
class LedgerPost(Operation):
    name = "ledger_post"
    weight = 8
    requires = (f"{API}/ledger/",)
    expected_codes = frozenset({"insufficient_stock"})

    def generate(self, state, rng):
        item = state.pick_item("loose")
        if item is None:
            return None
        places = state.warehouses + state.seed.get("depots", [])
        depot = rng.choice(places)
        customer = rng.choice(state.seed["customers"])
        q = rng.randint(1, 12)
        kind = rng.choices(["LOAD", "TRANSFER", "DELIVERY", "DUMP"], [6, 2, 2, 1])[0]
        if kind == "LOAD":
            legs = [{"item_id": item["id"], "warehouse_id": depot, "qty_delta": str(q)}]
        elif kind == "TRANSFER":
            other = rng.choice([w for w in places if w != depot])
            legs = [
                {"item_id": item["id"], "warehouse_id": depot, "qty_delta": str(-q)},
                {"item_id": item["id"], "warehouse_id": other, "qty_delta": str(q)},
            ]
        elif kind == "DELIVERY":  # full cylinders from the depot to a customer
            legs = [
                {"item_id": item["id"], "warehouse_id": depot, "qty_delta": str(-q)},
                {"item_id": item["id"], "holder_id": customer, "qty_delta": str(q)},
            ]
        else:
            legs = [{"item_id": item["id"], "warehouse_id": depot, "qty_delta": str(-q)}]
        return Request("POST", f"{API}/ledger/", {"kind": kind, "legs": legs, "reason": "torture"}, role="sales")

    def check_ledger(self, op, entries, ctx):
        req = op["req"]["body"]
        want = Counter(
            (leg["item_id"], leg.get("warehouse_id"), leg.get("holder_id"), dec(leg["qty_delta"]))
            for leg in req["legs"]
        )
        got = Counter((e["item_id"], e["warehouse_id"], e["holder_id"], dec(e["qty_delta"])) for e in entries)
        problems = []
        if got != want:
            problems.append(f"rows {dict(got)} != legs {dict(want)}")
        if any(e["kind"] != req["kind"] or e["batch_id"] is not None or e["doc_type"] != "posting" for e in entries):
            problems.append("rows of another kind, on a batch, or of another document type")
        if len({e["doc_id"] for e in entries}) > 1:
            problems.append("rows of several documents")
        return problems
