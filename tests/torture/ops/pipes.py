"""Pipe operations (stock records and pieces): production, dispatch (+ revert), scrap (+ revert), cut,
customer returns (+ revert), split-bundle and combine-spares, and the batch read that refreshes a
client's view of the stock records.

A return makes one NEW batch per variant (RECEIVE rows, doc_type pipe_return); its revert takes every
one of those batches to zero for good (REVERT rows, doc_type pipe_return_revert), or is refused (409
invalid_operation) once any of its items was dispatched. Split and combine change the form of stock,
never its amount: no ledger row at all, and I5 / I6 (batch = Σ stock records, record = Σ IN_STOCK
pieces) must hold afterwards.
"""

from collections import defaultdict

from ..history import OK
from .base import Operation, Request, dec, register

API = "/api/v1"
CODES = frozenset(
    {"insufficient_stock", "stale_version", "conflict", "invalid_status", "already_reverted", "not_found"}
    | {"batch_not_issuable", "nothing_to_revert", "dispatch_closed", "invalid_cut"}
    | {"invalid_operation", "piece_not_in_stock"}
)


def _stocks(state) -> dict:
    return state.extra.setdefault("pipe_stocks", {})


def _learn_stocks(state, batch_id, stocks) -> None:
    for s in stocks or []:
        known = _stocks(state).setdefault(s["stock_id"], {"batch_id": batch_id})
        known.update({k: s[k] for k in ("stock_type", "quantity", "length_per_unit", "pieces_per_bundle", "version")})
        if batch_id is not None:
            known["batch_id"] = batch_id


def _batches(state) -> set:
    """Pipe batches known without their stock records yet (returns): pipe_read learns them."""
    return state.extra.setdefault("pipe_batches", set())


def _takeable(state, *types):
    return [(pk, s) for pk, s in _stocks(state).items() if s.get("stock_type") in types and s.get("quantity", 0) > 0]


def _signed_rows(op, entries, doc_type: str, sign: int) -> list[str]:
    problems = []
    if any(e["doc_type"] != doc_type for e in entries):
        problems.append(f"doc_type {sorted({e['doc_type'] for e in entries})} instead of {doc_type}")
    if any(dec(e["qty_delta"]) * sign <= 0 for e in entries):
        problems.append(f"a {doc_type} row with the wrong sign: {[str(e['qty_delta']) for e in entries]}")
    return problems


@register
class PipeProduction(Operation):
    name = "pipe_production"
    weight = 4
    requires = (f"{API}/production/",)
    expected_codes = CODES

    def generate(self, state, rng):
        item = state.pick_item("pipe")
        if item is None:
            return None
        if item["unit_decimals"]:  # HDPE, metres: full rolls
            lines = [{"stock_type": "FULL_ROLL", "quantity": rng.randint(1, 4), "length_per_unit": "100"}]
        else:  # sprinkler, pieces: bundles and spares
            lines = [
                {"stock_type": "BUNDLE", "quantity": rng.randint(1, 4), "pieces_per_bundle": 10},
                {"stock_type": "SPARE", "quantity": rng.randint(1, 6)},
            ]
        body = {"item_id": item["id"], "warehouse_id": state.warehouses[0], "lines": lines}
        return Request("POST", f"{API}/production/", body)

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK and len(body.get("stock_ids", [])) == len(req.body["lines"]):
            for sid, line in zip(body["stock_ids"], req.body["lines"], strict=True):
                _stocks(state)[sid] = {
                    "batch_id": body["batch_id"],
                    "stock_type": line["stock_type"],
                    "quantity": line["quantity"],
                    "length_per_unit": line.get("length_per_unit"),
                    "pieces_per_bundle": line.get("pieces_per_bundle"),
                }

    def check_ledger(self, op, entries, ctx):
        problems = _signed_rows(op, entries, "pipe_production", +1)
        want = sum(
            dec(ln["quantity"]) * dec(ln.get("length_per_unit") or ln.get("pieces_per_bundle") or 1)
            for ln in op["req"]["body"]["lines"]
        )
        if sum(dec(e["qty_delta"]) for e in entries) != want:
            problems.append(f"produced {sum(dec(e['qty_delta']) for e in entries)} instead of {want}")
        return problems


class _Take(Operation):
    """Dispatch or scrap whole rolls / bundles of a known stock record."""

    path = ""
    doc_type = ""
    weight = 4
    expected_codes = CODES

    def generate(self, state, rng):
        choices = _takeable(state, "FULL_ROLL", "BUNDLE")
        if not choices:
            return None
        sid, s = rng.choice(choices)
        line = {"stock_id": sid, "quantity": rng.randint(1, min(2, s["quantity"]))}
        if rng.random() < 0.2 and s.get("version") is not None:
            line["stock_version"] = s["version"]
        return Request("POST", f"{API}/{self.path}/", self.body(state, rng, [line]), meta={"batch": s["batch_id"]})

    def body(self, state, rng, lines):
        raise NotImplementedError

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK:
            _learn_stocks(state, None, body.get("stocks"))
            state.extra.setdefault(self.doc_type, []).append(body.get(f"{self.doc_type.split('_')[1]}_id"))
        elif status == 409:
            for line in req.body["lines"]:
                _stocks(state).get(line["stock_id"], {})["quantity"] = 0  # until the next read

    def check_ledger(self, op, entries, ctx):
        return _signed_rows(op, entries, self.doc_type, -1)


@register
class PipeDispatch(_Take):
    name = "pipe_dispatch"
    path = "dispatches"
    doc_type = "pipe_dispatch"
    requires = (f"{API}/dispatches/",)

    def body(self, state, rng, lines):
        return {"customer_id": rng.choice(state.seed["customers"]), "lines": lines}


@register
class PipeScrap(_Take):
    name = "pipe_scrap"
    path = "scraps"
    doc_type = "pipe_scrap"
    weight = 2
    requires = (f"{API}/scraps/",)

    def body(self, state, rng, lines):
        return {"reason": "torture: damaged", "lines": lines}


class _Revert(Operation):
    source = ""
    doc_type = ""
    role = "manager"
    weight = 1
    expected_codes = CODES

    def generate(self, state, rng):
        done = state.extra.get(self.source) or []
        if not done:
            return None
        pk = done.pop(rng.randrange(len(done)))
        return Request("POST", f"{API}/{self.path}/{pk}/revert/", {}, role=self.role)

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK:
            _batches(state).update(body.get("batch_ids") or [])
            if body.get("return_id"):  # a dispatch revert is a return: it can be reverted in turn
                state.extra.setdefault("pipe_return", []).append(body["return_id"])

    def must_write_ledger(self, op):
        return True

    def check_ledger(self, op, entries, ctx):
        return _signed_rows(op, entries, self.doc_type, +1)


@register
class PipeScrapRevert(_Revert):
    name = "pipe_scrap_revert"
    source, path, doc_type = "pipe_scrap", "scraps", "pipe_scrap_revert"
    requires = (f"{API}/scraps/",)


@register
class PipeDispatchRevert(_Revert):
    """A customer return of a whole dispatch: a NEW return batch."""

    name = "pipe_dispatch_revert"
    source, path, doc_type = "pipe_dispatch", "dispatches", "pipe_return"
    role = "clerk"
    requires = (f"{API}/dispatches/",)


@register
class PipeCut(Operation):
    """Cut one full roll into two pieces: the batch total does not change."""

    name = "pipe_cut"
    weight = 2
    requires = (f"{API}/production/",)
    expected_codes = CODES

    def generate(self, state, rng):
        choices = [(pk, s) for pk, s in _takeable(state, "FULL_ROLL") if s.get("length_per_unit")]
        if not choices:
            return None
        sid, s = rng.choice(choices)
        length = dec(s["length_per_unit"])
        first = dec(rng.randint(1, int(length) - 1))
        body = {"piece1_length": str(first), "piece2_length": str(length - first)}
        return Request("POST", f"{API}/stock/{sid}/cut/", body, meta={"stock": sid})

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK:
            _learn_stocks(state, body.get("batch_id"), body.get("stocks"))
        elif status == 409:
            _stocks(state).get(req.meta["stock"], {})["quantity"] = 0

    def must_write_ledger(self, op):
        return None

    def check_ledger(self, op, entries, ctx):
        total = sum(dec(e["qty_delta"]) for e in entries)
        return [f"a cut changed the batch total by {total}"] if total else []


@register
class PipeRead(Operation):
    name = "pipe_read"
    weight = 3
    requires = (f"{API}/pipe-batches/",)

    def generate(self, state, rng):
        batches = sorted({s["batch_id"] for s in _stocks(state).values() if s.get("batch_id")} | _batches(state))
        if not batches:
            return None
        return Request("GET", f"{API}/pipe-batches/{rng.choice(batches)}/", role="reader", write=False)

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK and isinstance(body, dict):
            _learn_stocks(state, body.get("batch_id"), body.get("stock_records"))


def _line_total(line) -> object:
    """A production / return line in stock units (metres or pieces), as the ledger counts it."""
    if line["stock_type"] == "CUT_ROLL":
        return sum(dec(x) for x in line["piece_lengths"])
    size = line.get("length_per_unit") or line.get("pieces_per_bundle") or 1
    return dec(line["quantity"]) * dec(size)


@register
class PipeReturn(Operation):
    """Customer-returned pipes, one or two variants: a NEW batch per variant, never an existing one."""

    name = "pipe_return"
    weight = 2
    requires = (f"{API}/returns/",)
    expected_codes = CODES

    def generate(self, state, rng):
        pipes = [i for i in state.seed["items"] if i["kind"] == "pipe"]
        if not pipes:
            return None
        items = []
        for item in rng.sample(pipes, rng.randint(1, len(pipes))):
            if item["unit_decimals"]:  # HDPE: full rolls of two lengths, sometimes loose cut pieces
                items.append({"item_id": item["id"], "stock_type": "FULL_ROLL", "quantity": rng.randint(1, 3),
                              "length_per_unit": rng.choice(["50", "100"])})  # fmt: skip
                if rng.random() < 0.3:
                    items.append({"item_id": item["id"], "stock_type": "CUT_ROLL", "piece_lengths": ["12.5", "30"]})
            else:
                items.append({"item_id": item["id"], "stock_type": "BUNDLE", "quantity": rng.randint(1, 2),
                              "pieces_per_bundle": 10})  # fmt: skip
                items.append({"item_id": item["id"], "stock_type": "SPARE", "quantity": rng.randint(1, 5)})
        body = {"items": items, "warehouse_id": state.warehouses[0]}
        if rng.random() < 0.5:
            body["customer_id"] = rng.choice(state.seed["customers"])
        return Request("POST", f"{API}/returns/", body)

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK:
            _batches(state).update(body.get("batch_ids") or [])
            state.extra.setdefault("pipe_return", []).append(body["return_id"])

    def check_ledger(self, op, entries, ctx):
        problems = _signed_rows(op, entries, "pipe_return", +1)
        if any(e["kind"] != "RECEIVE" or dec(e["reserved_delta"]) for e in entries):
            problems.append(f"kinds {sorted({e['kind'] for e in entries})} instead of RECEIVE")
        want: dict[int, object] = defaultdict(lambda: dec(0))
        for line in op["req"]["body"]["items"]:
            want[line["item_id"]] += _line_total(line)
        got: dict[int, object] = defaultdict(lambda: dec(0))
        for e in entries:
            got[e["item_id"]] += dec(e["qty_delta"])
        if dict(got) != dict(want):
            problems.append(f"returned per item {dict(got)} instead of {dict(want)}")
        per_item_batches = defaultdict(set)
        for e in entries:
            per_item_batches[e["item_id"]].add(e["batch_id"])
        if any(len(b) != 1 for b in per_item_batches.values()):
            problems.append(f"not one new batch per variant: {dict(per_item_batches)}")
        body = op.get("body") if op["outcome"] == OK else None
        if body and sorted(body.get("batch_ids") or []) != sorted({e["batch_id"] for e in entries}):
            problems.append(f"rows on batches {sorted({e['batch_id'] for e in entries})}, acknowledged "
                            f"{body.get('batch_ids')}")  # fmt: skip
        if ctx is not None:
            for batch in {e["batch_id"] for e in entries}:
                first = ctx.batch_entries(batch)[0]
                if first["idempotency_key"] != op["key"]:
                    problems.append(f"batch {batch} existed before the return (row {first['id']}): not a new batch")
        return problems


@register
class PipeReturnRevert(Operation):
    """A return entered by mistake, undone whole: each of its batches to zero, for good."""

    name = "pipe_return_revert"
    weight = 1
    requires = (f"{API}/returns/",)
    expected_codes = CODES

    def generate(self, state, rng):
        done = state.extra.get("pipe_return") or []
        if not done:
            return None
        pk = done.pop(rng.randrange(len(done)))
        return Request("POST", f"{API}/returns/{pk}/revert/", {}, role="manager")

    def must_write_ledger(self, op):
        return None  # a return whose stock was all scrapped meanwhile has nothing left to take out

    def check_ledger(self, op, entries, ctx):
        problems = _signed_rows(op, entries, "pipe_return_revert", -1)
        if any(e["kind"] != "REVERT" or dec(e["reserved_delta"]) for e in entries):
            problems.append(f"kinds {sorted({e['kind'] for e in entries})} instead of REVERT")
        if ctx is None:
            return problems
        ret = op["req"]["path"].rstrip("/").split("/")[-2]
        returned = {e["batch_id"] for e in ctx.entries if e["doc_type"] == "pipe_return" and e["doc_id"] == ret}
        for e in entries:
            if e["batch_id"] not in returned:
                problems.append(f"row {e['id']} on batch {e['batch_id']}, not a batch of return {ret}")
                continue
            chain = ctx.batch_entries(e["batch_id"])
            if sum(dec(x["qty_delta"]) for x in chain if x["id"] <= e["id"]) != 0:
                problems.append(f"the revert left batch {e['batch_id']} above zero at row {e['id']}")
            later = [x["id"] for x in chain if x["id"] > e["id"] and (dec(x["qty_delta"]) or dec(x["reserved_delta"]))]
            if later:
                problems.append(f"batch {e['batch_id']} moved again after its return was reverted: rows {later[:5]}")
        if op["outcome"] == OK:
            left = {b: sum(dec(x["qty_delta"]) for x in ctx.batch_entries(b)) for b in returned}
            if any(left.values()):
                problems.append(f"a reverted return's batches hold {left}")
        return problems


class _Transform(Operation):
    """Split a bundle or combine spares: the form of the stock changes, its amount does not."""

    path = ""
    stock_type = ""
    weight = 3  # done only when the client knows a record to transform (else drawn again)
    requires = (f"{API}/production/",)
    expected_codes = CODES
    least = 1  # stock units the record must hold

    def generate(self, state, rng):
        choices = [(pk, s) for pk, s in _takeable(state, self.stock_type) if s.get("quantity", 0) >= self.least]
        if not choices:
            return None
        sid, s = rng.choice(choices)
        body = self.body(s, rng)
        if rng.random() < 0.2 and s.get("version") is not None:
            body["version"] = s["version"]
        return Request("POST", f"{API}/stock/{sid}/{self.path}/", body, meta={"stock": sid})

    def body(self, s, rng) -> dict:
        return {}

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK:
            _learn_stocks(state, body.get("batch_id"), body.get("stocks"))
        elif status == 409:
            _stocks(state).get(req.meta["stock"], {})["quantity"] = 0  # until the next read

    def must_write_ledger(self, op):
        return False

    def check_ledger(self, op, entries, ctx):
        return [f"a {self.name} wrote {len(entries)} ledger rows"] if entries else []


@register
class PipeSplit(_Transform):
    name = "pipe_split"
    path = "split-bundle"
    stock_type = "BUNDLE"


@register
class PipeCombine(_Transform):
    """Spares of one record into a NEW bundle record of any size (one or two bundles' worth)."""

    name = "pipe_combine"
    path = "combine-spares"
    stock_type = "SPARE"
    least = 2

    def body(self, s, rng):
        size = rng.choice([k for k in (2, 5, 10) if k <= s["quantity"]])
        return {"bundle_size": size, "quantity": size * rng.randint(1, max(1, min(2, s["quantity"] // size)))}
