"""Sales of LPG cylinders: POST /api/v1/sales/ (a transaction, its line items, their ledger legs and an
invoice in one transaction). The legs per line kind are the sales app's table (docs/sales.md).

Invoice transitions: send (GENERATED → SENT), pay (SENT → PAID), void (GENERATED or SENT → VOID). Send
and pay write no ledger row; a void cancels the sale's stock movement: one compensating REVERT row per
ledger row of the sale (doc_type invoice_void, `reverts` = the sale's row), or 409 insufficient_stock
when the cylinders have moved on since. Now and then a transition is tried from a status that does not
allow it (409 invalid_status), or with the version the client last saw (409 stale_version)."""

from collections import Counter

from ..history import OK
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

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK and isinstance(body.get("invoice"), dict):
            inv = body["invoice"]
            _invoices(state)[inv["id"]] = {"version": inv["version"], "status": inv["status"]}

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


# --- invoice transitions -------------------------------------------------------------------------

INVOICES = f"{API}/invoices/"
TRANSITION_CODES = frozenset({"stale_version", "invalid_status"})


def _invoices(state) -> dict:
    return state.extra.setdefault("invoices", {})


class _Transition(Operation):
    action = ""
    sources: tuple[str, ...] = ()
    requires = (INVOICES,)
    expected_codes = TRANSITION_CODES

    def generate(self, state, rng):
        known = _invoices(state)
        if rng.random() < 0.1:  # any status: a transition it may not allow (409 invalid_status)
            choices = [(pk, inv) for pk, inv in known.items() if inv["status"] != "?"]
        else:
            choices = [(pk, inv) for pk, inv in known.items() if inv["status"] in self.sources]
        if not choices:
            return None
        pk, inv = rng.choice(choices)
        body = {"version": inv["version"]}
        if self.action == "void":
            body["reason"] = "torture: cancelled"
        return Request("POST", f"{INVOICES}{pk}/{self.action}/", body, role="sales", meta={"id": pk})

    def on_complete(self, state, req, outcome, status, body):
        inv = _invoices(state)[req.meta["id"]]
        if outcome == OK:
            inv.update(version=body["version"], status=body["status"])
        elif status == 409 and isinstance(body, dict):
            extra = body.get("extra") or {}
            if body.get("code") == "stale_version" and extra.get("current_version") is not None:
                inv["version"] = extra["current_version"]
            elif body.get("code") == "invalid_status" and extra.get("status"):
                inv["status"] = extra["status"]
            elif body.get("code") == "insufficient_stock":
                inv["status"] = "?"  # the void cannot be done now: leave this invoice alone

    def must_write_ledger(self, op):
        return False

    def check_record(self, op, result):
        # The view answers with the invoice as it reads now (a later transition may have moved it on);
        # the key's stored result is the transition's own: same invoice, a version not newer than the answer.
        body = op["body"] or {}
        if not isinstance(result, dict) or result.get("invoice_id") != body.get("id"):
            return [f"acknowledged invoice {body.get('id')} != stored {result!r:.200}"]
        if int(result.get("version", 0)) > int(body.get("version", 0)):
            return [f"stored version {result.get('version')} is newer than the acknowledged {body.get('version')}"]
        return []

    def check_ledger(self, op, entries, ctx):
        return [f"invoice {self.action} wrote {len(entries)} ledger rows"] if entries else []


@register
class InvoiceSend(_Transition):
    name = "invoice_send"
    action = "send"
    sources = ("GENERATED",)
    weight = 2


@register
class InvoicePay(_Transition):
    name = "invoice_pay"
    action = "pay"
    sources = ("SENT",)
    weight = 1.5


@register
class InvoiceVoid(_Transition):
    """Void: the sale's ledger rows, each reversed once by a REVERT row linked to it."""

    name = "invoice_void"
    action = "void"
    sources = ("GENERATED", "SENT")
    weight = 1.5
    expected_codes = TRANSITION_CODES | {"insufficient_stock"}

    def must_write_ledger(self, op):
        return True  # every sale line has legs

    def check_ledger(self, op, entries, ctx):
        invoice = op["req"]["path"].rstrip("/").split("/")[-2]
        problems = []
        if any(e["doc_type"] != "invoice_void" or e["doc_id"] != invoice for e in entries):
            problems.append(f"rows of another document than invoice_void {invoice}")
        if any(e["kind"] != "REVERT" or e["batch_id"] is not None or dec(e["reserved_delta"]) for e in entries):
            problems.append("a void row that is not a REVERT of a non-batched quantity")
        if ctx is None or not ctx.invoice_transactions:
            return problems
        trx = ctx.invoice_transactions.get(int(invoice))
        sale_rows = {e["id"]: e for e in ctx.entries if e["doc_type"] == "sale" and e["doc_id"] == str(trx)}
        reverted = Counter(e["reverts_id"] for e in entries)
        for e in entries:
            orig = sale_rows.get(e["reverts_id"])
            if orig is None:
                problems.append(f"row {e['id']} reverts {e['reverts_id']}, not a ledger row of sale {trx}")
            elif (e["item_id"], e["warehouse_id"], e["holder_id"]) != (
                orig["item_id"],
                orig["warehouse_id"],
                orig["holder_id"],
            ) or dec(e["qty_delta"]) != -dec(orig["qty_delta"]):
                problems.append(f"row {e['id']} ({e['qty_delta']}) does not mirror sale row {orig['id']}")
        twice = sorted(pk for pk, n in reverted.items() if n > 1)
        if twice:
            problems.append(f"sale rows reverted more than once: {twice}")
        every = Counter(e["reverts_id"] for e in ctx.entries if e["reverts_id"] in sale_rows)
        if any(n > 1 for n in every.values()):
            problems.append(f"sale {trx}'s rows reverted more than once in the ledger: {dict(every)}")
        if op["outcome"] == OK and set(reverted) != set(sale_rows):
            problems.append(f"the void reverted rows {sorted(reverted)} of sale {trx}'s {sorted(sale_rows)}")
        return problems


@register
class ReadInvoices(Operation):
    """The newest invoices of every client: transitions then race between clients (stale versions)."""

    name = "read_invoices"
    weight = 1
    requires = (INVOICES,)

    def generate(self, state, rng):
        if not state.seed.get("lpg_products"):
            return None
        return Request("GET", f"{INVOICES}?page_size=30", role="reader", write=False)

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK and isinstance(body, dict):
            for inv in body.get("results", []):
                _invoices(state)[inv["id"]] = {"version": inv["version"], "status": inv["status"]}
