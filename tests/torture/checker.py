"""Judge a torture run: the history of every client against the final database.

    python -m tests.torture.checker RUN_DIR [--database-url URL]

Violations (any one fails the run, exit status 1):
  negative_quantity      a batch or inventory row below zero, or reserved > usable, in the final database
  negative_in_replay     replaying the ledger in id order (per batch, per inventory key; one step per
                         request) goes below zero or over-reserves at some point
  replay_mismatch        the ledger replayed to its end differs from the stored batch / inventory totals
  verify_failed          `stockledger verify` (every registered invariant) exited non-zero
  ack_missing            an acknowledged (ok) write has no idempotency record, or no ledger rows
  ack_wrong              the ledger rows of a write do not match its request / acknowledged response
  ack_differs_from_record  the acknowledged body differs from the stored first result of its key
  retry_answer_differs   the same request and key sent twice at once got two different definite answers
  written_twice          one key's rows belong to more than one document
  failed_write_present   a write refused with a definite 4xx left a record or ledger rows
  reservation_*          a reservation consumed twice, or a document's hold going negative / not matching
  unrequested_write      ledger rows under a key no client sent (and not the seed's)
  negative_observed      a read returned a negative quantity or reserved > usable
  verify_observed_drift  GET /api/v1/verify/ during the run reported drift (a stored total that differed
                         from its detail at that moment, or verify reading an inconsistent state)
  recompute_changed      a recompute during the run changed rows (acknowledged, or a run found in the
                         database): a stored total had drifted from the ledger
  faults_not_executed    a fault the run had to inject did not happen

A refusal an operation names in `in_progress_codes` (409 recompute_running) means "the same work is still
running": a retry or racing duplicate that got it while its original went on and succeeded is neither a
failed write present nor a differing answer.
"""

import argparse
import json
import os
import subprocess
import sys
from collections import Counter, defaultdict
from decimal import Decimal
from pathlib import Path

from .history import FAIL, INFO, OK, operations, read_dir
from .report import report, server_errors, stats
from .seed import SEED_KEY_PREFIX

ZERO = Decimal(0)


class Result:
    def __init__(self):
        self.violations: list[dict] = []
        self.stats: dict = {}

    def add(self, kind: str, detail: str, **where) -> None:
        self.violations.append({"kind": kind, "detail": detail, **where})

    @property
    def ok(self) -> bool:
        return not self.violations

    def by_kind(self) -> Counter:
        return Counter(v["kind"] for v in self.violations)


class DbView:
    """The final database, read once through the ORM (Django must be set up)."""

    def __init__(self):
        from stockledger.core.models import IdempotencyRecord
        from stockledger.stock.models import Batch, Inventory, LedgerEntry, Reservation

        fields = ("id", "batch_id", "item_id", "warehouse_id", "holder_id", "qty_delta", "reserved_delta", "kind")
        self.entries = list(
            LedgerEntry.objects.order_by("id").values(*fields, "doc_type", "doc_id", "idempotency_key", "reverts_id")
        )
        self.batches = {b["id"]: b for b in Batch.objects.values("id", "usable_qty", "reserved_qty", "item_id")}
        self.inventory = {
            (r["item_id"], r["warehouse_id"], r["holder_id"]): r
            for r in Inventory.objects.values("item_id", "warehouse_id", "holder_id", "usable_qty", "reserved_qty")
        }
        self.reservations = list(Reservation.objects.values("doc_type", "doc_id", "batch_id", "qty"))
        self.records = {r["key"]: r for r in IdempotencyRecord.objects.values("key", "operation", "result")}
        try:
            from stockledger.sales.models import LpgProduct

            self.seed_products = list(LpgProduct.objects.values("id", "full_item_id", "empty_item_id"))
        except ImportError:  # an app that is not there
            self.seed_products = []
        self.invoice_transactions = _optional("stockledger.sales.models", "Invoice", "id", "transaction_id")
        self.package_destinations = _optional(
            "stockledger.relief.models", "ReliefPackage", "id", "destination_warehouse_id"
        )
        self.recompute_runs = _optional_rows("stockledger.reconcile.models", "RecomputeRun", "id", "status",
                                             "rows_changed", "summary")  # fmt: skip
        self.by_key: dict[str, list[dict]] = defaultdict(list)
        self.by_batch: dict[int, list[dict]] = defaultdict(list)
        for e in self.entries:
            self.by_key[e["idempotency_key"]].append(e)
            if e["batch_id"] is not None:
                self.by_batch[e["batch_id"]].append(e)

    def batch_entries(self, batch_id: int) -> list[dict]:
        """The batch's ledger rows in id order."""
        return self.by_batch.get(batch_id, [])

    def adjustment_difference(self, doc_id: int) -> Decimal | None:
        from stockledger.stock.models import StockDocument

        doc = StockDocument.objects.filter(pk=doc_id).first()
        if doc is None or not doc.lines:
            return None
        return Decimal(str(doc.lines[0]["counted_qty"])) - Decimal(str(doc.lines[0]["recorded_qty"]))


def _optional_rows(module: str, model: str, *fields) -> list[dict]:
    """Rows of an app's model, or none when the app is not there."""
    import importlib

    try:
        cls = getattr(importlib.import_module(module), model)
    except (ImportError, AttributeError):
        return []
    return list(cls.objects.order_by("pk").values(*fields))


def _optional(module: str, model: str, key: str, value: str) -> dict:
    return {r[key]: r[value] for r in _optional_rows(module, model, key, value)}


def check(events: list[dict], faults: list[dict], meta: dict, db: DbView, verify) -> Result:
    """All checks; `verify()` returns (ok, text) for the registered invariants."""
    from .ops import load_all

    registry = load_all()
    res = Result()
    ops = operations(events)
    _check_writes(ops, registry, db, res)
    _check_reads(ops, res)
    _check_answers(ops, registry, res)
    _check_recompute_runs(ops, db, res)
    _check_unrequested(ops, db, res)
    _check_replay(db, res)
    _check_reservations(db, res)
    _check_final(db, res)
    ok, text = verify()
    res.stats["verify"] = text.strip().splitlines()[:12]
    if not ok:
        res.add("verify_failed", text.strip()[-2000:])
    _check_faults(faults, meta, res)
    res.stats.update(stats(ops, registry, faults, db))
    return res


def _check_writes(ops, registry, db: DbView, res: Result) -> None:
    for op in ops:
        key = op.get("key")
        if not key:
            continue
        impl = registry.get(op["f"])
        entries = db.by_key.get(key, [])
        record = db.records.get(key)
        docs = {(e["doc_type"], e["doc_id"]) for e in entries}
        where = {"key": key, "f": op["f"]}
        if op["outcome"] == OK:
            if record is None:
                res.add("ack_missing", "acknowledged write has no idempotency record", **where)
            elif impl is not None:
                for problem in impl.check_record(op, record["result"]):
                    res.add("ack_differs_from_record", problem, **where)
            must = impl.must_write_ledger(op) if impl else None
            if must and not entries:
                res.add("ack_missing", "acknowledged write has no ledger rows", **where)
        elif op["outcome"] == FAIL and (record is not None or entries) and not _in_progress(op, impl):
            res.add(
                "failed_write_present",
                f"refused with {op['status']} {(op['body'] or {}).get('code')} after {op['attempts']} attempt(s) "
                f"but {len(entries)} ledger rows / record {'present' if record else 'absent'}",
                **where,
            )
            continue
        dup = op.get("duplicate")
        # Two refusals may word the state differently; once either was applied, both must be that answer.
        definite = dup and dup.get("status") is not None and dup["status"] < 500 and op["outcome"] != INFO
        if (
            definite
            and not {_code(op.get("body")), _code(dup.get("body"))} & (impl.in_progress_codes if impl else set())
            and OK in (op["outcome"], "ok" if dup["status"] < 300 else "")
            and (dup["status"], dup.get("body")) != (op["status"], op["body"])
        ):
            res.add(
                "retry_answer_differs",
                f"same key sent twice at once: {op['status']} {str(op['body'])[:150]} vs "
                f"{dup['status']} {str(dup.get('body'))[:150]}",
                **where,
            )
        if len(docs) > 1:
            kind = "info_written_twice" if op["outcome"] == INFO else "written_twice"
            res.add(kind, f"rows of {len(docs)} documents: {sorted(docs)}", **where)
        if impl and (entries or op["outcome"] == OK):
            for problem in impl.check_ledger(op, entries, db):
                res.add("ack_wrong", problem, **where)


def _code(body) -> str | None:
    return body.get("code") if isinstance(body, dict) else None


def _in_progress(op: dict, impl) -> bool:
    """Refused as "the same work is still running" after a retry or beside a racing duplicate: its
    original (the first attempt, or the duplicate) may have gone on and succeeded."""
    if impl is None or _code(op.get("body")) not in impl.in_progress_codes:
        return False
    return op.get("attempts", 1) > 1 or bool(op.get("duplicate"))


def _check_answers(ops, registry, res: Result) -> None:
    """What acknowledged answers show by themselves (a verify report with drift, a recompute that changed rows)."""
    for op in ops:
        impl = registry.get(op["f"])
        if impl is None or op["outcome"] != OK:
            continue
        for kind, detail in impl.check_answer(op):
            res.add(kind, detail, **({"key": op["key"]} if op.get("key") else {}), f=op["f"])


def _check_recompute_runs(ops, db: DbView, res: Result) -> None:
    """Every recompute run in the database (answers may have been lost): none may have changed a row."""
    from .ops.reconcile import changed_by_invariant

    acknowledged = {(op.get("body") or {}).get("id") for op in ops if op["f"] == "recompute" and op["outcome"] == OK}
    for run in db.recompute_runs:
        if run["rows_changed"] and run["id"] not in acknowledged:
            res.add(
                "recompute_changed",
                f"recompute run {run['id']} ({run['status']}, answer not acknowledged) changed {run['rows_changed']} "
                f"rows: {changed_by_invariant(run['summary'])}",
            )


def _check_reads(ops, res: Result) -> None:
    for op in ops:
        if op.get("key") or op["outcome"] != OK or not isinstance(op.get("body"), dict):
            continue
        for row in op["body"].get("results", []):
            if not isinstance(row, dict) or "usable_qty" not in row:
                continue
            u, r = Decimal(str(row["usable_qty"])), Decimal(str(row.get("reserved_qty", 0)))
            if u < 0 or r < 0 or r > u:
                res.add("negative_observed", f"{op['req']['path']} returned {row.get('id')}: usable {u} reserved {r}")


def _check_unrequested(ops, db: DbView, res: Result) -> None:
    sent = {op["key"] for op in ops if op.get("key")}
    for key, entries in db.by_key.items():
        if key not in sent and not key.startswith(SEED_KEY_PREFIX):
            res.add("unrequested_write", f"{len(entries)} ledger rows under key {key!r} that no client sent", key=key)


def _steps(entries):
    """Group a chain's entries into one step per request (a request may write several rows)."""
    step, last = [], None
    for e in entries:
        tag = (e["idempotency_key"], e["doc_type"], e["doc_id"])
        if step and tag != last:
            yield step
            step = []
        step.append(e)
        last = tag
    if step:
        yield step


def _replay(chains: dict, stored: dict, label: str, res: Result, *, over_reserve: bool) -> None:
    for chain, entries in chains.items():
        usable = reserved = ZERO
        flagged = False
        for step in _steps(entries):
            usable += sum(Decimal(e["qty_delta"]) for e in step)
            reserved += sum(Decimal(e["reserved_delta"]) for e in step)
            bad = usable < 0 or reserved < 0 or (over_reserve and reserved > usable)
            if bad and not flagged:
                flagged = True
                res.add(
                    "negative_in_replay",
                    f"{label} {chain}: usable {usable} reserved {reserved} after ledger row {step[-1]['id']}",
                )
        row = stored.get(chain)
        have = (Decimal(row["usable_qty"]), Decimal(row["reserved_qty"])) if row else (ZERO, ZERO)
        if have != (usable, reserved):
            res.add("replay_mismatch", f"{label} {chain}: ledger replays to {(usable, reserved)}, stored {have}")
    for chain, row in stored.items():
        if chain not in chains and (Decimal(row["usable_qty"]) or Decimal(row["reserved_qty"])):
            res.add("replay_mismatch", f"{label} {chain}: stored {row['usable_qty']} with no ledger rows")


def _check_replay(db: DbView, res: Result) -> None:
    per_batch, per_key = defaultdict(list), defaultdict(list)
    for e in db.entries:
        if e["batch_id"] is not None:
            per_batch[e["batch_id"]].append(e)
        per_key[(e["item_id"], e["warehouse_id"], e["holder_id"])].append(e)
    _replay(per_batch, db.batches, "batch", res, over_reserve=True)
    _replay(per_key, db.inventory, "inventory", res, over_reserve=True)


def _check_reservations(db: DbView, res: Result) -> None:
    held, consumers = defaultdict(lambda: ZERO), defaultdict(set)
    flagged = set()
    for e in db.entries:
        if e["batch_id"] is None or not Decimal(e["reserved_delta"]):
            continue
        doc = (e["doc_type"], e["doc_id"], e["batch_id"])
        held[doc] += Decimal(e["reserved_delta"])
        if e["kind"] == "CONSUME":
            consumers[doc].add(e["idempotency_key"])
        if held[doc] < 0 and doc not in flagged:
            flagged.add(doc)
            res.add("reservation_negative", f"{doc}: the document's hold went to {held[doc]} at row {e['id']}")
    for doc, keys in consumers.items():
        if len(keys) > 1:
            res.add("reservation_consumed_twice", f"{doc} consumed under {len(keys)} keys: {sorted(keys)[:4]}")
    stored = {(r["doc_type"], r["doc_id"], r["batch_id"]): Decimal(r["qty"]) for r in db.reservations}
    for doc in set(held) | set(stored):
        if held.get(doc, ZERO) != stored.get(doc, ZERO):
            res.add("reservation_mismatch", f"{doc}: ledger holds {held.get(doc, ZERO)}, reservation {stored.get(doc)}")
    per_batch = defaultdict(lambda: ZERO)
    for (_, _, batch), q in stored.items():
        per_batch[batch] += q
    for pk, b in db.batches.items():
        if per_batch.get(pk, ZERO) != Decimal(b["reserved_qty"]):
            res.add("reservation_mismatch", f"batch {pk}: reserved {b['reserved_qty']}, Σ reservations {per_batch[pk]}")


def _check_final(db: DbView, res: Result) -> None:
    for label, rows in (("batch", db.batches), ("inventory", db.inventory)):
        for pk, r in rows.items():
            u, rv = Decimal(r["usable_qty"]), Decimal(r["reserved_qty"])
            if u < 0 or rv < 0 or rv > u:
                res.add("negative_quantity", f"{label} {pk}: usable {u} reserved {rv}")


def _check_faults(faults: list[dict], meta: dict, res: Result) -> None:
    done = Counter(f["kind"] for f in faults if f.get("ok"))
    for kind in meta.get("faults_required", []):
        if not done.get(kind):
            res.add("faults_not_executed", f"no {kind} fault was executed")


def verify_cli(env: dict | None = None):
    """`stockledger verify` in a subprocess, against the database of DATABASE_URL."""

    def run():
        proc = subprocess.run(
            [sys.executable, "-m", "stockledger", "verify"],
            env=env or os.environ.copy(),
            capture_output=True,
            text=True,
        )
        return proc.returncode == 0, f"exit {proc.returncode}: {proc.stdout}{proc.stderr[-1500:]}"

    return run


def verify_inprocess():
    from stockledger.reconcile.services import verify

    report = verify()
    return report.ok, report.summary_line() + ("\n" + report.table(limit=20) if not report.ok else "")


def main(argv=None) -> int:
    parser = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("run_dir", type=Path)
    parser.add_argument("--database-url", help="default: the run's own (run.json)")
    args = parser.parse_args(argv)
    events, faults, meta = read_dir(args.run_dir)
    url = args.database_url or meta.get("database_url")
    if url:
        os.environ["DATABASE_URL"] = url
    os.environ["DJANGO_SETTINGS_MODULE"] = "stockledger.config.settings"  # never the broken settings
    import django

    django.setup()
    res = check(events, faults, meta, DbView(), verify_cli())
    res.stats["server_errors"] = server_errors(args.run_dir / "server.log")
    report(res)
    (args.run_dir / "summary.json").write_text(
        json.dumps(
            {"violations": res.violations[:500], "violation_counts": res.by_kind(), **res.stats}, indent=2, default=str
        )
    )
    return 0 if res.ok else 1


if __name__ == "__main__":
    sys.exit(main())
