"""The engine's services: the only code that changes stock quantities."""

from .movements import (
    batch_receive,
    issue_locked,
    receive,
    stock_adjust,
    stock_adjust_decide,
    stock_issue,
    stock_restore,
    stock_transfer,
)
from .postings import ledger_post, post_legs
from .reservations import (
    apply_reservations,
    consume_reservations,
    reservation_apply,
    reservation_consume,
    reservations_of,
)

__all__ = [
    "apply_reservations",
    "batch_receive",
    "consume_reservations",
    "issue_locked",
    "ledger_post",
    "post_legs",
    "receive",
    "reservation_apply",
    "reservation_consume",
    "reservations_of",
    "stock_adjust",
    "stock_adjust_decide",
    "stock_issue",
    "stock_restore",
    "stock_transfer",
]
