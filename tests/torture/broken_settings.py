"""Settings with one safeguard taken away, to prove the checker can fail (`make torture` runs it and
fails if the checker finds nothing). Nothing in the package changes: this module imports the real
settings and installs an app whose ready() patches, in this process only:

1. `stockledger.core.locking.lock` no longer locks (its code is swapped for a plain SELECT, so every
   `from ... import lock` sees it too): the read that checks a quantity and the write are no longer
   serialised per batch;
2. the engine writes batch quantities read-modify-write (absolute values computed from what it read)
   after its F() update, the lost-update bug the style guide warns about (InvenTree).

The database's CHECK constraints still refuse negative totals, so what the checker should see is lost
updates: ledger replay ≠ stored totals, a ledger that goes negative in replay, broken hash chains.
Use with PostgreSQL or MariaDB (SQLite's BEGIN IMMEDIATE serialises every writer anyway):

    python -m tests.torture.run --db postgres --settings tests.torture.broken_settings --expect-violations
"""

from django.apps import AppConfig

from stockledger.config.settings import *  # noqa: F403
from stockledger.config.settings import INSTALLED_APPS as _APPS


class LostUpdateConfig(AppConfig):
    name = "tests.torture"
    label = "torture_broken"
    verbose_name = "torture: safeguards removed (never in production)"

    def ready(self):
        from stockledger.core import locking
        from stockledger.stock import engine
        from stockledger.stock.models import Batch

        def lock(model, ids):  # same signature and globals as the real one, no FOR UPDATE
            wanted = sorted(set(ids))
            if not wanted:
                return {}
            return {row.pk: row for row in model._default_manager.filter(pk__in=wanted).order_by("pk")}

        locking.lock.__code__ = lock.__code__
        real_apply = engine.apply

        def apply(deltas, posting, **kw):
            entries = real_apply(deltas, posting, **kw)
            for b in {d.batch.pk: d.batch for d in deltas if d.batch is not None}.values():
                # apply() left the values it computed from its (now unlocked, maybe stale) read on b
                Batch.objects.filter(pk=b.pk).update(usable_qty=b.usable_qty, reserved_qty=b.reserved_qty)
            return entries

        engine.apply = apply


INSTALLED_APPS = [*_APPS, "tests.torture.broken_settings.LostUpdateConfig"]
