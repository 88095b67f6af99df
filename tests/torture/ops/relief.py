"""Relief operations: requests and packages, Save Draft (reserve and release through the engine),
submit, Approve & Dispatch (consume the reservation) and cancel (release it)."""

from ..history import OK
from .base import Operation, Request, dec, register

API = "/api/v1"
REQUESTS, PACKAGES = f"{API}/relief-requests/", f"{API}/relief-packages/"
DOC_TYPE = "relief_package"
CODES = frozenset(
    {"stale_version", "invalid_status", "insufficient_stock", "over_allocation", "nothing_allocated"}
    | {"batch_not_allocatable", "batch_not_issuable", "conflict"}
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
    weight = 3
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
    weight = 3
    requires = (PACKAGES,)
    expected_codes = CODES

    def generate(self, state, rng):
        pk, r = _pick(rng, _requests(state), "SUBMITTED", "PARTLY_FULFILLED")
        if pk is None:
            return None
        return Request("POST", PACKAGES, {"request_id": pk}, role="officer", meta={"items": r["items"]})

    def on_complete(self, state, req, outcome, status, body):
        if outcome == OK:
            _packages(state)[body["id"]] = {
                "version": body["version"],
                "status": body["status"],
                "items": req.meta["items"],
                "held": {},
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
            candidates = [c for item in p["items"] for c in state.batches_of(item)]
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
    weight = 3
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
    weight = 3
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
