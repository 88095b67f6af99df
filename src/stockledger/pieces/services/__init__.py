"""Pipe services: every write to stock records, pieces and pipe operations goes through one of these.

Each public service authorises, then runs once per idempotency key in one transaction: lock (the
operation reverted → stock records → batches → inventory rows), check every rule, write, ledger rows
through the stock engine, audit.
"""

from .intake import production_create, return_create
from .outbound import dispatch_close, dispatch_create, scrap_create
from .reverts import dispatch_revert, return_revert, scrap_revert
from .transform import bundle_split, spares_combine, stock_cut

__all__ = [
    "bundle_split",
    "dispatch_close",
    "dispatch_create",
    "dispatch_revert",
    "production_create",
    "return_create",
    "return_revert",
    "scrap_create",
    "scrap_revert",
    "spares_combine",
    "stock_cut",
]
