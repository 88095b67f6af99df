"""assert_invariants(): the last line of every db test. Runs verify (every registered invariant) and
fails with the readable drift table when anything drifted."""

import pytest

from stockledger.reconcile.services import verify


def assert_invariants(scope=None) -> None:
    report = verify(scope)
    if not report.ok:
        pytest.fail(f"invariants drifted ({len(report.drift)} row(s)):\n{report.table()}", pytrace=False)
