"""Relief API shapes: input serializers (parse only; rules live in the services) and the output shapes
of the selectors' dicts, declared for the OpenAPI schema."""

from rest_framework import serializers

from .models import ReliefPackage, ReliefRequest

QTY = {"max_digits": 18, "decimal_places": 3}


# --- input ---------------------------------------------------------------------------------------


class RequestLineIn(serializers.Serializer):
    item_id = serializers.IntegerField()
    requested_qty = serializers.DecimalField(**QTY)


class RequestCreateIn(serializers.Serializer):
    agency_id = serializers.IntegerField(help_text="the requesting agency or shelter (a customer)")
    event = serializers.CharField(max_length=200)
    urgency = serializers.ChoiceField(ReliefRequest.Urgency.choices, default=ReliefRequest.Urgency.MEDIUM)
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    lines = RequestLineIn(many=True)


class VersionIn(serializers.Serializer):
    version = serializers.IntegerField(help_text="the version the client displayed (required; stale → 409)")


class PackageCreateIn(serializers.Serializer):
    request_id = serializers.IntegerField()
    destination_warehouse_id = serializers.IntegerField(
        required=False, allow_null=True, default=None, help_text="a warehouse in the system, or empty for the agency"
    )
    notes = serializers.CharField(required=False, allow_blank=True, default="")


class AllocationIn(serializers.Serializer):
    batch_id = serializers.IntegerField()
    qty = serializers.DecimalField(**QTY, help_text="0 drops the batch")
    item_id = serializers.IntegerField(required=False, allow_null=True, help_text="checked against the batch")
    warehouse_id = serializers.IntegerField(required=False, allow_null=True, help_text="checked against the batch")


class DraftIn(VersionIn):
    allocations = AllocationIn(many=True, allow_empty=True)


class BatchVersionedAllocationIn(AllocationIn):
    version = serializers.IntegerField(required=False, allow_null=True, help_text="batch version, if displayed")


class SendIn(VersionIn):
    batch_versions = serializers.DictField(
        child=serializers.IntegerField(), required=False, help_text="{batch_id: version} the client displayed"
    )
    override_reason = serializers.CharField(
        required=False, allow_blank=True, default="", help_text="required when the allocation departs from the plan"
    )


class ApproveIn(SendIn):
    allocations = BatchVersionedAllocationIn(
        many=True, required=False, help_text="the LM's changed allocations (omit to approve as saved)"
    )


class CancelIn(VersionIn):
    reason = serializers.CharField(required=False, allow_blank=True, default="")


# --- output --------------------------------------------------------------------------------------


class ErrorOut(serializers.Serializer):
    code = serializers.CharField()
    message = serializers.CharField()
    extra = serializers.DictField()


class ItemRef(serializers.Serializer):
    item_id = serializers.IntegerField()
    item_sku = serializers.CharField()
    item_name = serializers.CharField()
    unit = serializers.CharField()


class RequestLineOut(ItemRef):
    requested_qty = serializers.DecimalField(**QTY)
    dispatched_qty = serializers.DecimalField(**QTY)
    outstanding_qty = serializers.DecimalField(**QTY)


class PackageRef(serializers.Serializer):
    id = serializers.IntegerField()
    tracking_no = serializers.CharField()
    status = serializers.CharField(help_text="a relief package status")


class RequestOut(serializers.Serializer):
    id = serializers.IntegerField()
    agency_id = serializers.IntegerField()
    agency_name = serializers.CharField()
    event = serializers.CharField()
    urgency = serializers.ChoiceField(ReliefRequest.Urgency.choices)
    status = serializers.ChoiceField(ReliefRequest.Status.choices)
    status_label = serializers.CharField()
    version = serializers.IntegerField()
    notes = serializers.CharField()
    lines = RequestLineOut(many=True)
    packages = PackageRef(many=True)
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    submitted_by = serializers.CharField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancelled_by = serializers.CharField(allow_null=True)


class AllocationOut(ItemRef):
    warehouse_id = serializers.IntegerField()
    warehouse_code = serializers.CharField()
    warehouse_name = serializers.CharField()
    batch_id = serializers.IntegerField()
    batch_no = serializers.CharField()
    expiry_date = serializers.DateField(allow_null=True)
    qty = serializers.DecimalField(**QTY)
    received_batch_id = serializers.IntegerField(allow_null=True)


class PlanLineOut(serializers.Serializer):
    batch_id = serializers.IntegerField()
    batch_no = serializers.CharField()
    qty = serializers.DecimalField(**QTY)


class DeviationGroupOut(serializers.Serializer):
    item_id = serializers.IntegerField()
    item_name = serializers.CharField()
    warehouse_id = serializers.IntegerField()
    issuance_order = serializers.CharField()
    planned = PlanLineOut(many=True, help_text="what the FEFO/FIFO/LIFO plan would have allocated")
    chosen = PlanLineOut(many=True)
    reasons = serializers.ListField(child=serializers.CharField())


class OverrideOut(serializers.Serializer):
    flagged = serializers.BooleanField(help_text="the chosen batches differ from the issuance-order plan")
    groups = DeviationGroupOut(many=True)
    reason = serializers.CharField(help_text="the LM's written reason, recorded at approval")


class PackageOut(serializers.Serializer):
    id = serializers.IntegerField()
    tracking_no = serializers.CharField()
    request_id = serializers.IntegerField()
    agency_id = serializers.IntegerField()
    agency_name = serializers.CharField()
    event = serializers.CharField()
    urgency = serializers.CharField()
    status = serializers.ChoiceField(ReliefPackage.Status.choices)
    status_label = serializers.CharField()
    version = serializers.IntegerField()
    destination_warehouse_id = serializers.IntegerField(allow_null=True)
    destination = serializers.CharField()
    notes = serializers.CharField()
    allocations = AllocationOut(many=True, help_text="reservations while open; the dispatched lines after dispatch")
    override = OverrideOut()
    created_at = serializers.DateTimeField()
    created_by = serializers.CharField(allow_null=True)
    prepared_at = serializers.DateTimeField(allow_null=True)
    prepared_by = serializers.CharField(allow_null=True)
    submitted_at = serializers.DateTimeField(allow_null=True)
    submitted_by = serializers.CharField(allow_null=True)
    approved_at = serializers.DateTimeField(allow_null=True)
    approved_by = serializers.CharField(allow_null=True)
    dispatched_at = serializers.DateTimeField(allow_null=True)
    dispatched_by = serializers.CharField(allow_null=True)
    handed_over_at = serializers.DateTimeField(allow_null=True)
    handed_over_by = serializers.CharField(allow_null=True)
    received_at = serializers.DateTimeField(allow_null=True)
    received_by = serializers.CharField(allow_null=True)
    cancelled_at = serializers.DateTimeField(allow_null=True)
    cancelled_by = serializers.CharField(allow_null=True)


class DrawerItemOut(ItemRef):
    issuance_order = serializers.CharField()
    can_expire = serializers.BooleanField()


class DrawerBatchOut(serializers.Serializer):
    batch_id = serializers.IntegerField()
    batch_no = serializers.CharField()
    warehouse_id = serializers.IntegerField()
    warehouse_code = serializers.CharField()
    batch_date = serializers.DateField(allow_null=True)
    expiry_date = serializers.DateField(allow_null=True)
    usable_qty = serializers.DecimalField(**QTY)
    reserved_qty = serializers.DecimalField(**QTY)
    held_by_this_package = serializers.DecimalField(**QTY)
    available_qty = serializers.DecimalField(**QTY, help_text="usable − reserved + held by this package")
    version = serializers.IntegerField()
    suggested_qty = serializers.DecimalField(**QTY)


class SuggestionLineOut(serializers.Serializer):
    batch_id = serializers.IntegerField()
    qty = serializers.DecimalField(**QTY)


class SuggestionOut(serializers.Serializer):
    requested_qty = serializers.DecimalField(**QTY)
    lines = SuggestionLineOut(many=True)
    allocated_qty = serializers.DecimalField(**QTY)
    shortfall_qty = serializers.DecimalField(**QTY)


class DrawerOut(serializers.Serializer):
    item = DrawerItemOut()
    today = serializers.DateField()
    package_id = serializers.IntegerField(allow_null=True)
    warehouses = serializers.ListField(child=serializers.IntegerField())
    batches = DrawerBatchOut(many=True, help_text="usable batches in the item's issuance order, expired excluded")
    suggestion = SuggestionOut()
