"""What an operation is: a generator of requests, a state updater, and the checker's expectation.

An Operation
- `generate(state, rng)` returns a Request (or None when it has nothing to do now, e.g. no batch known);
- `on_complete(state, req, outcome, status, body)` updates the client's local knowledge;
- `check_ledger(op, entries, ctx)` (writes only) returns the problems of the ledger rows written under
  the operation's Idempotency-Key, given the request and, when it was acknowledged, the response;
- `must_write_ledger(op)` says whether an acknowledged operation must have ledger rows (True),
  must have none (False) or may have either (None);
- `check_record(op, result)` compares the acknowledged body with the stored first result of its key;
- `check_answer(op)` (reads and writes) returns violations `(kind, detail)` an acknowledged answer shows
  by itself (a verify report with drift, a recompute that changed rows).
`requires` names API paths the server must route for the operation to be used. `in_progress_codes` are
refusals that mean "the same work is still running" rather than a business refusal (a recompute is not
one transaction: a second try with its key while the first runs meets the run lock): a retry or a racing
duplicate may get one while its original goes on and succeeds.
"""

import bisect
import itertools
import random
from dataclasses import dataclass, field
from decimal import Decimal


@dataclass
class Request:
    method: str
    path: str
    body: dict | None = None
    role: str = "clerk"
    write: bool = True  # carries an Idempotency-Key, retried with the same key
    meta: dict = field(default_factory=dict)  # kept by the generator, not sent


class Operation:
    name = "op"
    weight = 1.0
    requires: tuple[str, ...] = ()
    # 4xx codes this operation is expected to meet under contention (others are listed as anomalies)
    expected_codes: frozenset[str] = frozenset({"insufficient_stock", "stale_version"})
    in_progress_codes: frozenset[str] = frozenset()

    def generate(self, state: "ClientState", rng: random.Random) -> Request | None:
        raise NotImplementedError

    def on_complete(self, state: "ClientState", req: Request, outcome: str, status, body) -> None:
        pass

    def must_write_ledger(self, op: dict) -> bool | None:
        return True

    def check_record(self, op: dict, result) -> list[str]:
        """The acknowledged body against the first result stored for its key (a retry returns it)."""
        if result != op["body"]:
            return [f"ack {op['body']!r:.300} != record {result!r:.300}"]
        return []

    def check_ledger(self, op: dict, entries: list[dict], ctx) -> list[str]:
        return []

    def check_answer(self, op: dict) -> list[tuple[str, str]]:
        return []


REGISTRY: dict[str, Operation] = {}


def register(cls):
    REGISTRY[cls.name] = cls()
    return cls


def dec(value) -> Decimal:
    return Decimal(str(value))


class ClientState:
    """One client's view of the world: the seed (items, warehouses, tokens) and what it learnt since."""

    def __init__(self, seed: dict, client: int, rng: random.Random):
        self.seed = seed
        self.client = client
        self.rng = rng
        self.batches: dict[int, dict] = {}  # batch id -> last known state
        self.extra: dict[str, object] = {}  # per-module state (pending adjustments, packages, ...)
        self.items = {i["id"]: i for i in seed["items"]}
        self.warehouses = seed["warehouses"]
        self._zipf: dict[str, tuple[list, list]] = {}

    def pick_item(self, kind: str = "batched") -> dict | None:
        """A Zipf-skewed choice: a few hot items get most of the traffic (contention on purpose)."""
        if kind not in self._zipf:
            items = [i for i in self.seed["items"] if i["kind"] == kind]
            weights = [1.0 / (rank + 1) ** 1.2 for rank in range(len(items))]
            self._zipf[kind] = (items, list(itertools.accumulate(weights)))
        items, cum = self._zipf[kind]
        if not items:
            return None
        return items[bisect.bisect(cum, self.rng.random() * cum[-1])]

    def pick_warehouse(self, exclude=()) -> int | None:
        choices = [w for w in self.warehouses if w not in exclude]
        if not choices:
            return None
        weights = [3 if i == 0 else 1 for i, w in enumerate(choices)]
        return self.rng.choices(choices, weights)[0]

    def learn_batch(self, b: dict) -> None:
        if not isinstance(b, dict) or "batch_id" not in b and "id" not in b:
            return
        pk = b.get("batch_id", b.get("id"))
        known = self.batches.setdefault(pk, {})
        for k in ("item_id", "warehouse_id", "usable_qty", "reserved_qty", "version", "expiry_date", "batch_no"):
            if k in b:
                known[k] = b[k]
        if "item" in b and "item_id" not in b:
            known["item_id"] = b["item"]
        if "warehouse" in b and "warehouse_id" not in b:
            known["warehouse_id"] = b["warehouse"]

    def available(self, b: dict) -> Decimal:
        return dec(b.get("usable_qty", 0)) - dec(b.get("reserved_qty", 0))

    def batches_of(self, item_id: int, *, in_stock: bool = True, warehouse: int | None = None) -> list[tuple]:
        out = []
        for pk, b in self.batches.items():
            if b.get("item_id") != item_id:
                continue
            if warehouse is not None and b.get("warehouse_id") != warehouse:
                continue
            if in_stock and self.available(b) <= 0:
                continue
            out.append((pk, b))
        return out

    def qty(self, item: dict, low: int, high: int) -> str:
        """A positive quantity with the decimals the item's unit allows (piece: 0, metre: 3)."""
        places = item["unit_decimals"] if self.rng.random() < 0.7 else 0
        scale = 10**places
        value = Decimal(self.rng.randint(max(low * scale, 1), max(high * scale, 1))).scaleb(-places)
        return str(value)
