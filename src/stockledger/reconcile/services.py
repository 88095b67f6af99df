"""The reconcile app's public entry points (CLI, API, tests and other apps import from here)."""

from .recompute import NothingToResume, RunContext, recompute, system_user
from .registry import Chunk, Drift, Invariant, Partition, Repaired, register
from .runlock import RecomputeRunning
from .verify import Report, verify

__all__ = [
    "Chunk",
    "Drift",
    "Invariant",
    "NothingToResume",
    "Partition",
    "RecomputeRunning",
    "Repaired",
    "Report",
    "RunContext",
    "recompute",
    "register",
    "system_user",
    "verify",
]
