"""A database-wide lock so two recompute runs never overlap (a second one is refused at once).

- PostgreSQL: a session advisory lock, pg_try_advisory_lock (advisory locks are per database).
- MariaDB/MySQL: GET_LOCK(name, 0); lock names are server-wide, so the name carries the database.
- SQLite: an exclusive, non-blocking flock on a file next to the database under settings.VAR_DIR.

All three die with the process or connection that holds them: a crashed run never leaves a stale lock.
"""

import contextlib
import fcntl
import hashlib
from pathlib import Path

from django.conf import settings
from django.db import DatabaseError, connection

from stockledger.core.errors import Conflict


class RecomputeRunning(Conflict):
    code = "recompute_running"
    default_message = "Another recompute is running; try again when it has finished."


def _pg_key(name: str) -> int:
    return int.from_bytes(hashlib.sha256(f"stockledger:{name}".encode()).digest()[:8], "big", signed=True)


def _mysql_name(name: str) -> str:
    return f"stockledger:{connection.settings_dict['NAME']}:{name}"[:64]


def _sqlite_path(name: str) -> Path:
    db = Path(str(connection.settings_dict["NAME"])).name or "memory"
    return Path(settings.VAR_DIR) / f"{db}.{name}.lock"


@contextlib.contextmanager
def exclusive(name: str = "recompute"):
    """Hold the named lock for the block, or raise RecomputeRunning if someone else holds it."""
    vendor = connection.vendor
    if vendor == "sqlite":
        path = _sqlite_path(name)
        path.parent.mkdir(parents=True, exist_ok=True)
        with open(path, "a+") as fh:
            try:
                fcntl.flock(fh, fcntl.LOCK_EX | fcntl.LOCK_NB)
            except BlockingIOError:
                raise RecomputeRunning() from None
            try:
                yield
            finally:
                fcntl.flock(fh, fcntl.LOCK_UN)
        return
    if vendor == "postgresql":
        acquire, release, arg = "SELECT pg_try_advisory_lock(%s)", "SELECT pg_advisory_unlock(%s)", _pg_key(name)
    elif vendor == "mysql":
        acquire, release, arg = "SELECT GET_LOCK(%s, 0)", "SELECT RELEASE_LOCK(%s)", _mysql_name(name)
    else:  # pragma: no cover - the three supported backends are above
        raise NotImplementedError(vendor)
    with connection.cursor() as cur:
        cur.execute(acquire, [arg])
        got = cur.fetchone()[0]
    if not got:
        raise RecomputeRunning()
    try:
        yield
    finally:
        try:
            with connection.cursor() as cur:
                cur.execute(release, [arg])
        except DatabaseError:  # the connection broke: the session, and its lock, are gone with it
            pass
