"""The database under test, per backend: a fresh database, its URL, cutting client connections, a restart.

PostgreSQL and MariaDB are the machine's shared servers (other test suites use them): the run only
drops and creates its own database `torture`, and restarts the server at most once per run.
"""

import contextlib
import subprocess
import time
from pathlib import Path

PG_ADMIN = "postgresql://postgres@127.0.0.1:5432/postgres"
DB_NAME = "torture"


class Backend:
    name = "?"
    restart_kind = "db_restart"

    def url(self) -> str:
        raise NotImplementedError

    def create(self) -> None:
        raise NotImplementedError

    def terminate_some(self, rng, fraction: float = 0.5) -> list:
        """Cut a random subset of the server's connections to the torture database; the ids cut."""
        return []

    def restart(self) -> str:
        raise NotImplementedError

    def ensure_up(self) -> None:
        """After the run: the shared server must be up whatever happened (a restart that failed midway)."""


class Postgres(Backend):
    name = "postgres"

    def url(self) -> str:
        return f"postgres://postgres@127.0.0.1:5432/{DB_NAME}"

    def _conn(self):
        import psycopg

        return psycopg.connect(PG_ADMIN, autocommit=True, connect_timeout=5)

    def create(self) -> None:
        with self._conn() as conn:
            conn.execute(f"DROP DATABASE IF EXISTS {DB_NAME} WITH (FORCE)")
            conn.execute(f"CREATE DATABASE {DB_NAME}")

    def terminate_some(self, rng, fraction: float = 0.5) -> list:
        with self._conn() as conn:
            pids = [
                r[0]
                for r in conn.execute(
                    "SELECT pid FROM pg_stat_activity WHERE datname = %s AND pid <> pg_backend_pid()", [DB_NAME]
                ).fetchall()
            ]
            chosen = [p for p in pids if rng.random() < fraction]
            for pid in chosen:
                conn.execute("SELECT pg_terminate_backend(%s)", [pid])
        return chosen

    def restart(self) -> str:
        version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
        proc = subprocess.run(
            ["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "restart"],
            capture_output=True,
            text=True,
            timeout=120,
        )
        if proc.returncode != 0:
            raise RuntimeError(f"pg_ctlcluster restart failed: {proc.stderr.strip()}")
        _wait(lambda: subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0, 60, "PostgreSQL")
        return f"pg_ctlcluster {version} main restart"

    def ensure_up(self) -> None:
        if subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode != 0:
            version = sorted(p.name for p in Path("/etc/postgresql").iterdir())[-1]
            subprocess.run(["pg_ctlcluster", "--skip-systemctl-redirect", version, "main", "start"], timeout=120)
            _wait(lambda: subprocess.run(["pg_isready", "-h", "127.0.0.1", "-q"]).returncode == 0, 60, "PostgreSQL")


class MariaDB(Backend):
    name = "mariadb"

    def url(self) -> str:
        return f"mysql://root:@127.0.0.1:3306/{DB_NAME}"

    def _conn(self):
        import MySQLdb

        return MySQLdb.connect(host="127.0.0.1", port=3306, user="root", passwd="", connect_timeout=5, autocommit=True)

    def create(self) -> None:
        conn = self._conn()
        try:
            cur = conn.cursor()
            cur.execute(f"DROP DATABASE IF EXISTS {DB_NAME}")
            cur.execute(f"CREATE DATABASE {DB_NAME} CHARACTER SET utf8mb4 COLLATE utf8mb4_unicode_ci")
        finally:
            conn.close()

    def terminate_some(self, rng, fraction: float = 0.5) -> list:
        conn = self._conn()
        try:
            cur = conn.cursor()
            cur.execute(
                "SELECT id FROM information_schema.processlist WHERE db = %s AND id <> CONNECTION_ID()", [DB_NAME]
            )
            chosen = [r[0] for r in cur.fetchall() if rng.random() < fraction]
            for pid in chosen:
                with contextlib.suppress(Exception):  # it may have ended by itself meanwhile
                    cur.execute(f"KILL CONNECTION {int(pid)}")
            return chosen
        finally:
            conn.close()

    def restart(self) -> str:
        ping = ["mysqladmin", "-h127.0.0.1", "-uroot", "--connect-timeout=2", "status"]
        subprocess.run(["mysqladmin", "-h127.0.0.1", "-uroot", "shutdown"], capture_output=True, timeout=120)
        # Wait for the process itself to end: start-stop-daemon --oknodo does nothing while it still exists.
        _wait(lambda: subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True).returncode != 0, 120, "shutdown")
        subprocess.run(
            ["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"],
            check=True,
            timeout=30,
        )
        try:
            _wait(lambda: subprocess.run(ping, capture_output=True).returncode == 0, 90, "MariaDB")
        except RuntimeError:  # never leave the shared server down: one more start, then report
            subprocess.run(["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"])
            _wait(lambda: subprocess.run(ping, capture_output=True).returncode == 0, 90, "MariaDB (second start)")
        return "mysqladmin shutdown; start-stop-daemon --start mariadbd"

    def ensure_up(self) -> None:
        ping = ["mysqladmin", "-h127.0.0.1", "-uroot", "--connect-timeout=2", "status"]
        if subprocess.run(ping, capture_output=True).returncode != 0:
            _wait(lambda: subprocess.run(["pgrep", "-x", "mariadbd"], capture_output=True).returncode != 0, 120, "exit")
            subprocess.run(["start-stop-daemon", "--start", "--oknodo", "--background", "--exec", "/usr/sbin/mariadbd"])
            _wait(lambda: subprocess.run(ping, capture_output=True).returncode == 0, 90, "MariaDB")


class SQLite(Backend):
    """An embedded file: there is no server to restart or connection to cut; the run restarts the
    application server instead."""

    name = "sqlite"
    restart_kind = "server_restart"

    def __init__(self, directory: Path):
        self.path = Path(directory) / "torture.sqlite3"

    def url(self) -> str:
        return f"sqlite:///{self.path}"

    def create(self) -> None:
        for suffix in ("", "-wal", "-shm"):
            Path(f"{self.path}{suffix}").unlink(missing_ok=True)
        self.path.parent.mkdir(parents=True, exist_ok=True)


def _wait(predicate, seconds: float, what: str) -> None:
    deadline = time.time() + seconds
    while time.time() < deadline:
        if predicate():
            return
        time.sleep(0.5)
    raise RuntimeError(f"{what} not ready after {seconds} s")


def backend(name: str, directory: Path) -> Backend:
    return {"postgres": Postgres, "mariadb": MariaDB}[name]() if name != "sqlite" else SQLite(directory)
