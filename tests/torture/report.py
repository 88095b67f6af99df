"""What a run looked like: counts by operation and outcome, refusals by code, retries, throughput,
latency, faults and the server's 500s; the checker's printed report."""

import re
import statistics
import sys
from collections import Counter, defaultdict
from pathlib import Path

from .history import FAIL, OK

MAX_EXAMPLES = 5


def stats(ops, registry, faults, db) -> dict:
    outcomes = Counter((op["f"], op["outcome"]) for op in ops)
    per_op = defaultdict(dict)
    for (f, o), n in sorted(outcomes.items()):
        per_op[f][o] = n
    codes = Counter()
    unexpected = Counter()
    for op in ops:
        if op["outcome"] == FAIL:
            code = (op.get("body") or {}).get("code", "?") if isinstance(op.get("body"), dict) else "?"
            codes[f"{op['status']} {code}"] += 1
            impl = registry.get(op["f"])
            if impl is not None and code not in impl.expected_codes:
                unexpected[f"{op['f']}: {op['status']} {code}"] += 1
    retries = [r for op in ops for r in op["retries"]]
    retry_causes = Counter(
        str(r.get("status")) if r.get("status") else (r.get("error") or "?").split(":")[0] for r in retries
    )
    start = min((op["invoke_ts"] for op in ops), default=0)
    end = max((op.get("complete_ts") or op["invoke_ts"] for op in ops), default=0)
    duration = max(end - start, 1e-9)
    latencies = sorted(
        op["complete_ts"] - op["invoke_ts"] for op in ops if op["outcome"] == OK and op.get("complete_ts")
    )
    ok_writes = sum(1 for op in ops if op["outcome"] == OK and op.get("key"))
    return {
        "operations": len(ops),
        "by_outcome": dict(Counter(op["outcome"] for op in ops)),
        "by_operation": dict(per_op),
        "refusals_by_code": dict(codes.most_common()),
        "unexpected_refusals": dict(unexpected.most_common()),
        "retries": len(retries),
        "operations_retried": sum(1 for op in ops if op["retries"]),
        "duplicate_sends": sum(1 for op in ops if op.get("duplicate")),
        "retry_causes": dict(retry_causes.most_common()),
        "duration_s": round(duration, 1),
        "throughput_ops_s": round(len(ops) / duration, 1),
        "throughput_ok_writes_s": round(ok_writes / duration, 1),
        "latency_ok_p50_ms": round(1000 * statistics.median(latencies), 1) if latencies else None,
        "latency_ok_p99_ms": round(1000 * latencies[int(0.99 * (len(latencies) - 1))], 1) if latencies else None,
        "faults": dict(Counter(f["kind"] for f in faults if f.get("ok"))),
        "faults_failed": dict(Counter(f["kind"] for f in faults if not f.get("ok"))),
        "ledger_rows": len(db.entries),
        "batches": len(db.batches),
    }


EXCEPTION_LINE = re.compile(r"^([A-Za-z_][\w.]*(?:Error|Exception|Detected|Violation|Failure)): ?(.*)$")


def server_errors(log: Path) -> dict:
    """The server's 500s by path and final exception (from its log): faults explain some, not all."""
    if not log.exists():
        return {}
    out = Counter()
    for chunk in log.read_text(errors="replace").split("Internal Server Error: ")[1:]:
        path = re.sub(r"/\d+/", "/{id}/", chunk.split("\n", 1)[0].strip())
        found = [m for line in chunk.splitlines() if (m := EXCEPTION_LINE.match(line.strip()))]
        what = f"{found[-1].group(1)}: {re.sub(r'[0-9]+', 'N', found[-1].group(2))[:70]}" if found else "?"
        out[f"{path} {what}"] += 1
    return dict(out.most_common(12))


def report(res, out=sys.stdout) -> None:
    s = res.stats
    w = out.write
    w(f"operations: {s.get('operations')} by outcome {s.get('by_outcome')}\n")
    for f, outcomes in sorted(s.get("by_operation", {}).items()):
        w(f"  {f:16} {outcomes}\n")
    w(f"refusals (4xx) by code: {s.get('refusals_by_code')}\n")
    if s.get("unexpected_refusals"):
        w(f"  not expected under contention (look at them): {s['unexpected_refusals']}\n")
    w(
        f"retries: {s.get('retries')} ({s.get('operations_retried')} operations) causes {s.get('retry_causes')}; "
        f"racing duplicate sends: {s.get('duplicate_sends')}\n"
    )
    w(
        f"throughput: {s.get('throughput_ops_s')} ops/s, {s.get('throughput_ok_writes_s')} acknowledged writes/s "
        f"over {s.get('duration_s')} s; ok latency p50 {s.get('latency_ok_p50_ms')} ms "
        f"p99 {s.get('latency_ok_p99_ms')} ms\n"
    )
    w(f"faults executed: {s.get('faults')} failed: {s.get('faults_failed') or {}}\n")
    if s.get("server_errors"):
        w("server 500s (path, exception; faults cause some):\n")
        for what, n in s["server_errors"].items():
            w(f"  {n:5} {what}\n")
    w(
        f"database: {s.get('ledger_rows')} ledger rows, {s.get('batches')} batches; "
        f"verify: {' / '.join(s.get('verify', []))}\n"
    )
    by_kind = res.by_kind()
    w(f"violations: {len(res.violations)} {dict(by_kind)}\n")
    for kind in by_kind:
        for v in [v for v in res.violations if v["kind"] == kind][:MAX_EXAMPLES]:
            w(f"  {kind}: {v['detail'][:400]} {v.get('key', '')}\n")
    w("RESULT: " + ("OK (0 violations)" if res.ok else "VIOLATIONS FOUND") + "\n")
