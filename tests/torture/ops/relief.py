"""Relief operations: requests and packages, Save Draft (reserve and release through the engine),
submit, Approve & Dispatch (consume the reservation), cancel (release it), handover (a clerk gives the
goods to the carrier: no quantity moves) and receive (at a destination warehouse in the system, the
dispatched quantity comes back in there: TRANSFER_IN rows, batches keeping their number, added to the
destination's batch of that number when there is one; a package without a destination moves nothing).

The steps after `relief_request` weigh more than their share of traffic: each is done only when one of
the client's requests or packages is ready for it (otherwise generate() returns None and the client
draws again), so chains run to the end within a short run; `relief_request` sets how many there are."""

from collections import defaultdict

from ..history import OK
from .base import Operation, Request, dec, register

API = "/api/v1"
REQUESTS, PACKAGES = f"{API}/relief-requests/", f"{API}/relief-packages/"
DOC_TYPE = "relief_package"
CODES = frozenset(
    {"stale_version", "invalid_status", "insufficient_stock", "over_allocation", "nothing_allocated"}
    | {"batch_not_allocatable", "batch_not_issuable", "conflict"}
    | {"already_handed_over", "not_handed_over", "batch_number_clash"}
)


def _requests(state) -> dict:
    return state.extra.setdefault("relief_requests", {})


def _packages(state) -> dict:
    return state.extra.setdefault("relief_packages", {})


def _learn_version(obj: dict, status, body) -> None:
    """A 409 stale_version tells the current version: the next try uses it."""
    if status == 409 and isinstance(body, dict) and body.get("code") == "stale_version":
        current = (body.get("extra") or {}).get("current_version")
        if current is not None:
            obj["version"] = current
    elif status == 409 and isinstance(body, dict) and body.get("code") == "invalid_status":
        obj["status"] = "?"  # unknown: leave it alone from now on


def _pick(rng, mapping: dict, *statuses):
    choices = [(pk, o) for pk, o in mapping.items() if o.get("status") in statuses]
    return rng.choice(choices) if choices else (None, None)


def _no_rows(op, entries, ctx):
    return [f"{op['f']} wrote {len(entries)} ledger rows"] if entries else []


def _package_rows(op, entries, kinds: set[str]) -> list[str]:
    pkg = op["req"]["path"].rstrip("/").split("/")[4]
    problems = []
    if any(e["doc_type"] != DOC_TYPE or e["doc_id"] != pkg for e in entries):
        problems.append(f"rows of another document than package {pkg}")
    if {e["kind"] for e in entries} - kinds:
        problems.append(f"kinds {sorted({e['kind'] for e in entries})}, expected within {sorted(kinds)}")
    return problems


@register
class ReliefRequestCreate(Operation):
    name = "relief_request"
    weight = 3
    requires = (REQUESTS,)

    def generate(self, state, rng):
        items = {state.pick_item("batched")["id"] for _ in range(2)}
        lines = [{"item_id": i, "requested_qty": "100000"} for i in sorted(items)]
        body = {"agency_id": rng.choice(state.seed["customers"]), "event": "torture", "urgency": "HIGH", "lines": lines}
        return Request("POST", REQUESTS, body, role="officer")

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK:
            items = [ln["item_id"] for ln in req.body["lines"]]
            _requests(state)[body["id"]] = {"version": body["version"], "status": body["status"], "items": items}

    def must_write_ledger(self, op):
        return False

    check_ledger = staticmethod(_no_rows)


@register
class ReliefRequestSubmit(Operation):
    name = "relief_request_submit"
    weight = 10
    requires = (REQUESTS,)
    expected_codes = CODES

    def generate(self, state, rng):
        pk, r = _pick(rng, _requests(state), "DRAFT")
        if pk is None:
            return None
        return Request("POST", f"{REQUESTS}{pk}/submit/", {"version": r["version"]}, role="officer", meta={"id": pk})

    def on_complete(self, state, req, outcome, status, body):
        r = _requests(state)[req.meta["id"]]
        if outcome == OK:
            r.update(version=body["version"], status=body["status"])
        else:
            _learn_version(r, status, body)

    def must_write_ledger(self, op):
        return False

    check_ledger = staticmethod(_no_rows)


@register
class ReliefPackageCreate(Operation):
    name = "relief_package"
    weight = 10
    requires = (PACKAGES,)
    expected_codes = CODES

    def generate(self, state, rng):
        # A request is served by one or two packages here (more would only spread the drafts thinner).
        ready = {k: r for k, r in _requests(state).items() if r.get("packages", 0) < 2}
        pk, r = _pick(rng, ready, "SUBMITTED", "PARTLY_FULFILLED")
        if pk is None or (r.get("packages") and rng.random() < 0.8):
            return None
        body = {"request_id": pk}
        places = state.seed.get("relief_destinations") or []
        if places and rng.random() < 0.7:  # received into a warehouse of the system, or (else) by the agency
            body["destination_warehouse_id"] = rng.choice(places)
        return Request("POST", PACKAGES, body, role="officer", meta={"items": r["items"], "request": pk})

    def on_complete(self, state, req, outcome, status, body):
        r = _requests(state)[req.meta["request"]]
        r["packages"] = r.get("packages", 0) + 1  # whatever the outcome: tried
        if outcome == OK:
            _packages(state)[body["id"]] = {
                "version": body["version"],
                "status": body["status"],
                "items": req.meta["items"],
                "held": {},
                "handed_over": False,
                "destination": req.body.get("destination_warehouse_id"),
            }

    def must_write_ledger(self, op):
        return False

    check_ledger = staticmethod(_no_rows)


@register
class ReliefDraft(Operation):
    """Save Draft: reserve (new allocations) or release (smaller or empty ones) through the engine."""

    name = "relief_draft"
    weight = 8
    requires = (PACKAGES,)
    expected_codes = CODES

    def generate(self, state, rng):
        pk, p = _pick(rng, _packages(state), "BEING_PREPARED", "AWAITING_LM_APPROVAL")
        if pk is None:
            return None
        if p["held"] and rng.random() < 0.3:
            keep = rng.sample(sorted(p["held"]), rng.randint(0, len(p["held"]) - 1))
            allocations = [{"batch_id": b, "qty": str(p["held"][b])} for b in keep]  # release the others
        else:
            candidates = [  # a batch already in the destination warehouse cannot be sent there (400)
                (b, info)
                for item in p["items"]
                for b, info in state.batches_of(item)
                if p.get("destination") is None or info.get("warehouse_id") != p["destination"]
            ]
            if not candidates:
                return None
            allocations = [
                {"batch_id": b, "qty": str(min(state.available(info), rng.randint(1, 5)))}
                for b, info in rng.sample(candidates, min(len(candidates), rng.randint(1, 2)))
            ]
        body = {"version": p["version"], "allocations": allocations}
        return Request("PUT", f"{PACKAGES}{pk}/draft/", body, role="officer", meta={"id": pk})

    def on_complete(self, state, req, outcome, status, body):
        p = _packages(state)[req.meta["id"]]
        if outcome == OK:
            p.update(version=body["version"], status=body["status"])
            p["held"] = {a["batch_id"]: a["qty"] for a in req.body["allocations"] if dec(a["qty"])}
        else:
            _learn_version(p, status, body)

    def must_write_ledger(self, op):
        return None  # an unchanged allocation moves nothing

    def check_ledger(self, op, entries, ctx):
        problems = _package_rows(op, entries, {"RESERVE"})
        if any(dec(e["qty_delta"]) for e in entries):
            problems.append("a draft moved usable quantity")
        return problems


@register
class ReliefSubmit(Operation):
    name = "relief_submit"
    weight = 10
    requires = (PACKAGES,)
    expected_codes = CODES

    def generate(self, state, rng):
        pk, p = _pick(rng, _packages(state), "BEING_PREPARED")
        if pk is None or not p["held"]:
            return None
        return Request("POST", f"{PACKAGES}{pk}/submit/", {"version": p["version"]}, role="officer", meta={"id": pk})

    def on_complete(self, state, req, outcome, status, body):
        p = _packages(state)[req.meta["id"]]
        if outcome == OK:
            p.update(version=body["version"], status=body["status"])
        else:
            _learn_version(p, status, body)

    def must_write_ledger(self, op):
        return False

    check_ledger = staticmethod(_no_rows)


@register
class ReliefApproveDispatch(Operation):
    """Approve & Dispatch (manager): the package's reservation is consumed, once."""

    name = "relief_dispatch"
    weight = 10
    requires = (PACKAGES,)
    expected_codes = CODES

    def generate(self, state, rng):
        pk, p = _pick(rng, _packages(state), "AWAITING_LM_APPROVAL")
        if pk is None:
            return None
        body = {"version": p["version"], "override_reason": "torture run"}
        return Request("POST", f"{PACKAGES}{pk}/approve-dispatch/", body, role="manager", meta={"id": pk})

    def on_complete(self, state, req, outcome, status, body):
        p = _packages(state)[req.meta["id"]]
        if outcome == OK:
            p.update(version=body["version"], status=body["status"], held={})
        else:
            _learn_version(p, status, body)

    def check_ledger(self, op, entries, ctx):
        problems = _package_rows(op, entries, {"RESERVE", "CONSUME"})
        consumed = [e for e in entries if e["kind"] == "CONSUME"]
        if not consumed:
            problems.append("a dispatch consumed nothing")
        if any(dec(e["qty_delta"]) != dec(e["reserved_delta"]) or dec(e["qty_delta"]) >= 0 for e in consumed):
            problems.append("a CONSUME row must take the same quantity out of usable and reserved")
        return problems


@register
class ReliefCancel(Operation):
    name = "relief_cancel"
    weight = 1
    requires = (PACKAGES,)
    expected_codes = CODES

    def generate(self, state, rng):
        pk, p = _pick(rng, _packages(state), "BEING_PREPARED", "AWAITING_LM_APPROVAL")
        if pk is None:
            return None
        body = {"version": p["version"], "reason": "torture"}
        return Request("POST", f"{PACKAGES}{pk}/cancel/", body, role="officer", meta={"id": pk})

    def on_complete(self, state, req, outcome, status, body):
        p = _packages(state)[req.meta["id"]]
        if outcome == OK:
            p.update(version=body["version"], status=body["status"], held={})
        else:
            _learn_version(p, status, body)

    def must_write_ledger(self, op):
        return None

    def check_ledger(self, op, entries, ctx):
        problems = _package_rows(op, entries, {"RESERVE"})
        if any(dec(e["reserved_delta"]) >= 0 or dec(e["qty_delta"]) for e in entries):
            problems.append("a cancellation must only release reservations")
        return problems


@register
class ReliefHandover(Operation):
    """The clerk hands a dispatched package over to the carrier: recorded, no quantity moves."""

    name = "relief_handover"
    weight = 10
    requires = (PACKAGES,)
    expected_codes = CODES

    def generate(self, state, rng):
        ready = [
            (pk, p) for pk, p in _packages(state).items() if p["status"] == "DISPATCHED" and not p.get("handed_over")
        ]
        if not ready:
            return None
        pk, p = rng.choice(ready)
        return Request("POST", f"{PACKAGES}{pk}/handover/", {"version": p["version"]}, role="clerk", meta={"id": pk})

    def on_complete(self, state, req, outcome, status, body):
        p = _packages(state)[req.meta["id"]]
        if outcome == OK:
            p.update(version=body["version"], status=body["status"], handed_over=True)
        elif isinstance(body, dict) and body.get("code") == "already_handed_over":
            p["handed_over"] = True
        else:
            _learn_version(p, status, body)

    def must_write_ledger(self, op):
        return False

    check_ledger = staticmethod(_no_rows)


@register
class ReliefReceive(Operation):
    """Receipt at the destination: what the dispatch consumed comes in there, once."""

    name = "relief_receive"
    weight = 10
    requires = (PACKAGES,)
    expected_codes = CODES

    def generate(self, state, rng):
        ready = [(pk, p) for pk, p in _packages(state).items() if p["status"] == "DISPATCHED" and p.get("handed_over")]
        if not ready:
            return None
        pk, p = rng.choice(ready)
        return Request("POST", f"{PACKAGES}{pk}/receive/", {"version": p["version"]}, role="officer", meta={"id": pk})

    def on_complete(self, state, req, outcome, status, body):
        p = _packages(state)[req.meta["id"]]
        if outcome == OK:
            p.update(version=body["version"], status=body["status"])
        else:
            _learn_version(p, status, body)

    def must_write_ledger(self, op):
        return None  # only a package with a destination warehouse brings goods in (checked below)

    def check_ledger(self, op, entries, ctx):
        problems = _package_rows(op, entries, {"TRANSFER_IN"})
        if any(dec(e["qty_delta"]) <= 0 or dec(e["reserved_delta"]) for e in entries):
            problems.append("a receipt row that does not add usable quantity only")
        if ctx is None:
            return problems
        pkg = op["req"]["path"].rstrip("/").split("/")[4]
        dest = ctx.package_destinations.get(int(pkg))
        if dest is None:
            return [*problems, f"package {pkg} has no destination but its receipt wrote rows"] if entries else problems
        if any(e["warehouse_id"] != dest for e in entries):
            problems.append(f"a receipt row outside the destination warehouse {dest}")
        mine = [e for e in ctx.entries if e["doc_type"] == DOC_TYPE and e["doc_id"] == pkg]
        keys = {e["idempotency_key"] for e in mine if e["kind"] == "TRANSFER_IN"}
        if len(keys) > 1:
            problems.append(f"package {pkg} received under {len(keys)} keys: {sorted(keys)[:4]}")
        if op["outcome"] == OK or entries:
            consumed, received = defaultdict(lambda: dec(0)), defaultdict(lambda: dec(0))
            for e in mine:
                if e["kind"] == "CONSUME":
                    consumed[e["item_id"]] -= dec(e["qty_delta"])
            for e in entries:
                received[e["item_id"]] += dec(e["qty_delta"])
            if dict(received) != dict(consumed):
                problems.append(f"received per item {dict(received)} != dispatched (consumed) {dict(consumed)}")
        return problems
