"""Run the torture workload against a real server and judge it.

    python -m tests.torture.run --db postgres|mariadb|sqlite [--clients 16] [--seconds 120]
        [--no-faults] [--no-db-restart] [--duplicate-sends 0.02] [--timeout 10] [--workers 3]
        [--conn-max-age N] [--settings tests.torture.broken_settings --expect-violations] [--out DIR]

Steps: a fresh database (`torture`; SQLite: a file in the run directory), migrate and seed, start
`stockledger serve` (3 workers; with --conn-max-age N, persistent database connections kept N seconds,
health-checked before each request), N client processes doing random operations for T seconds while
faults are injected, stop the server, then the checker (exit status 0 only with zero violations;
with --expect-violations, 0 only when the checker found wrong counts).
"""

import argparse
import json
import multiprocessing
import os
import socket
import subprocess
import sys
import time
from pathlib import Path

from . import dbctl
from .faults import FaultInjector
from .history import History
from .server import REPO, Server

DEFAULT_SETTINGS = "stockledger.config.settings"
COUNT_VIOLATIONS = {
    "negative_quantity",
    "negative_in_replay",
    "replay_mismatch",
    "verify_failed",
    "reservation_mismatch",
    "recompute_changed",  # a recompute mid-run repaired wrong totals (and may leave no replay_mismatch behind)
}


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _client_main(i: int, seed: dict, port: int, out: str, seconds: float, key_prefix: str, timeout: float, dup: float):
    from .client import run_client
    from .ops import load_all
    from .transport import HttpTransport

    ops = {n: op for n, op in load_all().items() if n in seed["available_ops"]}
    history = History(Path(out) / f"history-{i:03d}.jsonl")
    try:
        run_client(
            i,
            seed,
            HttpTransport("127.0.0.1", port, timeout),
            history,
            seconds=seconds,
            ops=ops,
            key_prefix=key_prefix,
            rng_seed=hash((key_prefix, i)),
            duplicate_rate=dup,
        )
    finally:
        history.close()


def main(argv=None) -> int:
    p = argparse.ArgumentParser(description=__doc__, formatter_class=argparse.RawDescriptionHelpFormatter)
    p.add_argument("--db", choices=["postgres", "mariadb", "sqlite"], default="sqlite")
    p.add_argument("--clients", type=int, default=16)
    p.add_argument("--seconds", type=float, default=120)
    p.add_argument("--no-faults", action="store_true")
    p.add_argument("--no-db-restart", action="store_true", help="faults, but no database (SQLite: server) restart")
    p.add_argument("--settings", default=DEFAULT_SETTINGS, help="DJANGO_SETTINGS_MODULE of the server")
    p.add_argument("--expect-violations", action="store_true", help="succeed only if the checker finds wrong counts")
    p.add_argument("--workers", type=int, default=3)
    p.add_argument("--timeout", type=float, default=10.0, help="client request timeout (s); then retry, same key")
    p.add_argument(
        "--conn-max-age",
        type=int,
        default=0,
        help="the server's CONN_MAX_AGE (s): persistent database connections, cut and restarted under it",
    )
    p.add_argument(
        "--duplicate-sends",
        type=float,
        default=0.02,
        help="share of writes also sent a second time, concurrently, with the same key (a retry racing its original)",
    )
    p.add_argument("--out", type=Path)
    args = p.parse_args(argv)

    var = Path(os.environ.get("STOCKLEDGER_VAR_DIR", "/tmp/slvar-torture")).resolve()
    stamp = time.strftime("%Y%m%d-%H%M%S")
    out = (args.out or var / "torture-runs" / f"{args.db}-{stamp}").resolve()
    out.mkdir(parents=True, exist_ok=True)
    backend = dbctl.backend(args.db, out)
    print(f"torture: {args.db}, {args.clients} clients x {args.seconds:g} s, faults {'off' if args.no_faults else 'on'}"
          f", CONN_MAX_AGE {args.conn_max_age}, settings {args.settings}; run directory {out}", flush=True)  # fmt: skip

    backend.create()
    base_env = {
        **os.environ,
        "DATABASE_URL": backend.url(),
        "STOCKLEDGER_VAR_DIR": str(var),
        "PYTHONPATH": os.pathsep.join(filter(None, [str(REPO), os.environ.get("PYTHONPATH")])),
        "DJANGO_SETTINGS_MODULE": DEFAULT_SETTINGS,
    }
    subprocess.run([sys.executable, "-m", "tests.torture.seed", "--out", str(out / "seed.json")], env=base_env,
                   cwd=REPO, check=True)  # fmt: skip
    seed = json.loads((out / "seed.json").read_text())
    seed["clients"] = args.clients  # rare operations (recompute, verify) pace themselves by it

    port = free_port()
    server_env = {**base_env, "DJANGO_SETTINGS_MODULE": args.settings, "CONN_MAX_AGE": str(args.conn_max_age)}
    server = Server(port, server_env, out / "server.log", args.workers)
    restart = not args.no_faults and not args.no_db_restart
    required = [] if args.no_faults else FaultInjector.required(backend, restart)
    meta = {
        "db": args.db,
        "database_url": backend.url(),
        "clients": args.clients,
        "seconds": args.seconds,
        "settings": args.settings,
        "faults_required": required,
        "started": time.time(),
        "port": port,
        "duplicate_sends": args.duplicate_sends,
        "conn_max_age": args.conn_max_age,
    }
    (out / "run.json").write_text(json.dumps(meta, indent=2))
    fault_log = History(out / "faults.jsonl")
    injector = None
    procs = []
    try:
        server.start()
        key_prefix = f"t{stamp[-6:]}"
        ctx = multiprocessing.get_context("fork")
        for i in range(args.clients):
            proc = ctx.Process(
                target=_client_main,
                args=(i, seed, port, str(out), args.seconds, key_prefix, args.timeout, args.duplicate_sends),
                daemon=True,
            )
            proc.start()
            procs.append(proc)
        if not args.no_faults:
            injector = FaultInjector(server, backend, args.seconds, fault_log, restart=restart, seed=int(stamp[-6:]))
            injector.start()
        deadline = time.time() + args.seconds + 180  # a started operation finishes its bounded retries
        for proc in procs:
            proc.join(max(1, deadline - time.time()))
    finally:
        if injector:
            injector.stop()
            injector.join(timeout=180)
        for proc in procs:
            if proc.is_alive():
                print(f"client pid {proc.pid} still running: terminated (its last operation counts as info)")
                proc.terminate()
                proc.join(10)
        server.stop()
        fault_log.close()
        backend.ensure_up()
    meta["finished"] = time.time()
    (out / "run.json").write_text(json.dumps(meta, indent=2))

    checker = subprocess.run([sys.executable, "-m", "tests.torture.checker", str(out)], env=base_env, cwd=REPO)
    if args.expect_violations:
        # The removed safeguard must show as wrong counts, not only as something else going wrong.
        summary = json.loads((out / "summary.json").read_text()) if (out / "summary.json").exists() else {}
        counts = {k: n for k, n in summary.get("violation_counts", {}).items() if k in COUNT_VIOLATIONS}
        found = checker.returncode == 1 and bool(counts)
        print(
            "broken-settings check: the checker "
            + (f"found wrong counts, as it must: {counts}" if found else f"did NOT find wrong counts ({counts})")
        )
        return 0 if found else 1
    return checker.returncode


if __name__ == "__main__":
    sys.exit(main())
