"""Pipe operations (stock records and pieces): production, dispatch (+ revert), scrap (+ revert), cut,
and the batch read that refreshes a client's view of the stock records."""

from ..history import OK
from .base import Operation, Request, dec, register

API = "/api/v1"
CODES = frozenset(
    {"insufficient_stock", "stale_version", "conflict", "invalid_status", "already_reverted", "not_found"}
    | {"batch_not_issuable", "nothing_to_revert", "dispatch_closed", "invalid_cut"}
)


def _stocks(state) -> dict:
    return state.extra.setdefault("pipe_stocks", {})


def _learn_stocks(state, batch_id, stocks) -> None:
    for s in stocks or []:
        known = _stocks(state).setdefault(s["stock_id"], {"batch_id": batch_id})
        known.update({k: s[k] for k in ("stock_type", "quantity", "length_per_unit", "pieces_per_bundle", "version")})
        if batch_id is not None:
            known["batch_id"] = batch_id


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
        batches = sorted({s["batch_id"] for s in _stocks(state).values() if s.get("batch_id")})
        if not batches:
            return None
        return Request("GET", f"{API}/pipe-batches/{rng.choice(batches)}/", role="reader", write=False)

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK and isinstance(body, dict):
            _learn_stocks(state, body.get("batch_id"), body.get("stock_records"))
