"""The run's history: one JSONL file per client process (no interleaving), plus faults.jsonl.

Events of one operation, Jepsen style: `invoke`, zero or more `retry` (an attempt whose outcome was
unknown: timeout, connection error, 5xx), maybe one `duplicate` (the same request and key sent
concurrently, a retry racing its original: its answer must be the original's), then one completion:
`ok` (2xx), `fail` (definite 4xx, so nothing was written) or `info` (outcome unknown after the last
attempt). An invoke without a completion (a client that died) counts as info.
"""

import json
import threading
import time
from pathlib import Path

OK, FAIL, INFO = "ok", "fail", "info"
COMPLETIONS = (OK, FAIL, INFO)


class History:
    """Append events to a JSONL file (or, with path None, to an in-memory list shared by threads)."""

    def __init__(self, path: Path | None = None):
        self.path = path
        self.events: list[dict] = []
        self._lock = threading.Lock()
        self._fh = open(path, "a", buffering=1) if path else None  # noqa: SIM115 - closed by close()

    def write(self, event: dict) -> None:
        event.setdefault("ts", time.time())
        with self._lock:
            if self._fh:
                self._fh.write(json.dumps(event, default=str) + "\n")
            else:
                self.events.append(event)

    def close(self) -> None:
        if self._fh:
            self._fh.close()


def read_dir(directory: Path) -> tuple[list[dict], list[dict], dict]:
    """(operation events, fault events, run metadata) of a run directory."""
    events: list[dict] = []
    for p in sorted(directory.glob("history-*.jsonl")):
        events.extend(_read(p))
    faults = _read(directory / "faults.jsonl") if (directory / "faults.jsonl").exists() else []
    meta_path = directory / "run.json"
    meta = json.loads(meta_path.read_text()) if meta_path.exists() else {}
    return events, faults, meta


def _read(path: Path) -> list[dict]:
    out = []
    with open(path) as fh:
        for line in fh:
            line = line.strip()
            if not line:
                continue
            try:
                out.append(json.loads(line))
            except json.JSONDecodeError:
                out.append({"type": "corrupt", "line": line[:200]})  # a client killed mid-write
    return out


def operations(events: list[dict]) -> list[dict]:
    """Fold events into one record per operation: invoke fields + outcome + attempts + retries."""
    ops: dict[tuple, dict] = {}
    for e in events:
        if "op" not in e:
            continue
        oid = (e.get("client"), e["op"])
        if e["type"] == "invoke":
            ops[oid] = {**e, "outcome": None, "retries": [], "invoke_ts": e["ts"]}
        elif oid in ops and e["type"] == "retry":
            ops[oid]["retries"].append(e)
        elif oid in ops and e["type"] == "duplicate":
            ops[oid]["duplicate"] = e
        elif oid in ops and e["type"] in COMPLETIONS:
            rec = ops[oid]
            rec["outcome"] = e["type"]
            rec["status"] = e.get("status")
            rec["body"] = e.get("body")
            rec["error"] = e.get("error")
            rec["complete_ts"] = e["ts"]
            rec["attempts"] = e.get("attempts", 1)
    for rec in ops.values():
        if rec["outcome"] is None:
            rec["outcome"] = INFO
            rec["error"] = "no completion recorded"
    return sorted(ops.values(), key=lambda r: r["invoke_ts"])
