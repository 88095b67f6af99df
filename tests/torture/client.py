"""One client: pick an operation (weighted), send it with its own Idempotency-Key, retry with the SAME
key while the outcome is unknown (bounded), log invoke / retry / ok / fail / info."""

import contextlib
import random
import threading
import time

from .history import FAIL, INFO, OK, History
from .ops.base import ClientState, Operation
from .transport import Unreachable

RETRY_STATUSES = {500, 502, 503, 504}


def perform(
    transport,
    history: History,
    state: ClientState,
    op: Operation,
    req,
    *,
    seq: int,
    key: str | None,
    tokens: dict,
    max_attempts: int = 8,
    backoff: float = 0.25,
    backoff_cap: float = 4.0,
    duplicate_rate: float = 0.0,
) -> str:
    ident = {"client": state.client, "op": seq, "f": op.name, "key": key}
    history.write(
        {"type": "invoke", **ident, "req": {"method": req.method, "path": req.path, "body": req.body, "role": req.role}}
    )
    headers = {"Authorization": f"Token {tokens[req.role]}"}
    if key:
        headers["Idempotency-Key"] = key
    started = time.time()
    duplicate = None
    if key and duplicate_rate and state.rng.random() < duplicate_rate:
        duplicate = _send_duplicate(transport, history, ident, req, headers, delay=state.rng.random() * 0.05)
    attempt = 0
    while True:
        attempt += 1
        status, body, error = None, None, None
        try:
            status, body = transport.request(req.method, req.path, req.body, headers)
        except Unreachable as e:
            error = str(e)
        if status is not None and status not in RETRY_STATUSES:
            outcome = OK if 200 <= status < 300 else FAIL
            break
        if attempt >= max_attempts:
            outcome = INFO
            break
        history.write({"type": "retry", **ident, "attempt": attempt, "status": status, "error": error, "body": body})
        time.sleep(min(backoff * 2 ** (attempt - 1), backoff_cap) * (0.5 + state.rng.random()))
    if duplicate is not None:
        duplicate.join(timeout=120)
    history.write(
        {
            "type": outcome,
            **ident,
            "status": status,
            "body": body,
            "error": error,
            "attempts": attempt,
            "latency": round(time.time() - started, 4),
        }
    )
    with contextlib.suppress(KeyError, TypeError, AttributeError, ValueError):  # an odd body must not stop it
        op.on_complete(state, req, outcome, status, body)
    return outcome


def _send_duplicate(transport, history: History, ident: dict, req, headers: dict, delay: float) -> threading.Thread:
    """The same request with the same key, sent concurrently: a retry racing its original (a client that
    timed out early, a double click, a proxy retry). It must get the original's answer."""

    def send():
        time.sleep(delay)
        status, body, error = None, None, None
        try:
            status, body = transport.request(req.method, req.path, req.body, headers)
        except Unreachable as e:
            error = str(e)
        history.write({"type": "duplicate", **ident, "status": status, "body": body, "error": error})

    t = threading.Thread(target=send, daemon=True)
    t.start()
    return t


def run_client(
    client: int,
    seed: dict,
    transport,
    history: History,
    *,
    seconds: float,
    ops: dict[str, Operation],
    key_prefix: str,
    rng_seed: int | None = None,
    max_attempts: int = 8,
    duplicate_rate: float = 0.0,
) -> int:
    """Run random operations until the deadline; returns the number of operations performed."""
    rng = random.Random(rng_seed if rng_seed is not None else client)
    state = ClientState(seed, client, rng)
    names = sorted(ops)
    weights = [ops[n].weight for n in names]
    deadline = time.time() + seconds
    seq = 0
    while time.time() < deadline:
        for _ in range(4):  # an operation with nothing to do now (no package ready, ...): draw again
            op = ops[rng.choices(names, weights)[0]]
            if (req := op.generate(state, rng)) is not None:
                break
        if req is None:
            # Nothing to do for this one yet (no batch known, ...): learn something first.
            fallback = ops.get("read_batches") or ops.get("receive")
            if fallback is None or (req := fallback.generate(state, rng)) is None:
                continue
            op = fallback
        seq += 1
        key = f"{key_prefix}-{client}-{seq}" if req.write else None
        perform(
            transport,
            history,
            state,
            op,
            req,
            seq=seq,
            key=key,
            tokens=seed["tokens"],
            max_attempts=max_attempts,
            duplicate_rate=duplicate_rate,
        )
    return seq
