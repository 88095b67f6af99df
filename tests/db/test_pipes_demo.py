"""`stockledger demo` loads the pipe spec's examples once, in consistent states."""

import io

import pytest
from django.core.management import call_command

from stockledger.pieces.selectors import batch_detail
from stockledger.stock.models import Batch
from tests.db.test_pipes_support import D, assert_consistent

pytestmark = pytest.mark.django_db


def test_demo_loads_the_pipe_examples_once_and_consistently():
    call_command("demo", stdout=io.StringIO())
    yard = {"warehouse__code": "tarko-yard"}
    b123 = Batch.objects.get(batch_no="123", **yard)
    assert batch_detail(b123)["display"] == [
        "Batch #123 (HDPE OD=110, PN=8, PE=63) - Created: 2025-12-01",
        "Initial Quantity: 2,500m | Current Quantity: 2,300m",
        "Stock Records:",
        "- 4 Full Rolls (500m each) = 2,000m",
        "- 2 Cut Pieces (150m, 150m) = 300m",
        "Total Available: 2,300m",
    ]
    numbers = {no: Batch.objects.get(batch_no=no, **yard).usable_qty for no in ("456", "789", "999")}
    assert numbers == {"456": D(100), "789": D(1000), "999": D(200)}
    assert Batch.objects.filter(status="REVERTED", **yard).count() == 1
    assert sorted(
        Batch.objects.filter(origin="return", status="ACTIVE", **yard).values_list("usable_qty", flat=True)
    ) == [
        D(55),
        D(200),
        D(1500),
        D(1900),
    ]
    count = Batch.objects.count()
    call_command("demo", stdout=io.StringIO())
    assert Batch.objects.count() == count
    assert_consistent()
