"""Pipe screens with Django's test client: production, return, cut, split, combine, dispatch (selection,
review, confirm, stale versions), scrap, every revert, and the batch page's inventory detail view."""

from decimal import Decimal

import pytest

from stockledger.core.roles import Role
from stockledger.pieces import services as pipes
from stockledger.pieces.models import CutPiece, Operation, PieceStatus, SparePiece, Stock
from stockledger.stock.models import Batch
from tests import factories as f

from .builders import bundles, client_for, cuts, hdpe, produce, record, rolls, spares, sprinkler

pytestmark = pytest.mark.django_db
D = Decimal


@pytest.fixture
def admin(make_user):
    return make_user(Role.ADMIN)


@pytest.fixture
def clerk(make_user):
    return make_user(Role.INVENTORY_CLERK)


@pytest.fixture
def pipe(admin):
    return hdpe(admin)


@pytest.fixture
def spr(admin):
    return sprinkler(admin)


@pytest.fixture
def buyer():
    return f.customer(name="Agro Supplies")


@pytest.fixture
def rolls_batch(clerk, pipe):
    """The spec's Batch #123: 5 full rolls of 500 m."""
    return produce(clerk, pipe, rolls(5, 500), batch_no="123")


def text(response) -> str:
    return response.content.decode()


# --- production ----------------------------------------------------------------------------------


def test_production_form_lists_the_pipe_variants_and_blank_lines(clerk, pipe, spr):
    page = text(client_for(clerk).get("/pipes/production/"))
    assert "HDPE OD=110, PN=8, PE=63, Brand=Tarko" in page and "Sprinkler OD=20, PN=6, Type=L, Brand=Tarko" in page
    assert 'name="line-1-stock_type"' in page and 'name="idempotency_key"' in page


def test_production_of_rolls_and_cut_pieces_in_one_entry_makes_one_batch(clerk, pipe):
    c = client_for(clerk)
    response = c.post(
        "/pipes/production/",
        {
            "item": pipe.pk,
            "line-0-stock_type": "FULL_ROLL",
            "line-0-count": "5",
            "line-0-size": "500",
            "line-1-stock_type": "CUT_ROLL",
            "line-1-lengths": "200, 150 150",
            "line-2-stock_type": "",
        },
    )
    batch = Batch.objects.get(item=pipe)
    assert response.status_code == 302 and response["Location"] == f"/batches/{batch.pk}/"
    assert batch.usable_qty == D(3000)
    page = text(c.get(response["Location"]))
    assert "Production PRD-" in page
    assert "- 5 Full Rolls (500m each) = 2,500m" in page
    assert "- 3 Cut Pieces (200m, 150m, 150m) = 500m" in page
    assert "Total Available: 3,000m" in page
    assert "2 × 150 m" in page and "1 × 200 m" in page  # the pieces grouped by length


def test_production_of_bundles_and_spares(clerk, spr):
    c = client_for(clerk)
    response = c.post(
        "/pipes/production/",
        {
            "item": spr.pk,
            "line-0-stock_type": "BUNDLE",
            "line-0-count": "3",
            "line-0-size": "50",
            "line-1-stock_type": "SPARE",
            "line-1-count": "25",
        },
    )
    page = text(c.get(response["Location"]))
    assert "- 3 Bundles (50 pieces each) = 150 pieces" in page and "- 25 Spare Pieces = 25 pieces" in page
    assert "Total Available: 175 pieces" in page


def test_a_bad_production_shows_the_engines_message_in_place_and_writes_nothing(clerk, pipe, nothing_written):
    with nothing_written():
        response = client_for(clerk).post(
            "/pipes/production/",
            {"item": pipe.pk, "line-0-stock_type": "FULL_ROLL", "line-0-count": "0", "line-0-size": "500"},
        )
    page = text(response)
    assert response.status_code == 400
    assert 'role="alert"' in page and "Quantity must be greater than 0" in page
    assert 'value="500"' in page  # what was typed is still there
    assert "Nothing was saved." in page


def test_a_production_of_the_wrong_form_for_the_variant_is_refused(clerk, spr, nothing_written):
    with nothing_written():
        response = client_for(clerk).post(
            "/pipes/production/",
            {"item": spr.pk, "line-0-stock_type": "FULL_ROLL", "line-0-count": "1", "line-0-size": "100"},
        )
    assert response.status_code == 400 and "BUNDLE, SPARE" in text(response)


def test_add_a_line_without_javascript_keeps_what_was_typed(clerk, pipe, nothing_written):
    with nothing_written():
        response = client_for(clerk).post(
            "/pipes/production/",
            {"item": pipe.pk, "line-0-stock_type": "FULL_ROLL", "line-0-count": "4", "add_line": "1"},
        )
    page = text(response)
    assert response.status_code == 200 and 'value="4"' in page and 'name="line-1-count"' in page


def test_add_a_line_with_htmx_returns_one_row_and_the_next_button(clerk):
    page = text(client_for(clerk).get("/pipes/lines/row/?kind=return&n=3", HTTP_HX_REQUEST="true"))
    assert "<html" not in page
    assert 'name="line-3-item"' in page and 'name="line-3-stock_type"' in page
    assert 'hx-swap-oob="true"' in page and "n=4" in page


def test_a_double_submit_of_the_same_form_records_one_production(clerk, pipe):
    c = client_for(clerk)
    form = {"item": pipe.pk, "line-0-stock_type": "FULL_ROLL", "line-0-count": "1", "line-0-size": "100"}
    form["idempotency_key"] = "form-key-1"
    first, second = c.post("/pipes/production/", form), c.post("/pipes/production/", form)
    assert first["Location"] == second["Location"]
    assert Batch.objects.filter(item=pipe).count() == 1


# --- return --------------------------------------------------------------------------------------


def test_a_return_of_several_variants_makes_one_new_batch_per_variant(clerk, pipe, spr, buyer):
    c = client_for(clerk)
    response = c.post(
        "/pipes/returns/new/",
        {
            "customer": buyer.pk,
            "line-0-item": pipe.pk,
            "line-0-stock_type": "FULL_ROLL",
            "line-0-count": "2",
            "line-0-size": "500",
            "line-1-item": pipe.pk,
            "line-1-stock_type": "CUT_ROLL",
            "line-1-lengths": "200,150,150",
            "line-2-item": spr.pk,
            "line-2-stock_type": "BUNDLE",
            "line-2-count": "1",
            "line-2-size": "50",
            "line-3-item": spr.pk,
            "line-3-stock_type": "SPARE",
            "line-3-count": "5",
        },
    )
    assert response.status_code == 302
    op = Operation.objects.get(kind=Operation.Kind.RETURN)
    assert response["Location"] == f"/pipes/operations/{op.pk}/"
    assert sorted(Batch.objects.values_list("usable_qty", flat=True)) == [D(55), D(1500)]
    assert "Return RET-" in text(c.get(response["Location"]))


def test_a_bad_return_line_is_shown_on_its_row(clerk, pipe, nothing_written):
    with nothing_written():
        response = client_for(clerk).post(
            "/pipes/returns/new/",
            {"line-0-item": pipe.pk, "line-0-stock_type": "FULL_ROLL", "line-0-count": "2"},
        )
    page = text(response)
    assert response.status_code == 400
    assert "a length in metres greater than 0 is required" in page
    assert 'class="line has-error"' in page


# --- cut, split, combine -------------------------------------------------------------------------


def test_cut_a_full_roll_into_two_pieces(clerk, rolls_batch):
    full = record(rolls_batch["batch_id"], "FULL_ROLL")
    c = client_for(clerk)
    form = text(c.get(f"/pipes/stock/{full.pk}/cut/"))
    assert "one roll of <strong>500 m</strong>" in form and f'name="version" value="{full.version}"' in form
    response = c.post(
        f"/pipes/stock/{full.pk}/cut/", {"piece1_length": "200", "piece2_length": "300", "version": full.version}
    )
    page = text(c.get(response["Location"]))
    assert "- 4 Full Rolls (500m each) = 2,000m" in page and "- 2 Cut Pieces (200m, 300m) = 500m" in page
    assert "Total Available: 2,500m" in page  # a cut transforms, it never consumes


def test_cut_an_existing_cut_piece(clerk, pipe):
    b = produce(clerk, pipe, cuts(200, 300))
    cut = record(b["batch_id"], "CUT_ROLL")
    piece = CutPiece.objects.get(stock=cut, length_meters=300)
    c = client_for(clerk)
    assert "cut piece #" in text(c.get(f"/pipes/stock/{cut.pk}/cut/?piece={piece.pk}"))
    c.post(f"/pipes/stock/{cut.pk}/cut/", {"piece": piece.pk, "piece1_length": "150", "piece2_length": "150"})
    assert "- 3 Cut Pieces (200m, 150m, 150m) = 500m" in text(c.get(f"/batches/{b['batch_id']}/"))


def test_a_cut_that_does_not_add_up_is_refused_in_place(clerk, rolls_batch, nothing_written):
    full = record(rolls_batch["batch_id"], "FULL_ROLL")
    with nothing_written():
        response = client_for(clerk).post(
            f"/pipes/stock/{full.pk}/cut/", {"piece1_length": "200", "piece2_length": "200", "version": full.version}
        )
    assert response.status_code == 400 and "must add up to the source" in text(response)


def test_a_cut_from_a_stale_page_gets_the_conflict_and_a_reload_link(clerk, rolls_batch, nothing_written):
    full = record(rolls_batch["batch_id"], "FULL_ROLL")
    stale = full.version
    pipes.stock_cut(actor=clerk, stock_id=full.pk, piece1_length=100, piece2_length=400)  # someone else
    with nothing_written():
        response = client_for(clerk).post(
            f"/pipes/stock/{full.pk}/cut/", {"piece1_length": "200", "piece2_length": "300", "version": stale}
        )
    page = text(response)
    assert response.status_code == 409
    assert "Batch was modified, please retry" in page
    assert f"Stock record {full.pk} was changed by someone else since this page was shown" in page
    assert "Reload this page" in page


def test_split_one_bundle_into_spares(clerk, spr):
    b = produce(clerk, spr, bundles(3, 50))
    bundle = record(b["batch_id"], "BUNDLE")
    c = client_for(clerk)
    assert "Split one bundle" in text(c.get(f"/pipes/stock/{bundle.pk}/split/"))
    response = c.post(f"/pipes/stock/{bundle.pk}/split/", {"version": bundle.version})
    page = text(c.get(response["Location"]))
    assert "- 2 Bundles (50 pieces each) = 100 pieces" in page and "- 50 Spare Pieces = 50 pieces" in page


def test_combine_spares_into_a_bundle_of_any_size(clerk, spr):
    b = produce(clerk, spr, spares(75))
    spare = record(b["batch_id"], "SPARE")
    c = client_for(clerk)
    response = c.post(f"/pipes/stock/{spare.pk}/combine/", {"bundle_size": "50", "version": spare.version})
    page = text(c.get(response["Location"]))
    assert "- 25 Spare Pieces = 25 pieces" in page and "- 1 Bundle (50 pieces each) = 50 pieces" in page


def test_combining_spares_that_do_not_fill_whole_bundles_is_refused(clerk, spr, nothing_written):
    b = produce(clerk, spr, spares(30))
    spare = record(b["batch_id"], "SPARE")
    with nothing_written():
        response = client_for(clerk).post(f"/pipes/stock/{spare.pk}/combine/", {"bundle_size": "20", "quantity": "30"})
    assert response.status_code == 400 and "30 spare pieces do not make whole bundles of 20" in text(response)


def test_a_reader_sees_the_inventory_detail_but_no_operations(make_user, rolls_batch):
    page = text(client_for(make_user(Role.READER)).get(f"/batches/{rolls_batch['batch_id']}/"))
    assert "Batch #123 (HDPE OD=110, PN=8, PE=63) - Created:" in page
    assert "Initial Quantity: 2,500m | Current Quantity: 2,500m" in page
    assert "Cut a roll" not in page and "Dispatch from this batch" not in page


# --- dispatch ------------------------------------------------------------------------------------


@pytest.fixture
def cut_batch(clerk, rolls_batch):
    """Batch #123 after cutting one roll into 200 + 300: 4 full rolls and two cut pieces."""
    full = record(rolls_batch["batch_id"], "FULL_ROLL")
    pipes.stock_cut(actor=clerk, stock_id=full.pk, piece1_length=200, piece2_length=300)
    return rolls_batch["batch_id"]


def selection_form(batch_id, customer, *, rolls_=2, piece_length=200, **overrides) -> dict:
    """What the dispatch page posts: every record shown with the versions it displayed, and the choice."""
    full, cut = record(batch_id, "FULL_ROLL"), record(batch_id, "CUT_ROLL")
    batch = Batch.objects.get(pk=batch_id)
    piece = CutPiece.objects.get(stock=cut, length_meters=piece_length, status=PieceStatus.IN_STOCK)
    form = {
        "customer": customer.pk,
        "shown": [full.pk, cut.pk],
        f"sv-{full.pk}": full.version,
        f"bv-{full.pk}": batch.version,
        f"sv-{cut.pk}": cut.version,
        f"bv-{cut.pk}": batch.version,
        f"take-{full.pk}": rolls_,
        f"piece-{cut.pk}": [piece.pk],
        "idempotency_key": "dispatch-form-1",
    }
    form.update(overrides)
    return form


def test_the_dispatch_page_lists_what_each_stock_record_can_give_with_its_versions(clerk, cut_batch, buyer):
    full, cut = record(cut_batch, "FULL_ROLL"), record(cut_batch, "CUT_ROLL")
    page = text(client_for(clerk).get(f"/pipes/dispatch/?batch_id={cut_batch}"))
    assert "4 Full Rolls (500m each) = 2,000m" in page and "(available: 4)" in page
    assert f'name="take-{full.pk}" min="0" max="4"' in page
    assert f'name="piece-{cut.pk}"' in page and "200 m" in page and "300 m" in page
    assert f'name="sv-{full.pk}" value="{full.version}"' in page
    assert f'name="bv-{full.pk}" value="{Batch.objects.get(pk=cut_batch).version}"' in page


def test_review_shows_what_leaves_each_batch_and_writes_nothing(clerk, cut_batch, buyer, nothing_written):
    with nothing_written():
        response = client_for(clerk).post("/pipes/dispatch/", selection_form(cut_batch, buyer))
    page = text(response)
    assert response.status_code == 200
    assert "Dispatching <strong>1,200m</strong>" in page and "→ <strong" in page and "1,300m" in page
    assert "2 rolls from 4 Full Rolls (500m each) = 2,000m" in page
    assert 'name="step" value="confirm"' in page and 'name="dispatch-form-1"' not in page
    assert 'value="dispatch-form-1"' in page  # the selection travels on, with its versions


def test_confirm_dispatches_the_spec_example_and_the_batch_shows_1300m(clerk, cut_batch, buyer):
    c = client_for(clerk)
    response = c.post("/pipes/dispatch/", {**selection_form(cut_batch, buyer), "step": "confirm"})
    op = Operation.objects.get(kind=Operation.Kind.DISPATCH)
    assert response.status_code == 302 and response["Location"] == f"/pipes/operations/{op.pk}/"
    assert Batch.objects.get(pk=cut_batch).usable_qty == D(1300)
    page = text(c.get(f"/batches/{cut_batch}/"))
    assert "Initial Quantity: 2,500m | Current Quantity: 1,300m" in page
    assert "- 2 Full Rolls (500m each) = 1,000m" in page and "- 1 Cut Piece (300m) = 300m" in page


def test_a_stale_dispatch_page_gets_batch_was_modified_and_writes_nothing(clerk, cut_batch, buyer, nothing_written):
    form = {**selection_form(cut_batch, buyer), "step": "confirm"}
    full = record(cut_batch, "FULL_ROLL")
    pipes.dispatch_create(actor=clerk, customer_id=buyer.pk, lines=[{"stock_id": full.pk, "quantity": 1}])
    with nothing_written():
        response = client_for(clerk).post("/pipes/dispatch/", form)
    page = text(response)
    assert response.status_code == 409
    assert "Batch was modified, please retry" in page and "Reload this page" in page
    assert "was changed by someone else since this page was shown" in page


def test_review_of_a_stale_page_already_says_batch_was_modified(clerk, cut_batch, buyer, nothing_written):
    form = selection_form(cut_batch, buyer)
    full = record(cut_batch, "FULL_ROLL")
    pipes.dispatch_create(actor=clerk, customer_id=buyer.pk, lines=[{"stock_id": full.pk, "quantity": 1}])
    with nothing_written():
        response = client_for(clerk).post("/pipes/dispatch/", form)
    assert response.status_code == 409 and "Batch was modified, please retry" in text(response)


def test_review_refuses_more_rolls_than_the_record_has(clerk, cut_batch, buyer, nothing_written):
    with nothing_written():
        response = client_for(clerk).post("/pipes/dispatch/", selection_form(cut_batch, buyer, rolls_=9))
    page = text(response)
    assert response.status_code == 409 and "has 4 rolls, 9 requested" in page


def test_review_with_nothing_selected_asks_for_a_selection(clerk, cut_batch, buyer):
    response = client_for(clerk).post("/pipes/dispatch/", {"customer": buyer.pk})
    assert response.status_code == 400 and "Select at least one stock record" in text(response)


def test_confirm_without_a_customer_shows_the_engines_message(clerk, cut_batch, buyer, nothing_written):
    with nothing_written():
        response = client_for(clerk).post(
            "/pipes/dispatch/", {**selection_form(cut_batch, buyer), "customer": "", "step": "confirm"}
        )
    page = text(response)
    assert response.status_code == 400 and "A customer is required" in page
    assert "checked" in page  # the selection is still there


def test_change_the_selection_from_the_review(clerk, cut_batch, buyer):
    full = record(cut_batch, "FULL_ROLL")
    response = client_for(clerk).post("/pipes/dispatch/", {**selection_form(cut_batch, buyer), "step": "edit"})
    page = text(response)
    assert (
        response.status_code == 200
        and f'name="take-{full.pk}" min="0" max="4" step="1" inputmode="numeric" value="2"' in page
    )


# --- scrap and the reverts -----------------------------------------------------------------------


def test_scrap_needs_a_reason_then_reduces_the_batch(clerk, cut_batch, buyer, nothing_written):
    full = record(cut_batch, "FULL_ROLL")
    form = {"shown": [full.pk], f"take-{full.pk}": 1, "step": "confirm"}
    c = client_for(clerk)
    with nothing_written():
        response = c.post("/pipes/scrap/", form)
    assert response.status_code == 400 and "A scrap reason is required" in text(response)
    response = c.post("/pipes/scrap/", {**form, "reason": "crushed"})
    assert response.status_code == 302 and Batch.objects.get(pk=cut_batch).usable_qty == D(2000)


def test_the_operation_page_offers_the_reverts_the_role_may_use(world):
    i = world.ids
    clerk_view = text(client_for(world.user(Role.INVENTORY_CLERK)).get(f"/pipes/operations/{i['scrap']}/"))
    manager_view = text(client_for(world.user(Role.LOGISTICS_MANAGER)).get(f"/pipes/operations/{i['scrap']}/"))
    assert "Revert this scrap" not in clerk_view and "Revert this scrap" in manager_view
    dispatch_view = text(client_for(world.user(Role.INVENTORY_CLERK)).get(f"/pipes/operations/{i['dispatch']}/"))
    assert "Customer return (revert dispatch)" in dispatch_view and "Close dispatch" in dispatch_view


def test_revert_a_scrap_restores_the_batch(world):
    i = world.ids
    batch = Batch.objects.get(pk=i["spr_batch"])
    c = client_for(world.user(Role.LOGISTICS_MANAGER))
    response = c.post(f"/pipes/operations/{i['scrap']}/revert-scrap/")
    assert response.status_code == 302
    assert Batch.objects.get(pk=batch.pk).usable_qty == batch.usable_qty + 2
    assert "reverted" in text(c.get(response["Location"]))


def test_reverting_a_scrap_twice_is_refused_in_place(world, nothing_written):
    i = world.ids
    c = client_for(world.user(Role.LOGISTICS_MANAGER))
    c.post(f"/pipes/operations/{i['scrap']}/revert-scrap/")
    with nothing_written():
        response = c.post(f"/pipes/operations/{i['scrap']}/revert-scrap/")
    assert response.status_code == 409 and "already reverted" in text(response)


def test_revert_a_return_empties_its_batch(world):
    i = world.ids
    response = client_for(world.user(Role.ADMIN)).post(f"/pipes/operations/{i['pipe_return']}/revert-return/")
    assert response.status_code == 302
    returned = Operation.objects.get(pk=i["pipe_return"])
    assert returned.status == Operation.Status.REVERTED
    assert Batch.objects.get(pk=returned.lines.first().batch_id).usable_qty == 0


def test_a_customer_return_of_a_dispatch_makes_a_new_batch(world):
    i = world.ids
    before = Batch.objects.count()
    response = client_for(world.user(Role.INVENTORY_CLERK)).post(
        f"/pipes/operations/{i['dispatch']}/return/", {"scope": "all"}
    )
    assert response.status_code == 302 and Batch.objects.count() == before + 1
    assert Operation.objects.get(pk=i["dispatch"]).reverted_by.exists()


def test_a_partial_customer_return_with_nothing_chosen_is_refused(world, nothing_written):
    i = world.ids
    with nothing_written():
        response = client_for(world.user(Role.INVENTORY_CLERK)).post(
            f"/pipes/operations/{i['dispatch']}/return/", {"scope": "chosen"}
        )
    assert response.status_code == 400 and "Choose what came back" in text(response)


def test_close_a_dispatch(world):
    i = world.ids
    response = client_for(world.user(Role.INVENTORY_CLERK)).post(f"/pipes/operations/{i['dispatch']}/close/")
    assert response.status_code == 302 and Operation.objects.get(pk=i["dispatch"]).status == "CLOSED"


def test_operations_list_filters_by_kind(world):
    page = text(client_for(world.user(Role.READER)).get("/pipes/operations/?kind=SCRAP"))
    assert ">SCR-" in page and ">DSP-" not in page


def test_pipes_home_shows_totals_per_variant(world):
    page = text(client_for(world.user(Role.READER)).get("/pipes/"))
    assert "HDPE OD=110, PN=8, PE=63, Brand=Tarko" in page and "Total available per variant" in page
    assert "Record production" not in page  # a reader is not offered what it may not do
    assert "Record production" in text(client_for(world.user(Role.INVENTORY_CLERK)).get("/pipes/"))


def test_the_spare_and_stock_counts_agree_after_page_operations(clerk, spr):
    """The trigger keeps SPARE quantity = IN_STOCK pieces whatever the pages did."""
    b = produce(clerk, spr, bundles(2, 10))
    c = client_for(clerk)
    bundle = record(b["batch_id"], "BUNDLE")
    c.post(f"/pipes/stock/{bundle.pk}/split/", {"version": bundle.version})
    spare = record(b["batch_id"], "SPARE")
    assert spare.quantity == SparePiece.objects.filter(stock=spare, status=PieceStatus.IN_STOCK).count() == 10
    assert Stock.objects.get(pk=bundle.pk).quantity == 1
