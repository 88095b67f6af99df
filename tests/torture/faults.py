"""Faults injected while the clients run; every one actually executed is logged with its time.

- kill_worker: SIGKILL of a random gunicorn worker (the master forks a new one), every 30 s
- terminate_connections: a random subset of the server's database connections cut (PostgreSQL
  pg_terminate_backend, MariaDB KILL CONNECTION), every few seconds
- db_restart: the database server restarted once mid-run (SQLite: server_restart, the application
  server killed and started again, since there is no database server)
"""

import os
import random
import signal
import threading
import time

from .history import History


class FaultInjector(threading.Thread):
    def __init__(
        self,
        server,
        backend,
        seconds: float,
        log: History,
        *,
        restart: bool = True,
        kill_every: float = 30.0,
        terminate_every: float = 8.0,
        seed: int = 0,
    ):
        super().__init__(name="faults", daemon=True)
        self.server, self.backend, self.log = server, backend, log
        self.rng = random.Random(seed)
        self.stopping = threading.Event()
        kill_every = min(kill_every, max(seconds / 3, 2))
        terminate_every = min(terminate_every, max(seconds / 4, 1))
        plan = [(t, "kill_worker") for t in _times(kill_every, seconds)]
        if backend.name != "sqlite":
            plan += [(t, "terminate_connections") for t in _times(terminate_every, seconds, start=terminate_every / 2)]
        if restart:
            plan.append((seconds * 0.5, backend.restart_kind))
        self.plan = sorted(plan)

    @staticmethod
    def required(backend, restart: bool) -> list[str]:
        kinds = ["kill_worker"] + (["terminate_connections"] if backend.name != "sqlite" else [])
        return kinds + ([backend.restart_kind] if restart else [])

    def stop(self) -> None:
        self.stopping.set()

    def run(self) -> None:
        t0 = time.time()
        for at, kind in self.plan:
            if self.stopping.wait(max(0.0, t0 + at - time.time())):
                return
            started = time.time()
            try:
                detail = getattr(self, kind)()
                ok = detail is not None
            except Exception as e:  # noqa: BLE001 - a fault that failed is logged, and fails the run
                detail, ok = f"{type(e).__name__}: {e}", False
            self.log.write(
                {"kind": kind, "ok": ok, "detail": detail, "ts": started, "duration_s": round(time.time() - started, 2)}
            )

    def kill_worker(self):
        pids = self.server.worker_pids()
        if not pids:
            return None
        pid = self.rng.choice(pids)
        os.kill(pid, signal.SIGKILL)
        return {"pid": pid, "workers": pids}

    def terminate_connections(self):
        for _ in range(10):  # connections live only while a request runs: try a few instants
            cut = self.backend.terminate_some(self.rng)
            if cut:
                return {"connections": cut}
            time.sleep(0.2)
        return None

    def db_restart(self):
        return {"command": self.backend.restart()}

    def server_restart(self):
        self.server.kill_all()
        self.server.start()
        return {"new_master": self.server.master_pid}


def _times(every: float, seconds: float, start: float | None = None) -> list[float]:
    out, t = [], start if start is not None else every
    while t < seconds - 0.5:
        out.append(t)
        t += every
    return out
