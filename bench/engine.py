"""Engine throughput against PostgreSQL's own pgbench, side by side, in one run on one server.

    python bench/engine.py [--seconds 20] [--clients 8] [--quick] [--no-write] [--own-sessions]

Measures (DESIGN §7: ratios against a reference measured in the same run, never timed assertions):
  1. pgbench TPC-B (`pgbench -i -s 8`, then `-c CLIENTS -j 2 -T SECONDS`) in database <bench>_pgbench;
  2. the engine's 3-line issue: stock_issue of 1 unit from 3 batches of 3 different items, CLIENTS processes;
  3. reservation_apply (3 batches, 1 each, fresh document) + reservation_consume of that document, as pairs;
  4. SQL statements of one 3-line issue on PostgreSQL and SQLite (CaptureQueriesContext, + BEGIN/COMMIT);
and profiles one client to say where the time goes. Results: a table on stdout and in BENCHMARKS.md.

The database named by STOCKLEDGER_BENCH_POSTGRES_URL (default postgres://postgres@127.0.0.1:5432/bench)
is dropped and recreated on every run; its name must contain "bench" (a guard against a wrong URL).
"""

import argparse
import cProfile
import json
import multiprocessing as mp
import os
import platform
import pstats
import random
import re
import shutil
import subprocess
import sys
import tempfile
import time
from datetime import UTC, datetime
from decimal import Decimal
from pathlib import Path
from urllib.parse import unquote, urlsplit, urlunsplit

ROOT = Path(__file__).resolve().parent.parent
BENCHMARKS = ROOT / "BENCHMARKS.md"
DEFAULT_URL = "postgres://postgres@127.0.0.1:5432/bench"
SETTINGS = "stockledger.config.settings"
BUDGET = 12
GOAL_RATIO = 0.5
CLERK, MANAGER = "bench_clerk", "bench_manager"
BIG = Decimal(1_000_000)


# --- PostgreSQL server side: databases, pgbench ---------------------------------------------------


def pg_parts(url: str) -> dict:
    u = urlsplit(url)
    return {
        "host": u.hostname or "127.0.0.1",
        "port": str(u.port or 5432),
        "user": unquote(u.username or "postgres"),
        "password": unquote(u.password or ""),
        "dbname": u.path.lstrip("/") or "bench",
    }


def with_db(url: str, dbname: str) -> str:
    u = urlsplit(url)
    return urlunsplit((u.scheme, u.netloc, "/" + dbname, u.query, u.fragment))


def admin_connect(url: str):
    import psycopg

    p = pg_parts(url)
    return psycopg.connect(
        host=p["host"],
        port=p["port"],
        user=p["user"],
        password=p["password"] or None,
        dbname="postgres",
        autocommit=True,
    )


def recreate_database(url: str, dbname: str) -> None:
    from psycopg import sql

    with admin_connect(url) as conn:
        conn.execute(sql.SQL("DROP DATABASE IF EXISTS {} WITH (FORCE)").format(sql.Identifier(dbname)))
        conn.execute(sql.SQL("CREATE DATABASE {}").format(sql.Identifier(dbname)))


def server_version(url: str) -> str:
    with admin_connect(url) as conn:
        return conn.execute("SHOW server_version").fetchone()[0].split()[0]


def pgbench(url: str, dbname: str, *, scale: int, clients: int, seconds: int) -> dict:
    exe = shutil.which("pgbench")
    if exe is None:
        raise SystemExit("pgbench is not installed (Debian: apt-get install postgresql-client)")
    p = pg_parts(url)
    env = {**os.environ, "PGPASSWORD": p["password"]} if p["password"] else dict(os.environ)
    conn = ["-h", p["host"], "-p", p["port"], "-U", p["user"]]
    recreate_database(url, dbname)
    subprocess.run([exe, *conn, "-i", "-q", "-s", str(scale), dbname], env=env, check=True, capture_output=True)
    jobs = str(min(2, clients))
    before, t0 = cpu_jiffies(), time.monotonic()
    proc = subprocess.Popen(
        [exe, *conn, "-c", str(clients), "-j", jobs, "-T", str(seconds), dbname],
        env=env,
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        text=True,
    )
    # PostgreSQL CPU of pgbench's backends over the middle of the run (same host only): server CPU/txn.
    time.sleep(min(1.5, seconds / 4))
    pids = backend_pids(url, dbname)
    s0, m0 = sum_cpu(pids), time.monotonic()
    time.sleep(max(seconds - 2 * min(1.5, seconds / 4), 0.5))
    s1, m1 = sum_cpu(pids), time.monotonic()
    out, err = proc.communicate()
    host = host_busy_cores(before, time.monotonic() - t0)
    if proc.returncode:
        raise SystemExit(f"pgbench failed:\n{out}{err}")
    # PostgreSQL ≥ 14 prints "(without initial connection time)", older ones "(excluding connections establishing)".
    m = re.search(r"tps = ([\d.]+) \((?:without initial connection time|excluding connections establishing)\)", out)
    if m is None:
        raise SystemExit("could not read tps from pgbench:\n" + out + err)
    tps = float(m.group(1))
    server_ms = (s1 - s0) / (m1 - m0) / tps * 1000 if pids and s0 is not None and s1 is not None else None
    return {"tps": tps, "host_cores": host, "server_ms": server_ms}


def backend_pids(url: str, dbname: str) -> list[int]:
    with admin_connect(url) as conn:
        rows = conn.execute(
            "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [dbname]
        ).fetchall()
    return [r[0] for r in rows]


def sum_cpu(pids: list[int]) -> float | None:
    values = [backend_cpu(pid) for pid in pids]
    return None if not values or any(v is None for v in values) else sum(values)


def backend_cpu(pid: int | None) -> float | None:
    """CPU seconds a PostgreSQL backend has used, when the server runs on this host (else None)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except (OSError, IndexError, TypeError):
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


# --- Django side: set-up, seed, statement count ---------------------------------------------------


def django_setup(url: str) -> None:
    os.environ["DATABASE_URL"] = url
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", SETTINGS)
    import django

    django.setup()


def migrate() -> None:
    from django.core.management import call_command

    call_command("migrate", verbosity=0, interactive=False)


def make_user(username: str, role: str):
    from django.contrib.auth import get_user_model
    from django.contrib.auth.models import Group

    user = get_user_model().objects.create_user(username, password="bench-pass-1")
    user.groups.add(Group.objects.get(name=role))
    return user


def seed(n_items: int, per_item: int) -> list[list[int]]:
    """n_items items with per_item batches of BIG units each in one warehouse, written the fast way
    (bulk) but exactly as batch_receive would leave them: one receipt document, a RECEIVE ledger row
    per batch heading the batch's hash chain, one inventory row per item = Σ of its batches, audit rows.
    Returns the batch ids grouped by item."""
    from django.db import transaction
    from django.utils import timezone

    from stockledger.catalog.models import Item, ProductType, Warehouse
    from stockledger.core import audit
    from stockledger.core.roles import Role
    from stockledger.stock.chain import entry_hash
    from stockledger.stock.models import Batch, Inventory, LedgerEntry, StockDocument, inventory_key

    clerk = make_user(CLERK, Role.INVENTORY_CLERK)
    make_user(MANAGER, Role.LOGISTICS_MANAGER)
    now = timezone.now()
    today = timezone.localdate()
    with transaction.atomic():
        pt = ProductType.objects.create(code="bench-piece", name="Bench piece", base_unit="piece", unit_decimals=0)
        wh = Warehouse.objects.create(code="bench-wh", name="Bench warehouse")
        items = Item.objects.bulk_create(
            [
                Item(product_type=pt, sku=f"BENCH-{i}", name=f"Bench item {i}", variant_key=f"b{i}", attributes={})
                for i in range(n_items)
            ]
        )
        batches = Batch.objects.bulk_create(
            [
                Batch(
                    batch_no=f"B{it.pk}-{j}",
                    batch_code=f"BENCH-{it.pk}-{j}",
                    item=it,
                    warehouse=wh,
                    origin=Batch.Origin.OPENING,
                    batch_date=today,
                    initial_qty=BIG,
                    usable_qty=BIG,
                    created_by=clerk,
                )
                for it in items
                for j in range(per_item)
            ],
            batch_size=1000,
        )
        doc = StockDocument.objects.create(
            kind=StockDocument.Kind.RECEIPT,
            reason="bench seed",
            lines=[{"batch_id": b.pk, "item_id": b.item_id, "qty": str(BIG)} for b in batches],
            created_by=clerk,
        )
        entries = []
        for b in batches:
            e = LedgerEntry(
                created_at=now,
                item_id=b.item_id,
                warehouse_id=wh.pk,
                batch_id=b.pk,
                qty_delta=BIG,
                reserved_delta=Decimal(0),
                kind=LedgerEntry.Kind.RECEIVE,
                doc_type="receipt",
                doc_id=str(doc.pk),
                actor_id=clerk.pk,
                prev_hash="",
            )
            e.hash = b.ledger_head = entry_hash("", e)
            entries.append(e)
        LedgerEntry.objects.bulk_create(entries, batch_size=1000)
        Batch.objects.bulk_update(batches, ["ledger_head"], batch_size=500)
        invs = Inventory.objects.bulk_create(
            [
                Inventory(key=inventory_key(it.pk, wh.pk, None), item=it, warehouse=wh, usable_qty=BIG * per_item)
                for it in items
            ],
            batch_size=1000,
        )
        audit.record_many(
            clerk,
            [
                audit.Change("batch.receive", "batch", b.pk, None, {"usable_qty": BIG, "doc": f"receipt#{doc.pk}"})
                for b in batches
            ]
            + [audit.Change("inventory.receipt", "inventory", i.pk, None, {"usable_qty": i.usable_qty}) for i in invs],
        )
    groups: dict[int, list[int]] = {}
    for b in batches:
        groups.setdefault(b.item_id, []).append(b.pk)
    return [groups[k] for k in sorted(groups)]


def quick_consistency() -> list[str]:
    """I1/I2/I4 by aggregates (what `verify` would say about quantities), for when reconcile has no verify."""
    from django.db.models import Sum

    from stockledger.stock.models import Batch, Inventory, LedgerEntry

    problems = []
    ledger = {
        r["batch_id"]: (r["q"], r["r"])
        for r in LedgerEntry.objects.values("batch_id").annotate(q=Sum("qty_delta"), r=Sum("reserved_delta"))
    }
    per_item: dict[int, list[Decimal]] = {}
    for b in Batch.objects.only("pk", "item_id", "usable_qty", "reserved_qty"):
        if ledger.get(b.pk) != (b.usable_qty, b.reserved_qty):
            problems.append(f"batch {b.pk}: stored {b.usable_qty}/{b.reserved_qty}, ledger {ledger.get(b.pk)}")
        acc = per_item.setdefault(b.item_id, [Decimal(0), Decimal(0)])
        acc[0] += b.usable_qty
        acc[1] += b.reserved_qty
    for inv in Inventory.objects.all():
        if per_item.get(inv.item_id) != [inv.usable_qty, inv.reserved_qty]:
            problems.append(f"inventory {inv.pk}: stored {inv.usable_qty}/{inv.reserved_qty}")
    return problems


def verify(url: str) -> str:
    """`stockledger verify` if the reconcile app has it, else the aggregate check above."""
    try:
        from stockledger.reconcile import verify as _  # noqa: F401
    except ImportError:
        problems = quick_consistency()
        state = "consistent" if not problems else f"{len(problems)} DRIFT: {problems[:3]}"
        return f"reconcile.verify not available yet; aggregate check (I1, I2, I4): {state}"
    run = subprocess.run(
        [sys.executable, "-m", "stockledger", "verify"],
        env={**os.environ, "DATABASE_URL": url},
        capture_output=True,
        text=True,
    )
    head = (run.stdout + run.stderr).strip().splitlines()[:1] or [""]
    return f"`stockledger verify` exit {run.returncode}: {head[0][:200]}"


def three_line_issue(actor, groups: list[list[int]], rng: random.Random, stock_issue) -> dict:
    items = rng.sample(range(len(groups)), 3)
    lines = [{"batch_id": rng.choice(groups[i]), "qty": 1} for i in items]
    return stock_issue(actor=actor, lines=lines)


def statements_of(fn) -> tuple[int, list[str]]:
    """Statements fn() sends, BEGIN and COMMIT included. Django ≥ 4.2 logs transaction statements too, so
    CaptureQueriesContext shows them (psycopg: BEGIN / COMMIT, SQLite: BEGIN IMMEDIATE / COMMIT); one
    that a backend does not log is added, so the count means the same on every backend and version."""
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    with CaptureQueriesContext(connection) as ctx:
        fn()
    sql = [q["sql"] for q in ctx.captured_queries]
    heads = [" ".join(s.split()[:3])[:60] for s in sql]
    added = 0
    for word in ("BEGIN", "COMMIT"):
        if not any(s.strip().upper().startswith(word) for s in sql):
            heads.append(f"({word}, not logged: added)")
            added += 1
    return len(sql) + added, heads


def count_statements(groups: list[list[int]]) -> dict:
    from django.contrib.auth import get_user_model

    from stockledger.stock.services import reservation_apply, reservation_consume, stock_issue

    clerk = get_user_model().objects.get(username=CLERK)
    manager = get_user_model().objects.get(username=MANAGER)
    rng = random.Random(7)
    three_line_issue(clerk, groups, rng, stock_issue)  # caches the user's roles and warehouse scope
    issue, heads = statements_of(lambda: three_line_issue(clerk, groups, rng, stock_issue))
    alloc = {rng.choice(groups[i]): 1 for i in rng.sample(range(len(groups)), 3)}
    reservation_apply(actor=manager, doc_type="bench", doc_id="count-0", allocations=alloc)
    reservation_consume(actor=manager, doc_type="bench", doc_id="count-0")
    reserve, _ = statements_of(
        lambda: reservation_apply(actor=manager, doc_type="bench", doc_id="count-1", allocations=alloc)
    )
    consume, _ = statements_of(lambda: reservation_consume(actor=manager, doc_type="bench", doc_id="count-1"))
    return {"issue": issue, "issue_sql": heads, "reserve": reserve, "consume": consume}


def sqlite_statement_count() -> dict:
    """The same count on SQLite, in a child process (Django's settings are per process)."""
    with tempfile.TemporaryDirectory(prefix="slbench-") as tmp:
        env = {
            **os.environ,
            "DATABASE_URL": f"sqlite:///{tmp}/bench.sqlite3",
            "STOCKLEDGER_VAR_DIR": tmp,
            "DJANGO_SETTINGS_MODULE": SETTINGS,
        }
        run = subprocess.run(
            [sys.executable, str(Path(__file__).resolve()), "--sqlite-count"],
            env=env,
            capture_output=True,
            text=True,
            cwd=tmp,
        )
        if run.returncode:
            return {"issue": None, "error": run.stderr.strip().splitlines()[-1:]}
        return json.loads(run.stdout.strip().splitlines()[-1])


def _sqlite_count_main() -> None:
    django_setup(os.environ["DATABASE_URL"])
    migrate()
    groups = seed(6, 2)
    print(json.dumps(count_statements(groups)))


# --- the workers ----------------------------------------------------------------------------------


def worker(kind: str, url: str, seconds: float, wid: int, groups, barrier, results) -> None:
    """One client process: warm up, wait for the others, then run `kind` transactions for `seconds`."""
    try:
        if os.environ.get("STOCKLEDGER_BENCH_SETSID"):
            # Own session = own scheduler autogroup (Linux), like an independent server process would have.
            os.setsid()
        django_setup(url)
        from django.contrib.auth import get_user_model
        from django.db import connection

        from stockledger.core.errors import DomainError
        from stockledger.stock.services import reservation_apply, reservation_consume, stock_issue

        rng = random.Random(1000 + wid)
        clerk = get_user_model().objects.get(username=CLERK)
        manager = get_user_model().objects.get(username=MANAGER)
        seq = 0

        def issue():
            three_line_issue(clerk, groups, rng, stock_issue)

        def reserve_consume():
            nonlocal seq
            seq += 1
            doc = f"{kind}-{wid}-{seq}"
            alloc = {rng.choice(groups[i]): 1 for i in rng.sample(range(len(groups)), 3)}
            reservation_apply(actor=manager, doc_type="bench", doc_id=doc, allocations=alloc)
            reservation_consume(actor=manager, doc_type="bench", doc_id=doc)

        op = issue if kind == "issue" else reserve_consume
        op()  # warm-up: caches roles and scope, opens the connection
        with connection.cursor() as cur:
            cur.execute("SELECT pg_backend_pid()")
            backend = cur.fetchone()[0]
    except BaseException:
        barrier.abort()
        raise
    ok = conflicts = errors = 0
    samples: list[str] = []
    barrier.wait(timeout=300)
    server0, cpu0, t0 = backend_cpu(backend), time.process_time(), time.monotonic()
    deadline = t0 + seconds
    while time.monotonic() < deadline:
        try:
            op()
            ok += 1
        except Exception as e:  # 409s are expected under contention; anything else is counted and shown
            if isinstance(e, DomainError) and e.status == 409:
                conflicts += 1
                continue
            errors += 1
            if len(samples) < 3:
                samples.append(f"{type(e).__name__}: {str(e)[:120]}")
    server1 = backend_cpu(backend)
    results.put(
        {
            "ok": ok,
            "conflicts": conflicts,
            "errors": errors,
            "samples": samples,
            "elapsed": time.monotonic() - t0,
            "cpu": time.process_time() - cpu0,
            "server_cpu": None if server0 is None or server1 is None else server1 - server0,
        }
    )


def run_workers(kind: str, url: str, seconds: float, clients: int, groups) -> dict:
    ctx = mp.get_context("spawn")
    barrier, results = ctx.Barrier(clients + 1), ctx.Queue()
    procs = [ctx.Process(target=worker, args=(kind, url, seconds, w, groups, barrier, results)) for w in range(clients)]
    for p in procs:
        p.start()
    barrier.wait(timeout=300)  # all clients are set up and warm: the measured run starts now
    before = cpu_jiffies()
    time.sleep(seconds)
    host = host_busy_cores(before, seconds)
    out = [results.get(timeout=600) for _ in procs]
    for p in procs:
        p.join()
    elapsed = max(r["elapsed"] for r in out)
    return {
        "ok": sum(r["ok"] for r in out),
        "conflicts": sum(r["conflicts"] for r in out),
        "errors": sum(r["errors"] for r in out),
        "samples": [s for r in out for s in r["samples"]][:3],
        "elapsed": elapsed,
        "cpu": sum(r["cpu"] for r in out),
        "server_cpu": None if any(r["server_cpu"] is None for r in out) else sum(r["server_cpu"] for r in out),
        "tps": sum(r["ok"] for r in out) / elapsed,
        "host_cores": host,
    }


# --- where the time goes --------------------------------------------------------------------------

# Client CPU by the file a function lives in (own time, so the shares add up to 100 %). copy.py is here
# for Django: the ORM copies every expression it resolves.
CATEGORIES = [
    ("psycopg", ("psycopg",)),
    ("JSON", ("json",)),
    ("hashing", ("hashlib", "stock/chain.py", "sha256", "hexdigest")),
    ("Django ORM", ("django/db/", "/copy.py")),
    ("other Django", ("django/",)),
    ("stockledger", ("stockledger/",)),
]
# Inclusive CPU of the steps that matter (they overlap: bulk_create includes its JSON, etc.).
HOT_SPOTS = [
    ("QuerySet.update with CASE (batches, inventory)", "django/db/models/query.py", "update"),
    ("bulk_create (ledger, audit)", "django/db/models/query.py", "bulk_create"),
    ("SELECTs incl. model rows (locks, units)", "django/db/models/query.py", "_fetch_all"),
    ("ledger hash chain", "stock/chain.py", "entry_hash"),
    ("json.dumps", "json/__init__.py", "dumps"),
]


def cpu_jiffies() -> tuple[int, int]:
    """(busy, total) CPU ticks of the whole host, from /proc/stat."""
    f = [int(x) for x in Path("/proc/stat").read_text().split("\n", 1)[0].split()[1:]]
    idle = f[3] + (f[4] if len(f) > 4 else 0)
    return sum(f) - idle, sum(f)


def host_busy_cores(before: tuple[int, int], seconds: float) -> float:
    busy, _ = cpu_jiffies()
    return (busy - before[0]) / os.sysconf("SC_CLK_TCK") / seconds


def profile_issue(seconds: float, groups) -> dict:
    """One client alone: wall and client CPU per 3-line issue un-profiled, then cProfile on the CPU
    clock (so waiting for PostgreSQL does not count) to say where the client's CPU goes."""
    from django.contrib.auth import get_user_model

    from stockledger.stock.services import stock_issue

    clerk = get_user_model().objects.get(username=CLERK)
    rng = random.Random(99)
    three_line_issue(clerk, groups, rng, stock_issue)
    n, c0, t0 = 0, time.process_time(), time.monotonic()
    while time.monotonic() - t0 < seconds / 2:
        three_line_issue(clerk, groups, rng, stock_issue)
        n += 1
    wall_ms = (time.monotonic() - t0) / n * 1000
    cpu_ms = (time.process_time() - c0) / n * 1000
    prof = cProfile.Profile(time.process_time)
    t0 = time.monotonic()
    prof.enable()
    while time.monotonic() - t0 < seconds / 2:
        three_line_issue(clerk, groups, rng, stock_issue)
    prof.disable()
    stats = pstats.Stats(prof).stats
    total = sum(v[2] for v in stats.values()) or 1.0
    share: dict[str, float] = {}
    hot = dict.fromkeys((name for name, _, _ in HOT_SPOTS), 0.0)

    def category(filename: str, func: str) -> str:
        where = f"{filename} {func}"
        return next((name for name, keys in CATEGORIES if any(k in where for k in keys)), "other")

    for (filename, _line, func), (_cc, _nc, tottime, cumtime, callers) in stats.items():
        if filename == "~" and callers and "hash" not in func and "json" not in func:
            # A C builtin (isinstance, dict.copy, ...): its time belongs to whoever called it.
            for (cfile, _cl, cfunc), caller in callers.items():
                cat = category(cfile, cfunc)
                share[cat] = share.get(cat, 0.0) + caller[2] / total
        else:
            cat = category(filename, func)
            share[cat] = share.get(cat, 0.0) + tottime / total
        for name, path, fname in HOT_SPOTS:
            if filename.endswith(path) and func == fname:
                hot[name] += cumtime / total
    return {
        "wall_ms": wall_ms,
        "cpu_ms": cpu_ms,
        "share": dict(sorted(share.items(), key=lambda kv: -kv[1])),
        "hot": hot,
    }


# --- report ---------------------------------------------------------------------------------------

HEADER = (
    "| date (UTC) | machine | PostgreSQL | run | pgbench tps | 3-line issue tps | ratio | "
    "reserve+consume pairs/s (txn/s) | ratio (txn) | statements / issue (PG, SQLite) | 409 / errors |"
)
RULE = "|" + "---|" * HEADER.count(" | ") + "---|"
START, END = "<!-- engine-rows:start -->", "<!-- engine-rows:end -->"


def machine() -> str:
    mem = 0
    for line in Path("/proc/meminfo").read_text().splitlines():
        if line.startswith("MemTotal:"):
            mem = int(line.split()[1]) / 1024 / 1024
    load = os.getloadavg()[0]
    return f"{os.cpu_count()} CPU, {mem:.0f} GB, load {load:.1f} at start"


def row(r: dict) -> str:
    pg, res, iss = r["pgbench"], r["reserve"], r["issue"]
    ratio = iss["tps"] / pg["tps"]
    rratio = 2 * res["tps"] / pg["tps"]
    mark = lambda x: "" if x >= GOAL_RATIO else " ✗"  # noqa: E731
    sq = r["statements_sqlite"]
    return (
        f"| {r['date']} | {r['machine']} | {r['pg_version']} | {r['clients']} clients × {r['seconds']} s"
        f"{', own sessions' if r.get('own_sessions') else ''} "
        f"| {pg['tps']:.0f} | {iss['tps']:.0f} | {ratio:.0%}{mark(ratio)} "
        f"| {res['tps']:.0f} ({2 * res['tps']:.0f}) | {rratio:.0%}{mark(rratio)} "
        f"| {r['statements_pg']['issue']}, {sq.get('issue') if sq.get('issue') is not None else 'n/a'} "
        f"| {iss['conflicts'] + res['conflicts']} / {iss['errors'] + res['errors']} |"
    )


def analysis(r: dict) -> list[str]:
    p, iss, res, pg, st = r["profile"], r["issue"], r["reserve"], r["pgbench"], r["statements_pg"]
    cores = os.cpu_count() or 1
    shares = ", ".join(f"{k} {v:.0%}" for k, v in p["share"].items())
    hot = ", ".join(f"{k} {v:.0%}" for k, v in p["hot"].items())
    issue_cpu = iss["cpu"] / max(iss["ok"], 1) * 1000
    pair_cpu = res["cpu"] / max(res["ok"], 1) * 1000
    server = iss["server_cpu"] / max(iss["ok"], 1) * 1000 if iss["server_cpu"] is not None else None
    pair_server = res["server_cpu"] / max(res["ok"], 1) * 1000 if res["server_cpu"] is not None else None
    cap = cores * 1000 / (issue_cpu + (server or 0))
    if server is not None and pair_server is not None and pg["server_ms"]:
        srv = (
            f" PostgreSQL backend CPU per transaction: pgbench {pg['server_ms']:.2f} ms, issue {server:.1f} ms, "
            f"pair {pair_server:.1f} ms: with the clients on other hosts the server alone would allow roughly "
            f"{pg['server_ms'] / server:.0%} of pgbench."
        )
    else:
        srv = " (PostgreSQL backend CPU not measured: the server is not on this host.)"
    return [
        f"- One client alone: {p['wall_ms']:.1f} ms per 3-line issue, of which {p['cpu_ms']:.1f} ms is Python CPU "
        f"in the client and {p['wall_ms'] - p['cpu_ms']:.1f} ms waiting: {st['issue']} statements' round trips, "
        "PostgreSQL's own work and, on a loaded host, the wait for a free core.",
        f"- Client CPU (cProfile on the CPU clock, own time): {shares}. Inclusive: {hot}.",
        f"- {r['clients']} clients: {issue_cpu:.1f} ms Python CPU per issue, {pair_cpu:.1f} ms per reserve+consume "
        f"pair. Host busy {iss['host_cores']:.1f} of {cores} cores during the issue run (our workers "
        f"{iss['cpu'] / iss['elapsed']:.1f}), {pg['host_cores']:.1f} during pgbench. Client + server CPU caps this "
        f"machine near {cap:.0f} issues/s ({cap / pg['tps']:.0%} of this run's pgbench) with no other load." + srv,
        f"- Statements, BEGIN and COMMIT included: 3-line issue {st['issue']} (budget {BUDGET}), "
        f"reservation_apply {st['reserve']}, reservation_consume {st['consume']}. "
        f"After the run: {r['verify_after']}.",
    ]


def engine_section(rows: list[str], latest: dict) -> str:
    return "\n".join(
        [
            "## Engine",
            "",
            "`make bench` (`python bench/engine.py`, see `bench/README.md`). Same run, same PostgreSQL server: "
            "pgbench TPC-B (`-i -s 8`, by default `-c 8 -j 2 -T 20`; the run column says what ran) against "
            "the engine's 3-line issue (`stock_issue`, 1 unit from each of 3 batches of 3 random items out of "
            "1,000 × 3 batches) and "
            "reservation_apply + reservation_consume of a fresh document on 3 random batches, 8 client "
            "processes each. tps counts committed transactions only; a reserve+consume pair is two "
            f"transactions, its ratio uses 2 × pairs/s. Goal: ratio ≥ {GOAL_RATIO:.0%}, statements ≤ {BUDGET}.",
            "",
            START,
            HEADER,
            RULE,
            *rows,
            END,
            "",
            f"Where the time goes (latest run, {latest['date']}):",
            "",
            *analysis(latest),
            "",
            "Caveats: the benchmark machine is shared (other test suites run at the same time, see the load "
            "column), so figures move by tens of percent between runs; compare the ratio, not the absolute tps. "
            "pgbench's client is C and nearly free, the engine's clients are Python processes on the same cores "
            "as the server, so on a small machine the ratio measures CPU per transaction: the client's Python and "
            "the PostgreSQL backend's work (both are in the lines above), not the database's capacity. "
            "With Linux's scheduler autogroup on (as here), the engine's client processes share one session's "
            "CPU slice against every other session on the host, PostgreSQL's backends have theirs; "
            "`--own-sessions` puts each client in its own session (marked in the run column).",
            "",
        ]
    )


def write_benchmarks(r: dict) -> None:
    text = BENCHMARKS.read_text() if BENCHMARKS.exists() else ""
    if not text.strip():
        text = "# Benchmarks\n\nResults of the benchmarks in `bench/`, newest row last in each table.\n"
    lines = text.splitlines()
    start = next((i for i, ln in enumerate(lines) if ln.strip() == "## Engine"), None)
    old_rows: list[str] = []
    if start is None:
        before, after = lines, []
    else:
        end = next((i for i in range(start + 1, len(lines)) if lines[i].startswith("## ")), len(lines))
        section = lines[start:end]
        if START in section and END in section:
            table_lines = section[section.index(START) + 1 : section.index(END)]
            old_rows = [ln for ln in table_lines if ln.startswith("|") and not ln.startswith(("| date", "|---"))]
        before, after = lines[:start], lines[end:]
    while before and not before[-1].strip():
        before.pop()
    new = "\n".join(before) + "\n\n" + engine_section([*old_rows, row(r)], r)
    if after:
        new += "\n" + "\n".join(after) + "\n"
    BENCHMARKS.write_text(new)


def table(r: dict) -> str:
    return "\n".join([HEADER, RULE, row(r), "", *analysis(r)])


# --- main -----------------------------------------------------------------------------------------


def main() -> None:
    ap = argparse.ArgumentParser(description=__doc__.split("\n")[0])
    ap.add_argument("--seconds", type=int, default=20, help="duration of each measured run (default 20)")
    ap.add_argument("--clients", type=int, default=8, help="pgbench clients and engine processes (default 8)")
    ap.add_argument("--quick", action="store_true", help="smoke run: 5 s each")
    ap.add_argument("--items", type=int, default=1000)
    ap.add_argument("--batches-per-item", type=int, default=3)
    ap.add_argument("--scale", type=int, default=8, help="pgbench -s (default 8)")
    ap.add_argument("--no-write", action="store_true", help="print only, leave BENCHMARKS.md alone")
    ap.add_argument(
        "--own-sessions",
        action="store_true",
        help="each engine client in its own session (Linux scheduler autogroup); see bench/README.md",
    )
    ap.add_argument("--sqlite-count", action="store_true", help=argparse.SUPPRESS)
    args = ap.parse_args()
    if args.sqlite_count:
        return _sqlite_count_main()
    seconds = 5 if args.quick else args.seconds
    if args.own_sessions:
        os.environ["STOCKLEDGER_BENCH_SETSID"] = "1"  # read by the spawned workers
    url = os.environ.get("STOCKLEDGER_BENCH_POSTGRES_URL", DEFAULT_URL)
    dbname = pg_parts(url)["dbname"]
    if "bench" not in dbname:
        raise SystemExit(f"refusing to drop database {dbname!r}: its name must contain 'bench'")

    def say(msg: str) -> None:
        print(f"[{time.strftime('%H:%M:%S')}] {msg}", flush=True)

    result = {
        "date": datetime.now(UTC).strftime("%Y-%m-%d %H:%M"),
        "machine": machine(),
        "pg_version": server_version(url),
        "clients": args.clients,
        "seconds": seconds,
        "own_sessions": args.own_sessions,
        "python": platform.python_version(),
    }
    say(f"recreating and migrating {dbname}")
    recreate_database(url, dbname)
    django_setup(url)
    migrate()
    say(f"seeding {args.items} items × {args.batches_per_item} batches")
    groups = seed(args.items, args.batches_per_item)
    say(f"after seeding: {verify(url)}")
    result["statements_pg"] = count_statements(groups)
    result["statements_sqlite"] = sqlite_statement_count()
    say(
        f"statements per 3-line issue: PostgreSQL {result['statements_pg']['issue']}, "
        f"SQLite {result['statements_sqlite'].get('issue')}"
    )
    from django.db import connections

    connections.close_all()

    say(f"pgbench -i -s {args.scale}, then -c {args.clients} -T {seconds}")
    result["pgbench"] = pgbench(url, f"{dbname}_pgbench", scale=args.scale, clients=args.clients, seconds=seconds)
    say(f"pgbench: {result['pgbench']['tps']:.0f} tps")
    say(f"engine 3-line issue: {args.clients} processes × {seconds} s")
    result["issue"] = run_workers("issue", url, seconds, args.clients, groups)
    say(f"issue: {result['issue']['tps']:.0f} tps {result['issue']['samples'] or ''}")
    say(f"reservation_apply + reservation_consume: {args.clients} processes × {seconds} s")
    result["reserve"] = run_workers("reserve", url, seconds, args.clients, groups)
    say(f"reserve+consume: {result['reserve']['tps']:.0f} pairs/s {result['reserve']['samples'] or ''}")
    say("profiling one client")
    result["profile"] = profile_issue(min(seconds, 8), groups)
    result["verify_after"] = verify(url)
    print()
    print(table(result))
    if not args.no_write:
        write_benchmarks(result)
        print(f"\nwritten to {BENCHMARKS.relative_to(ROOT)}")


if __name__ == "__main__":
    main()
