"""verify and recompute while clients write.

- `recompute` (ADMIN, now and then: every ~3 s per run overall): POST /api/v1/recompute/ with an
  Idempotency-Key. The stored totals are kept equal to the ledger inside every writing transaction, so a
  recompute during the run must find nothing to repair: an acknowledged run with rows_changed > 0 means a
  stored total had drifted (violation `recompute_changed`; the checker also looks at every run in the
  database, whose answer may have been lost). A second run while one holds the lock is refused with 409
  `recompute_running`; that is also what a retry or racing duplicate of the same key meets while its
  original still runs (the run is many transactions, not one): an in-progress refusal, not a business one.
- `verify_read` (any role, every ~2 s per run overall): GET /api/v1/verify/. Each invariant is checked
  from the database as it is while clients write; a report with drift is a violation
  (`verify_observed_drift`): either a stored total really drifted for a moment, or verify read an
  inconsistent state (two statements seeing two different moments).
"""

import time

from .base import Operation, Request, register

API = "/api/v1"
RECOMPUTE_EVERY, VERIFY_EVERY = 3.0, 2.0  # seconds between two, over the whole run (all clients)


def _due(state, rng, name: str, every: float) -> bool:
    """At most one per `every` seconds over the run: each client waits clients × every between its own."""
    interval = every * max(1, int(state.seed.get("clients", 3)))
    now = time.time()
    due = state.extra.setdefault(f"{name}_due", now + rng.uniform(0, interval))
    if now < due:
        return False
    state.extra[f"{name}_due"] = now + interval * rng.uniform(0.75, 1.25)
    return True


@register
class Recompute(Operation):
    name = "recompute"
    weight = 10  # drawn often, done rarely: the pace is set by time (_due)
    requires = (f"{API}/recompute/",)
    expected_codes = frozenset({"recompute_running"})
    in_progress_codes = frozenset({"recompute_running"})

    def generate(self, state, rng):
        if not _due(state, rng, self.name, RECOMPUTE_EVERY):
            return None
        return Request("POST", f"{API}/recompute/", {}, role="admin")

    def must_write_ledger(self, op):
        return False

    def check_ledger(self, op, entries, ctx):
        return [f"a recompute wrote {len(entries)} ledger rows"] if entries else []

    def check_answer(self, op):
        body = op.get("body") or {}
        if not op.get("key") or not isinstance(body, dict) or not body.get("rows_changed"):
            return []
        return [("recompute_changed", f"recompute run {body.get('id')} changed {body['rows_changed']} rows: "
                 f"{changed_by_invariant(body.get('summary'))}")]  # fmt: skip


def changed_by_invariant(summary) -> dict:
    per = (summary or {}).get("invariants", {}) if isinstance(summary, dict) else {}
    return {inv: s.get("changed") for inv, s in per.items() if isinstance(s, dict) and s.get("changed")}


@register
class VerifyRead(Operation):
    name = "verify_read"
    weight = 10  # drawn often, done rarely: the pace is set by time (_due)
    requires = (f"{API}/verify/",)

    def generate(self, state, rng):
        if not _due(state, rng, self.name, VERIFY_EVERY):
            return None
        return Request("GET", f"{API}/verify/", role="reader", write=False)

    def check_answer(self, op):
        body = op.get("body")
        if not isinstance(body, dict) or body.get("ok") is not False:
            return []
        rows = [
            f"{d.get('invariant')} {d.get('object_type')} {d.get('object_id')} {d.get('field')}: "
            f"stored {d.get('stored')} derived {d.get('derived')} {d.get('note') or ''}".strip()
            for d in body.get("drift", [])[:6]
        ]
        return [("verify_observed_drift", f"{len(body.get('drift', []))} drift row(s) while clients wrote: {rows}")]
