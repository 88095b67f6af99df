"""A tqdm progress bar for the CLI, only when stdout is a terminal (never in cron logs or tests)."""

import contextlib

from . import registry


@contextlib.contextmanager
def bar(stdout, scope, desc: str):
    """Yields a progress(chunk) callback, or None when stdout is not a TTY."""
    if not stdout.isatty():
        yield None
        return
    from tqdm import tqdm

    total = sum(p.count() for p, _ in registry.by_partition(registry.select(scope)))
    with tqdm(total=total, unit="id", desc=desc, leave=False) as t:
        yield lambda chunk: t.update(chunk.size)
