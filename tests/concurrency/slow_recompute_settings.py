"""Settings for a recompute process that is slow on purpose, so a test can SIGKILL it in a chunk.

The real settings plus an app whose ready() makes every chunk repair sleep after it wrote its changes
and their audit rows, inside the chunk's transaction (STOCKLEDGER_TEST_REPAIR_SLEEP seconds, default
0.5). Nothing in the package changes; used by tests/concurrency/test_recompute_kill.py only.
"""

import os
import time

from django.apps import AppConfig

from stockledger.config.settings import *  # noqa: F403
from stockledger.config.settings import INSTALLED_APPS as _APPS


class SlowRepairConfig(AppConfig):
    name = "tests.concurrency"
    label = "slow_recompute"
    verbose_name = "test: slow recompute chunks (never in production)"

    def ready(self):
        from stockledger.reconcile.recompute import RunContext

        pause = float(os.environ.get("STOCKLEDGER_TEST_REPAIR_SLEEP", "0.5"))
        audit = RunContext.audit

        def slow_audit(self, changes):
            written = audit(self, changes)
            time.sleep(pause)
            return written

        RunContext.audit = slow_audit


INSTALLED_APPS = [*_APPS, "tests.concurrency.slow_recompute_settings.SlowRepairConfig"]
