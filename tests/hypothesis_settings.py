"""Hypothesis settings shared by the stateful tests (engine, pipes, relief).

One environment variable scales them all: STOCKLEDGER_STATEFUL_EXAMPLES=200 runs 200 examples of each
machine (`make torture`); unset, each test keeps its own modest default (`make test`).
"""

import os

from hypothesis import HealthCheck, settings

EXAMPLES_ENV = "STOCKLEDGER_STATEFUL_EXAMPLES"


def stateful_examples(default: int) -> int:
    """The example count: STOCKLEDGER_STATEFUL_EXAMPLES when set, else `default`."""
    raw = os.environ.get(EXAMPLES_ENV, "").strip()
    if not raw:
        return default
    try:
        count = int(raw)
    except ValueError:
        raise ValueError(f"{EXAMPLES_ENV} must be a whole number, not {raw!r}") from None
    if count < 1:
        raise ValueError(f"{EXAMPLES_ENV} must be at least 1, not {count}")
    return count


def stateful_settings(default_examples: int, *, step_count: int) -> settings:
    """Settings for run_state_machine_as_test: no deadline (database steps vary in time on a busy CI
    machine), and the health checks that a database-backed machine trips by design turned off."""
    return settings(
        max_examples=stateful_examples(default_examples),
        stateful_step_count=step_count,
        deadline=None,
        suppress_health_check=[HealthCheck.function_scoped_fixture, HealthCheck.too_slow, HealthCheck.filter_too_much],
    )
