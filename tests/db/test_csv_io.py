"""CSV import and export (`stockledger import` / `export`) on every backend: quantities, ledger, audit,
refusals with line numbers that write nothing, the hash chain of imported rows, and round trips."""

import csv
import io
from datetime import date
from decimal import Decimal

import pytest
from django.core.management import call_command
from django.core.management.base import CommandError
from django.db import transaction

from stockledger.core.models import AuditLog
from stockledger.core.roles import Role
from stockledger.stock import services as svc
from stockledger.stock.chain import entry_hash
from stockledger.stock.models import Batch, Inventory, LedgerEntry, StockDocument
from tests import factories as f
from tests.invariants import assert_invariants

pytestmark = pytest.mark.django_db
D = Decimal
BATCH_HEADER = "item_sku,warehouse_code,qty,batch_no,batch_code,origin,batch_date,expiry_date"
LEDGER_HEADER = "item_sku,warehouse_code,holder_code,qty_delta,kind,reason,created_at,reference"


@pytest.fixture
def cat():
    """Reference data: two warehouses, a depot, a customer, items in metres / pieces / expiring / cylinders."""
    return {
        "wh": f.warehouse(code="main"),
        "wh2": f.warehouse(code="north"),
        "depot": f.warehouse(code="depot-1", kind="depot"),
        "cust": f.customer(code="acme"),
        "metres": f.item(f.product_type(unit="metre", decimals=3), sku="PIPE-63"),
        "pieces": f.item(f.product_type(unit="piece"), sku="TARP"),
        "food": f.item(can_expire=True, sku="RICE"),
        "cyl": f.item(f.product_type(unit="cylinder", batch_tracked=False), sku="LPG-12"),
    }


def write(tmp_path, header, *lines, name="in.csv"):
    path = tmp_path / name
    path.write_text("\n".join([header, *lines]) + "\n", encoding="utf-8")
    return path


def run(*args, stdout=None, **options):
    out, err = stdout or io.StringIO(), io.StringIO()
    call_command(*[str(a) for a in args], stdout=out, stderr=err, **options)
    return out.getvalue(), err.getvalue()


def rejected(*args, **options) -> tuple[CommandError, str]:
    err = io.StringIO()
    with pytest.raises(CommandError) as info:
        call_command(*[str(a) for a in args], stdout=io.StringIO(), stderr=err, **options)
    return info.value, err.getvalue()


def counts():
    return tuple(m.objects.count() for m in (Batch, LedgerEntry, AuditLog, Inventory, StockDocument))


def rows(text: str) -> list[dict]:
    return list(csv.DictReader(io.StringIO(text)))


def post(actor, kind, *legs, **kw):
    """ledger_post with legs given as (item, warehouse, holder, qty_delta)."""
    legs = [
        {"item_id": i.pk, "warehouse_id": w and w.pk, "holder_id": h and h.pk, "qty_delta": q} for i, w, h, q in legs
    ]
    return svc.ledger_post(actor=actor, kind=kind, legs=legs, **kw)


def receive(actor, item, warehouse, qty, **kw):
    return svc.batch_receive(actor=actor, item_id=item.pk, warehouse_id=warehouse.pk, qty=qty, **kw)


# --- import batches ------------------------------------------------------------------------------


def test_import_batches_creates_batches_inventory_ledger_and_audit(cat, tmp_path):
    path = write(
        tmp_path,
        BATCH_HEADER,
        "PIPE-63,main,1250.125,LOT-1,HD-63-1,,2026-01-05,",
        "PIPE-63,main,500,LOT-2,,production,,",
        "TARP,north,40,,,receipt,,",
        "RICE,north,12,R-9,,,2026-02-01,2027-02-01",
    )
    out, _ = run("import", "batches", path)
    lot1 = Batch.objects.get(batch_no="LOT-1")
    assert (lot1.initial_qty, lot1.usable_qty, lot1.origin) == (D("1250.125"), D("1250.125"), "opening")
    assert lot1.batch_code == "HD-63-1"
    assert lot1.batch_date == date(2026, 1, 5) and lot1.expiry_date is None
    assert Batch.objects.get(batch_no="LOT-2").origin == "production"
    tarp = Batch.objects.get(item=cat["pieces"])
    assert tarp.batch_no == str(tarp.pk) and tarp.usable_qty == 40  # numbered like any new batch
    assert Batch.objects.get(batch_no="R-9").expiry_date == date(2027, 2, 1)
    assert Inventory.objects.get(item=cat["metres"], warehouse=cat["wh"]).usable_qty == D("1750.125")
    assert Inventory.objects.get(item=cat["food"], warehouse=cat["wh2"], holder=None).usable_qty == 12
    doc = StockDocument.objects.get(kind="receipt")
    entries = LedgerEntry.objects.filter(doc_type="import", doc_id=str(doc.pk))
    assert sorted(e.qty_delta for e in entries) == [D(12), D(40), D(500), D("1250.125")]
    assert {e.kind for e in entries} == {"RECEIVE"} and {e.actor.username for e in entries} == {"system"}
    assert not entries[0].actor.has_usable_password()
    assert AuditLog.objects.filter(action="batch.import", object_type="batch").count() == 4
    assert AuditLog.objects.filter(action="inventory.import", object_type="inventory").count() == 4
    assert AuditLog.objects.get(object_type="stock_document").after["batches"] == 4
    assert "Imported 4 batches from" in out and "into 3 inventory rows" in out and f"document #{doc.pk}" in out
    assert_invariants()


def test_every_bad_batch_line_is_reported_with_its_line_number_and_nothing_is_imported(cat, tmp_path):
    path = write(
        tmp_path,
        BATCH_HEADER,
        "PIPE-63,main,10,OK-1,,,,",  # 2: good, but not imported either
        "NOPE,main,10,,,,,",  # 3
        "PIPE-63,nowhere,10,,,,,",  # 4
        "TARP,main,0,,,,,",  # 5
        "TARP,main,-3,,,,,",  # 6
        "TARP,main,5,,,,2026-13-01,",  # 7
        "RICE,main,5,,,,2026-05-01,2026-04-30",  # 8
        "RICE,main,5,,,,,",  # 9
        "TARP,main,5,,,gift,,",  # 10
        "LPG-12,main,5,,,,,",  # 11
        "TARP,main,5",  # 12
    )
    before = counts()
    err, stderr = rejected("import", "batches", path)
    assert err.returncode == 1 and str(err) == "in.csv: 10 bad lines; nothing was imported."
    for expected in [
        "line 3: item_sku: unknown item 'NOPE'",
        "line 4: warehouse_code: unknown warehouse 'nowhere'",
        "line 5: qty: Quantity must be greater than 0",
        "line 6: qty: Quantity must be greater than 0",
        "line 7: batch_date: '2026-13-01' is not a date",
        "line 8: expiry_date: 2026-04-30 is before the batch date 2026-05-01",
        "line 9: expiry_date: required, RICE expires",
        "line 10: origin: 'gift' is not one of",
        "line 11: item_sku: LPG-12 is not batch-tracked",
        "line 12: 3 values for 8 columns",
    ]:
        assert expected in stderr
    assert "line 2:" not in stderr
    assert counts() == before
    assert_invariants()


def test_quantities_with_more_decimals_than_the_unit_are_rejected(cat, tmp_path):
    path = write(tmp_path, BATCH_HEADER, "PIPE-63,main,1.125,,,,,", "PIPE-63,main,1.1255,,,,,", "TARP,main,1.5,,,,,")
    before = counts()
    err, stderr = rejected("import", "batches", path)
    assert "2 bad lines" in str(err)
    assert "line 3: qty: A quantity in metre allows at most 3 decimal places." in stderr
    assert "line 4: qty: A quantity in piece allows no decimals." in stderr
    assert counts() == before
    assert_invariants()


def test_duplicate_batch_numbers_in_the_file_or_the_database_are_rejected(cat, tmp_path):
    run("import", "batches", write(tmp_path, BATCH_HEADER, "TARP,main,5,LOT-1,,,,", name="first.csv"))
    path = write(
        tmp_path,
        BATCH_HEADER,
        "TARP,main,5,LOT-1,,,,",  # 2: already in the database
        "TARP,main,5,LOT-2,,,,",  # 3
        "PIPE-63,main,5,LOT-2,,,,",  # 4: twice in this file for this warehouse
        "TARP,north,5,LOT-1,,,,",  # 5: the same number in another warehouse is fine
    )
    before = counts()
    err, stderr = rejected("import", "batches", path)
    assert "2 bad lines" in str(err)
    assert "line 2: batch_no: LOT-1 already exists in this warehouse" in stderr
    assert "line 4: batch_no: LOT-2 appears twice for this warehouse (first on line 3)" in stderr
    assert "line 3:" not in stderr and "line 5:" not in stderr
    assert counts() == before
    assert_invariants()


def test_header_is_required_and_unknown_columns_are_rejected(cat, tmp_path):
    err, stderr = rejected("import", "batches", write(tmp_path, BATCH_HEADER + ",colour", "TARP,main,5,,,,,,red"))
    assert "line 1: unknown column(s): colour" in stderr
    err, stderr = rejected("import", "batches", write(tmp_path, "item_sku,qty", "TARP,5"))
    assert "line 1: missing column(s): warehouse_code" in stderr
    path = tmp_path / "empty.csv"
    path.write_text("")
    err, stderr = rejected("import", "batches", path)
    assert "line 1: the file is empty" in stderr
    assert Batch.objects.count() == 0
    assert_invariants()


def test_import_acts_as_the_named_user_who_must_be_allowed(cat, tmp_path, make_user):
    path = write(tmp_path, BATCH_HEADER, "TARP,main,5,,,,,")
    make_user(Role.INVENTORY_CLERK, username="clerk")
    make_user(Role.LOGISTICS_MANAGER, username="lm-north", warehouses=[cat["wh2"]])
    make_user(Role.LOGISTICS_MANAGER, username="lm")
    assert "stock.import" in str(rejected("import", "batches", path, user="clerk")[0])
    assert "not assigned" in str(rejected("import", "batches", path, user="lm-north")[0])
    assert "No user named 'ghost'" in str(rejected("import", "batches", path, user="ghost")[0])
    assert Batch.objects.count() == 0
    run("import", "batches", path, user="lm")
    assert LedgerEntry.objects.get().actor.username == "lm"
    assert_invariants()


def test_dry_run_checks_and_rolls_everything_back(cat, tmp_path):
    before = counts()
    out, _ = run("import", "batches", write(tmp_path, BATCH_HEADER, "TARP,main,5,,,,,"), dry_run=True)
    assert out.startswith("Dry run: ") and "in.csv is valid; 1 batch into 1 inventory row would be imported" in out
    assert counts() == before
    assert not Batch.objects.exists()
    assert_invariants()


# --- import ledger -------------------------------------------------------------------------------


def test_import_ledger_posts_depot_and_customer_held_keys(cat, tmp_path, make_user):
    cyl, depot, cust = cat["cyl"], cat["depot"], cat["cust"]
    post(make_user(Role.SALES), "LOAD", (cyl, depot, None, 5))
    head = Inventory.objects.get(item=cyl, warehouse=depot).ledger_head
    path = write(
        tmp_path,
        LEDGER_HEADER,
        "LPG-12,depot-1,,20,LOAD,truck 7,2026-03-01T08:00:00+02:00,",
        "LPG-12,depot-1,,-4,DELIVERY,,,INV-1001",
        "LPG-12,,acme,4,delivery,,,INV-1001",
        "LPG-12,,acme,-1,RETURN,empty back,2026-03-02T09:30:00.250000,",
        "LPG-12,depot-1,,-2,ADJUSTMENT,count 2026-03,,",
    )
    out, _ = run("import", "ledger", path, chunk_size=2)
    assert Inventory.objects.get(item=cyl, warehouse=depot, holder=None).usable_qty == 19
    held = Inventory.objects.get(item=cyl, warehouse=None, holder=cust)
    assert (held.usable_qty, held.version) == (3, 2)
    doc = StockDocument.objects.get(kind="posting", reason="CSV import of in.csv")
    assert doc.lines == [{"file": "in.csv", "lines": 5, "keys": 2}]
    entries = list(LedgerEntry.objects.filter(doc_type="import").order_by("id"))
    assert [e.doc_id for e in entries] == [str(doc.pk), "INV-1001", "INV-1001", str(doc.pk), str(doc.pk)]
    assert [e.kind for e in entries] == ["LOAD", "DELIVERY", "DELIVERY", "RETURN", "ADJUSTMENT"]
    assert entries[0].created_at.isoformat() == "2026-03-01T06:00:00+00:00" and entries[0].reason == "truck 7"
    assert entries[3].created_at.isoformat() == "2026-03-02T09:30:00.250000+00:00"  # TIME_ZONE is UTC
    assert entries[0].prev_hash == head  # the chain goes on from the key's head
    audits = {a.object_id: a for a in AuditLog.objects.filter(action="inventory.import")}
    moved = {k: (a.before["usable_qty"], a.after["usable_qty"], a.after["lines"]) for k, a in audits.items()}
    assert moved == {
        str(Inventory.objects.get(item=cyl, warehouse=depot).pk): ("5.000", "19.000", 3),
        str(held.pk): ("0.000", "3.000", 2),
    }
    assert AuditLog.objects.get(action="ledger.import").after == {"file": "in.csv", "lines": 5, "entries": 5}
    assert "Imported 5 ledger entries from" in out and "into 2 inventory rows" in out
    assert_invariants()


def test_a_key_going_negative_at_any_line_is_reported_there_and_nothing_is_imported(cat, tmp_path, make_user):
    cyl, depot = cat["cyl"], cat["depot"]
    post(make_user(Role.SALES), "LOAD", (cyl, depot, None, 5))
    path = write(
        tmp_path,
        LEDGER_HEADER,
        "LPG-12,depot-1,,-3,DELIVERY,,,",  # 2: 5 -> 2
        "LPG-12,depot-1,,1,RETURN,,,",  # 3: 3
        "LPG-12,depot-1,,-4,DELIVERY,,,",  # 4: -1, although the file ends positive
        "LPG-12,depot-1,,10,LOAD,,,",  # 5: 9
        "LPG-12,,acme,-1,RETURN,,,",  # 6: a customer holding nothing
    )
    before = counts()
    err, stderr = rejected("import", "ledger", path)
    assert err.returncode == 1 and "2 bad lines" in str(err)
    assert "line 4: qty_delta: LPG-12 at depot-1 held by - would go below 0: 3 + (-4) = -1" in stderr
    assert "line 6: qty_delta: LPG-12 at - held by acme would go below 0: 0 + (-1) = -1" in stderr
    assert counts() == before
    assert_invariants()


def test_ledger_line_errors_are_listed_up_to_50_then_counted(cat, tmp_path):
    lines = ["LPG-12,depot-1,,1,LOAD,,,"] + [f"LPG-12,depot-1,,{i},BOGUS,,," for i in range(1, 61)]
    lines += ["TARP,depot-1,,1,LOAD,,,", "LPG-12,,,1.5,LOAD,,yesterday,", "LPG-12,depot-1,,0,ADJUSTMENT,,,"]
    err, stderr = rejected("import", "ledger", write(tmp_path, LEDGER_HEADER, *lines))
    assert str(err) == "in.csv: 63 bad lines; nothing was imported."
    assert sum(x.startswith("line ") for x in stderr.splitlines()) == 50
    assert "... and 13 more bad lines (not listed)" in stderr
    assert "line 3: kind: 'BOGUS' is not one of ADJUSTMENT, COLLECTION" in stderr
    err, stderr = rejected("import", "ledger", write(tmp_path, LEDGER_HEADER, *lines[-3:]))
    assert "line 2: item_sku: TARP is batch-tracked" in stderr
    assert "line 3: warehouse_code, holder_code: a line needs a warehouse" in stderr
    assert "A quantity in cylinder allows no decimals." in stderr and "created_at: 'yesterday'" in stderr
    assert "line 4: qty_delta: must not be zero; reason: required for ADJUSTMENT" in stderr
    assert LedgerEntry.objects.count() == 0
    assert_invariants()


def test_imported_ledger_rows_chain_per_key_across_imports_and_postings(cat, tmp_path, make_user):
    cyl, depot = cat["cyl"], cat["depot"]
    first = write(tmp_path, LEDGER_HEADER, *["LPG-12,depot-1,,3,LOAD,,,"] * 4, "LPG-12,,acme,2,LOAD,,,")
    run("import", "ledger", first)
    post(make_user(Role.SALES), "DUMP", (cyl, depot, None, -1))
    run("import", "ledger", write(tmp_path, LEDGER_HEADER, "LPG-12,depot-1,,-11,SALE,,,", name="2.csv"), chunk_size=1)
    entries = list(LedgerEntry.objects.filter(item=cyl, warehouse=depot).order_by("id"))
    prev = ""
    for e in entries:
        assert e.prev_hash == prev and e.hash == entry_hash(prev, e)
        prev = e.hash
    row = Inventory.objects.get(item=cyl, warehouse=depot)
    assert (len(entries), row.usable_qty, row.ledger_head) == (6, 0, prev)
    tampered = entries[2]
    tampered.qty_delta = D(30)  # the check can fail: a changed row no longer matches its hash
    assert entry_hash(tampered.prev_hash, tampered) != tampered.hash
    assert_invariants()


def test_many_keys_are_locked_and_updated_in_chunks(cat, tmp_path, monkeypatch):
    from stockledger.stock.csvio import common, ledger

    monkeypatch.setattr(common, "IN_CHUNK", 2)
    monkeypatch.setattr(ledger, "UPDATE_CHUNK", 2)
    customers = [f.customer(code=f"cust-{i}") for i in range(5)]
    lines = [f"LPG-12,,{c.code},{i + 1},LOAD,,," for i, c in enumerate(customers)] + ["LPG-12,depot-1,,7,LOAD,,,"]
    run("import", "ledger", write(tmp_path, LEDGER_HEADER, *lines), chunk_size=4)
    got = dict(Inventory.objects.filter(item=cat["cyl"]).values_list("holder__code", "usable_qty"))
    assert got == {None: 7, **{c.code: i + 1 for i, c in enumerate(customers)}}
    assert set(Inventory.objects.filter(item=cat["cyl"]).values_list("version", flat=True)) == {2}
    assert_invariants()


def test_balance_is_checked_again_under_the_lock(cat, tmp_path, monkeypatch, make_user):
    from stockledger.stock.csvio import ledger

    cyl, depot = cat["cyl"], cat["depot"]
    sales = make_user(Role.SALES)
    post(sales, "LOAD", (cyl, depot, None, 5))
    real = ledger.lock_keys

    def another_writer_first(keys):  # a sale lands between the check and the import's lock
        post(sales, "SALE", (cyl, depot, None, -2))
        return real(keys)

    monkeypatch.setattr(ledger, "lock_keys", another_writer_first)
    before = counts()
    err, stderr = rejected("import", "ledger", write(tmp_path, LEDGER_HEADER, "LPG-12,depot-1,,-4,DELIVERY,,,"))
    assert "line 2: qty_delta: LPG-12 at depot-1 held by - would go below 0: 3 + (-4) = -1" in stderr
    assert counts() == before  # the import's transaction rolled back, the sale inside it too
    assert_invariants()


# --- export and round trips ----------------------------------------------------------------------


def test_export_batches_reimports_into_an_empty_database(cat, tmp_path, make_user):
    clerk = make_user(Role.INVENTORY_CLERK)
    empty = transaction.savepoint()  # reference data only: rolling back to here empties the stock tables
    a = receive(clerk, cat["metres"], cat["wh"], "120.5", batch_no="A-1")["batch_id"]
    receive(clerk, cat["pieces"], cat["wh2"], 9, origin="production")
    receive(clerk, cat["food"], cat["wh"], 3, batch_date=date(2026, 1, 1), expiry_date=date(2027, 1, 1))
    gone = receive(clerk, cat["pieces"], cat["wh"], 2)["batch_id"]
    svc.stock_issue(actor=clerk, lines=[{"batch_id": a, "qty": "20.25"}, {"batch_id": gone, "qty": 2}])
    first, _ = run("export", "batches", output=tmp_path / "batches.csv")
    assert first == f"Exported 3 rows of batches to {tmp_path / 'batches.csv'}.\n"
    exported = (tmp_path / "batches.csv").read_text()
    top = rows(exported)[0]
    assert (top["item_sku"], top["qty"], top["usable_qty"], top["reserved_qty"]) == ("PIPE-63", "100.25", "100.25", "0")
    with_empty, _ = run("export", "batches", include_empty=True)
    assert len(rows(with_empty)) == 4
    transaction.savepoint_rollback(empty)
    assert not Batch.objects.exists() and not LedgerEntry.objects.exists()

    run("import", "batches", tmp_path / "batches.csv")
    again, _ = run("export", "batches")

    def strip(text):
        return [{k: v for k, v in r.items() if k != "id"} for r in rows(text)]

    assert strip(again) == strip(exported)
    assert_invariants()


def test_export_ledger_reimports_its_non_batched_rows(cat, tmp_path, make_user, monkeypatch):
    from stockledger.stock.csvio import export

    monkeypatch.setattr(export, "CHUNK", 2)  # several pages / fetches for a few rows
    cyl, depot, cust = cat["cyl"], cat["depot"], cat["cust"]
    sales, clerk = make_user(Role.SALES), make_user(Role.INVENTORY_CLERK)
    empty = transaction.savepoint()
    post(sales, "LOAD", (cyl, depot, None, 10))
    post(sales, "DELIVERY", (cyl, depot, None, -4), (cyl, None, cust, 4), reason="order 7")
    receive(clerk, cat["pieces"], cat["wh"], 3)
    exported, _ = run("export", "ledger", non_batched=True)
    everything, _ = run("export", "ledger")
    inventory, _ = run("export", "inventory", item="LPG-12")
    (tmp_path / "ledger.csv").write_text(exported)
    (tmp_path / "all.csv").write_text(everything)
    assert len(rows(everything)) == 4 and rows(everything)[-1]["batch_no"]
    assert [r["qty_delta"] for r in rows(exported)] == ["10", "-4", "4"]
    assert rows(exported)[1]["actor"] == sales.username and rows(exported)[1]["reason"] == "order 7"
    times = list(LedgerEntry.objects.filter(batch=None).order_by("id").values_list("created_at", flat=True))
    transaction.savepoint_rollback(empty)

    err, stderr = rejected("import", "ledger", tmp_path / "all.csv")
    assert "line 5: item_sku: TARP is batch-tracked" in stderr and "batch_no: a batch's ledger row" in stderr
    run("import", "ledger", tmp_path / "ledger.csv")
    again, _ = run("export", "ledger")
    keep = ("item_sku", "warehouse_code", "holder_code", "qty_delta", "kind", "reason", "created_at", "reference")
    assert [[r[k] for k in keep] for r in rows(again)] == [[r[k] for k in keep] for r in rows(exported)]
    assert {r["doc_type"] for r in rows(again)} == {"import"}
    assert list(LedgerEntry.objects.order_by("id").values_list("created_at", flat=True)) == times  # to the µs
    inventory_again, _ = run("export", "inventory", item="LPG-12")
    assert sorted(str({**r, "last_updated": ""}) for r in rows(inventory_again)) == sorted(
        str({**r, "last_updated": ""}) for r in rows(inventory)
    )
    assert_invariants()


def test_export_filters_and_refuses_unknown_codes(cat, tmp_path):
    run(
        "import",
        "batches",
        write(tmp_path, BATCH_HEADER, "TARP,main,5,,,,,", "TARP,north,6,,,,,", "PIPE-63,main,7,,,,,"),
    )
    out, err = run("export", "batches", item="TARP", warehouse="north")
    assert [(r["item_sku"], r["warehouse_code"], r["qty"]) for r in rows(out)] == [("TARP", "north", "6")]
    assert err == "Exported 1 row of batches.\n"  # the summary goes to stderr when stdout carries the CSV
    out, _ = run("export", "inventory", warehouse="main")
    got = sorted((r["item_sku"], r["usable_qty"], r["holder_code"]) for r in rows(out))
    assert got == [("PIPE-63", "7", ""), ("TARP", "5", "")]
    assert "No item with SKU 'NOPE'" in str(rejected("export", "ledger", item="NOPE")[0])
    assert "No warehouse with code 'x'" in str(rejected("export", "inventory", warehouse="x")[0])
    assert_invariants()


def test_progress_bar_on_a_terminal_and_a_summary_line_always(cat, tmp_path):
    class Terminal(io.StringIO):
        def isatty(self):
            return True

    out, _ = run("import", "ledger", write(tmp_path, LEDGER_HEADER, "LPG-12,depot-1,,2,LOAD,,,"), stdout=Terminal())
    assert "checking" in out and "importing" in out and "100%" in out and "1/1" in out
    assert out.rstrip().splitlines()[-1].startswith("Imported 1 ledger entry from")
    out, _ = run("import", "batches", write(tmp_path, BATCH_HEADER, "TARP,main,5,,,,,", name="b.csv"))
    assert "%" not in out and out.count("\n") == 1 and out.startswith("Imported 1 batch from")
    assert_invariants()
