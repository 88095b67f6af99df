"""The registry of operation generators. Each module registers its operations on import; the seed step
keeps those whose API paths the server routes, so the operations of an app appear with its URLs.
A new app's operations: a module here, imported below."""

from . import engine, ledger, pipes, reconcile, relief, sales  # noqa: F401  (importing registers)
from .base import REGISTRY, ClientState, Operation, Request, register

__all__ = ["REGISTRY", "ClientState", "Operation", "Request", "register", "load_all"]


def load_all() -> dict[str, Operation]:
    """Every registered operation, by name."""
    return REGISTRY
