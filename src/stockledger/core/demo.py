"""The demo data set: each app contributes a loader; each loader is idempotent (keyed on codes)."""

from importlib import import_module

LOADERS = [
    "stockledger.catalog.demo",
    "stockledger.stock.demo",
    "stockledger.pieces.demo",
    "stockledger.relief.demo",
    "stockledger.sales.demo",
]


def load_all(actor) -> list[str]:
    done = []
    for path in LOADERS:
        if msg := import_module(path).load(actor):
            done.append(msg)
    return done
