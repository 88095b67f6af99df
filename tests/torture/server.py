"""The real server under test: `stockledger serve` (gunicorn master + workers), started, found, killed."""

import os
import signal
import subprocess
import sys
import time
import urllib.request
from pathlib import Path

REPO = Path(__file__).resolve().parents[2]


class Server:
    def __init__(self, port: int, env: dict, log: Path, workers: int = 3):
        self.port, self.env, self.log, self.workers = port, env, log, workers
        self.proc: subprocess.Popen | None = None

    def start(self, timeout: float = 90) -> None:
        cmd = [
            sys.executable, "-m", "stockledger", "serve", "--host", "127.0.0.1", "--port", str(self.port),
            "--workers", str(self.workers), "--no-collectstatic",
        ]  # fmt: skip
        fh = open(self.log, "ab")  # noqa: SIM115 - the child keeps it
        self.proc = subprocess.Popen(
            cmd, env=self.env, cwd=REPO, stdout=fh, stderr=subprocess.STDOUT, start_new_session=True
        )
        fh.close()
        deadline = time.time() + timeout
        while time.time() < deadline:
            if self.proc.poll() is not None:
                raise RuntimeError(f"server exited with {self.proc.returncode}; see {self.log}")
            if self.healthy() and len(self.worker_pids()) >= self.workers:
                return
            time.sleep(0.3)
        raise RuntimeError(f"server not healthy after {timeout} s; see {self.log}")

    def healthy(self) -> bool:
        try:
            with urllib.request.urlopen(f"http://127.0.0.1:{self.port}/healthz", timeout=3) as r:
                return r.status == 200
        except OSError:
            return False

    @property
    def master_pid(self) -> int | None:
        return self.proc.pid if self.proc and self.proc.poll() is None else None

    def worker_pids(self) -> list[int]:
        """The gunicorn workers: the children of the master (serve execs gunicorn in place)."""
        master = self.master_pid
        if master is None:
            return []
        try:
            children = Path(f"/proc/{master}/task/{master}/children").read_text().split()
            return [int(p) for p in children]
        except OSError:
            return _children_by_scan(master)

    def kill_all(self) -> None:
        """SIGKILL master and workers at once (the SQLite run's 'restart')."""
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGKILL)
            self.proc.wait(timeout=30)

    def stop(self) -> None:
        if self.proc and self.proc.poll() is None:
            os.killpg(self.proc.pid, signal.SIGTERM)
            try:
                self.proc.wait(timeout=30)
            except subprocess.TimeoutExpired:
                os.killpg(self.proc.pid, signal.SIGKILL)
                self.proc.wait(timeout=30)


def _children_by_scan(parent: int) -> list[int]:
    out = []
    for stat in Path("/proc").glob("[0-9]*/stat"):
        try:
            fields = stat.read_text().rsplit(")", 1)[1].split()
        except OSError:
            continue
        if int(fields[1]) == parent:
            out.append(int(stat.parent.name))
    return out
