"""Sales of LPG cylinders: POST /api/v1/sales/ (a transaction, its line items, their ledger legs and an
invoice in one transaction). The legs per line kind are the sales app's table (docs/sales.md)."""

from collections import Counter

from .base import Operation, Request, dec, register

API = "/api/v1"
LEGS_BY_KIND = {  # (place, FULL/EMPTY, sign)
    "SALE": (("depot", "FULL", -1), ("customer", "FULL", +1)),
    "REFILL": (("depot", "FULL", -1), ("depot", "EMPTY", +1)),
    "SWAP": (("depot", "FULL", -1), ("depot", "EMPTY", +1)),
    "RETURN": (("customer", "FULL", -1), ("depot", "EMPTY", +1)),
}


@register
class Sale(Operation):
    name = "sale"
    weight = 5
    requires = (f"{API}/sales/",)
    expected_codes = frozenset({"insufficient_stock"})

    def generate(self, state, rng):
        products = state.seed.get("lpg_products") or []
        if not products:
            return None
        lines = [
            {
                "product_id": rng.choice(products)["id"],
                "kind": rng.choices(list(LEGS_BY_KIND), [4, 2, 2, 1])[0],
                "quantity": rng.randint(1, 4),
                "unit_price": "950.00",
            }
            for _ in range(rng.randint(1, 2))
        ]
        body = {"customer_id": rng.choice(state.seed["customers"]), "depot_id": rng.choice(state.seed["depots"])}
        return Request("POST", f"{API}/sales/", {**body, "lines": lines, "note": "torture"}, role="sales")

    def check_record(self, op, result):
        # The view answers with the sale as it reads now; the key's stored result names that sale.
        if not isinstance(result, dict) or result.get("sale_id") != (op["body"] or {}).get("id"):
            return [f"acknowledged sale {(op['body'] or {}).get('id')} != stored {result!r:.200}"]
        return []

    def check_ledger(self, op, entries, ctx):
        req = op["req"]["body"]
        products = {p["id"]: p for p in ctx.seed_products} if ctx is not None and ctx.seed_products else {}
        problems = []
        if any(e["kind"] != "SALE" or e["doc_type"] != "sale" or e["batch_id"] is not None for e in entries):
            problems.append("rows of another kind or document type, or on a batch")
        if products:
            want = Counter()
            for line in req["lines"]:
                p = products[line["product_id"]]
                for place, state, sign in LEGS_BY_KIND[line["kind"]]:
                    item = p["full_item_id"] if state == "FULL" else p["empty_item_id"]
                    where = (req["depot_id"], None) if place == "depot" else (None, req["customer_id"])
                    want[(item, *where)] += sign * line["quantity"]
            got = Counter()
            for e in entries:
                got[(e["item_id"], e["warehouse_id"], e["holder_id"])] += int(dec(e["qty_delta"]))
            if +got != +want or -got != -want:
                problems.append(f"legs {dict(got)} != the sale's lines {dict(want)}")
        return problems
