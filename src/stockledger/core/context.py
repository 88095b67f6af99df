"""Who is acting and on whose behalf (request id or job id), for the audit log.

Set by the request middleware and by jobs (recompute); read by core.audit. Context variables, so a
service writes the same audit row whether a view, a command or a test calls it.
"""

import contextlib
import contextvars
import uuid

request_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("request_id", default=None)
job_id: contextvars.ContextVar[str | None] = contextvars.ContextVar("job_id", default=None)


def new_id() -> str:
    return uuid.uuid4().hex


@contextlib.contextmanager
def bound(var: contextvars.ContextVar, value):
    token = var.set(value)
    try:
        yield value
    finally:
        var.reset(token)
