"""Shapes of the pipe API's bodies, for the OpenAPI schema (drf-spectacular).

The views do not validate with these: they hand the body to the service, which checks every rule and
answers with one error listing every problem ({"code", "message", "extra": {"fields": ...}}), so the
API, the web forms and the tests get the same messages.
"""

from rest_framework import serializers as s

STOCK_TYPES = ["FULL_ROLL", "CUT_ROLL", "BUNDLE", "SPARE"]
QTY = {"max_digits": 18, "decimal_places": 3}


class Error(s.Serializer):
    code = s.CharField()
    message = s.CharField()
    extra = s.DictField()


class IntakeLine(s.Serializer):
    stock_type = s.ChoiceField(STOCK_TYPES)
    quantity = s.IntegerField(required=False, help_text="rolls (FULL_ROLL), bundles (BUNDLE) or spare pieces")
    length_per_unit = s.DecimalField(**QTY, required=False, help_text="metres per roll (FULL_ROLL)")
    pieces_per_bundle = s.IntegerField(required=False, help_text="pieces per bundle (BUNDLE)")
    piece_lengths = s.ListField(child=s.DecimalField(**QTY), required=False, help_text="cut pieces (CUT_ROLL)")


class ProductionRequest(s.Serializer):
    item_id = s.IntegerField()
    lines = IntakeLine(many=True)
    warehouse_id = s.IntegerField(required=False, help_text="default: the factory yard")
    batch_no = s.CharField(required=False, help_text="default: the batch id")
    batch_date = s.DateField(required=False)
    notes = s.CharField(required=False)


class ReturnItem(IntakeLine):
    item_id = s.IntegerField()


class ReturnRequest(s.Serializer):
    items = ReturnItem(many=True)
    warehouse_id = s.IntegerField(required=False, help_text="default: the factory yard")
    customer_id = s.IntegerField(required=False)
    return_date = s.DateField(required=False)
    notes = s.CharField(required=False)


class StockState(s.Serializer):
    stock_id = s.IntegerField()
    stock_type = s.ChoiceField(STOCK_TYPES)
    quantity = s.IntegerField()
    length_per_unit = s.DecimalField(**QTY, allow_null=True)
    pieces_per_bundle = s.IntegerField(allow_null=True)
    version = s.IntegerField()


class BatchResult(s.Serializer):
    batch_id = s.IntegerField()
    batch_no = s.CharField()
    batch_code = s.CharField()
    item_id = s.IntegerField()
    warehouse_id = s.IntegerField()
    initial_quantity = s.DecimalField(**QTY)
    current_quantity = s.DecimalField(**QTY)
    version = s.IntegerField()
    stock_ids = s.ListField(child=s.IntegerField())


class ProductionResponse(BatchResult):
    production_id = s.IntegerField()
    production_number = s.CharField()


class ReturnResponse(s.Serializer):
    return_id = s.IntegerField()
    return_number = s.CharField()
    batch_ids = s.ListField(child=s.IntegerField())
    batches = BatchResult(many=True)


class VersionRequest(s.Serializer):
    version = s.IntegerField(required=False, help_text="the stock record version shown (stale → 409)")


class CutRequest(VersionRequest):
    piece_id = s.IntegerField(required=False, help_text="required when the stock record is a CUT_ROLL")
    piece1_length = s.DecimalField(**QTY)
    piece2_length = s.DecimalField(**QTY)


class CombineRequest(VersionRequest):
    bundle_size = s.IntegerField()
    quantity = s.IntegerField(required=False, help_text="spare pieces to combine (default: one bundle)")
    piece_ids = s.ListField(child=s.IntegerField(), required=False)


class TransformResponse(s.Serializer):
    operation_id = s.IntegerField()
    operation_number = s.CharField()
    batch_id = s.IntegerField()
    batch_no = s.CharField()
    current_quantity = s.DecimalField(**QTY)
    batch_version = s.IntegerField()
    stocks = StockState(many=True)
    piece_ids = s.ListField(child=s.IntegerField())


class CutResponse(TransformResponse):
    new_stock_id = s.IntegerField()


class SplitResponse(TransformResponse):
    spare_stock_id = s.IntegerField()


class CombineResponse(TransformResponse):
    bundle_stock_id = s.IntegerField()


class TakeLine(s.Serializer):
    stock_id = s.IntegerField()
    quantity = s.IntegerField(required=False, help_text="rolls, bundles or spare pieces")
    piece_ids = s.ListField(child=s.IntegerField(), required=False, help_text="cut or spare pieces")
    stock_version = s.IntegerField(required=False, help_text="the stock record version shown (stale → 409)")
    batch_version = s.IntegerField(required=False, help_text="the batch version shown (stale → 409)")


class DispatchRequest(s.Serializer):
    customer_id = s.IntegerField()
    lines = TakeLine(many=True)
    dispatch_date = s.DateField(required=False)
    invoice_number = s.CharField(required=False)
    notes = s.CharField(required=False)


class ScrapRequest(s.Serializer):
    reason = s.CharField()
    lines = TakeLine(many=True)
    scrap_date = s.DateField(required=False)


class BatchState(s.Serializer):
    batch_id = s.IntegerField()
    batch_no = s.CharField()
    current_quantity = s.DecimalField(**QTY)
    version = s.IntegerField(required=False)
    status = s.CharField(required=False)


class TakeResponse(s.Serializer):
    batches = BatchState(many=True)
    stocks = StockState(many=True)
    lines = s.IntegerField()


class DispatchResponse(TakeResponse):
    dispatch_id = s.IntegerField()
    dispatch_number = s.CharField(help_text="e.g. DSP-2026-000123")


class ScrapResponse(TakeResponse):
    scrap_id = s.IntegerField()
    scrap_number = s.CharField()


class RevertLine(s.Serializer):
    line_id = s.IntegerField()
    quantity = s.IntegerField(required=False, help_text="rolls or bundles of that line (default: all)")


class DispatchRevertRequest(s.Serializer):
    lines = RevertLine(many=True, required=False, help_text="default: everything not yet returned")
    warehouse_id = s.IntegerField(required=False, help_text="default: the dispatched batch's warehouse")
    return_date = s.DateField(required=False)
    batch_no = s.CharField(required=False)
    notes = s.CharField(required=False)


class DispatchRevertResponse(ReturnResponse):
    dispatch_id = s.IntegerField()
    new_batch_id = s.IntegerField()


class RevertResponse(s.Serializer):
    revert_id = s.IntegerField()
    status = s.CharField()
    message = s.CharField()
    batches = BatchState(many=True)


class ScrapRevertResponse(RevertResponse):
    scrap_id = s.IntegerField()
    scrap_number = s.CharField()


class ReturnRevertResponse(RevertResponse):
    return_id = s.IntegerField()
    return_number = s.CharField()


class CloseResponse(s.Serializer):
    dispatch_id = s.IntegerField()
    dispatch_number = s.CharField()
    status = s.CharField()
    sold_out = s.IntegerField()


class OperationSummary(s.Serializer):
    id = s.IntegerField()
    number = s.CharField()
    kind = s.CharField()
    status = s.CharField()
    date = s.DateField()
    customer_id = s.IntegerField(allow_null=True)
    customer = s.CharField()
    invoice_number = s.CharField()
    reason = s.CharField()
    reverts_id = s.IntegerField(allow_null=True)
    reverts_number = s.CharField()
    reverted_by = s.ListField(child=s.CharField())
    created_at = s.DateTimeField()
    created_by = s.CharField()


class OperationLine(s.Serializer):
    line_id = s.IntegerField()
    batch_id = s.IntegerField()
    batch_no = s.CharField()
    stock_id = s.IntegerField()
    stock_type = s.CharField()
    units = s.IntegerField()
    quantity = s.DecimalField(**QTY)
    length_per_unit = s.DecimalField(**QTY, allow_null=True)
    pieces_per_bundle = s.IntegerField(allow_null=True)
    piece_id = s.IntegerField(allow_null=True)
    source_line_id = s.IntegerField(allow_null=True)
    returned_units = s.IntegerField()


class BatchQuantity(s.Serializer):
    batch_id = s.IntegerField()
    quantity = s.DecimalField(**QTY)


class OperationDetail(OperationSummary):
    details = s.DictField()
    batches = BatchQuantity(many=True)
    lines = OperationLine(many=True)


class Piece(s.Serializer):
    piece_id = s.IntegerField()
    length_meters = s.DecimalField(**QTY, allow_null=True)


class StockRecord(StockState):
    total = s.DecimalField(**QTY)
    display = s.CharField(help_text='e.g. "4 Full Rolls (500m each) = 2,000m"')
    pieces = Piece(many=True)


class PipeBatch(s.Serializer):
    batch_id = s.IntegerField()
    batch_no = s.CharField()
    batch_code = s.CharField()
    item_id = s.IntegerField()
    item = s.CharField()
    variant = s.CharField()
    product_type = s.CharField()
    unit = s.CharField()
    warehouse_id = s.IntegerField()
    origin = s.CharField()
    status = s.CharField()
    batch_date = s.DateField()
    initial_quantity = s.DecimalField(**QTY)
    current_quantity = s.DecimalField(**QTY)
    total_available = s.DecimalField(**QTY)
    stock_total = s.DecimalField(**QTY)
    version = s.IntegerField()
    stock_records = StockRecord(many=True)
    display = s.ListField(child=s.CharField(), help_text="the spec's batch detail view, one line per entry")


class VariantTotal(s.Serializer):
    item_id = s.IntegerField()
    sku = s.CharField()
    name = s.CharField()
    product_type = s.CharField()
    attributes = s.DictField()
    variant = s.CharField()
    unit = s.CharField()
    total_quantity = s.DecimalField(**QTY)
    batches = s.IntegerField()
    display = s.CharField()


class SelectionRecord(StockRecord):
    available = s.IntegerField(help_text="rolls, bundles or pieces that can be taken")
    available_unit = s.CharField()
    unit = s.CharField()
    batch_id = s.IntegerField()
    batch_no = s.CharField()
    batch_version = s.IntegerField()
    batch_current_quantity = s.DecimalField(**QTY)
    item_id = s.IntegerField()
    variant = s.CharField()
    warehouse_id = s.IntegerField()
    warehouse = s.CharField()
