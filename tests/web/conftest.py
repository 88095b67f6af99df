"""Fixtures of the web tests: one of everything (built through the services) and a way to see that a
refused form wrote nothing."""

import pytest

from stockledger.core.models import AuditLog, IdempotencyRecord
from stockledger.pieces.models import CutPiece, Operation, SparePiece, Stock
from stockledger.stock.models import Batch, LedgerEntry, Reservation

from .builders import build_world


@pytest.fixture
def world(make_user):
    return build_world(make_user)


def written() -> tuple[int, ...]:
    """Row counts of everything a service writes (a refused form must leave every one unchanged)."""
    return tuple(
        m.objects.count()
        for m in (LedgerEntry, AuditLog, IdempotencyRecord, Batch, Reservation, Operation, Stock, CutPiece, SparePiece)
    )


@pytest.fixture
def nothing_written():
    """with nothing_written(): ... — fails if any row was added inside the block."""

    class Guard:
        def __enter__(self):
            self.before = written()
            return self

        def __exit__(self, *exc):
            if exc[0] is None:
                assert written() == self.before, "a refused form wrote rows"
            return False

    return Guard
