"""API shapes of the sales app: requests (checked again by the services) and responses."""

from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from stockledger.core.api import MAX_ID
from stockledger.stock.models import Inventory
from stockledger.stock.services.postings import POSTING_KINDS

from .models import MONEY, Invoice, LineItem, LpgProduct, SalesTransaction
from .selectors import cylinder_state
from .services import allowed_actions

# The kinds a client posts; SALE entries are written by sales only (POST /api/v1/sales/).
API_POSTING_KINDS = sorted(POSTING_KINDS - {"SALE"})
QTY = {"max_digits": 18, "decimal_places": 3}


# --- ledger postings -----------------------------------------------------------------------------


class LedgerLegSerializer(serializers.Serializer):
    item_id = serializers.IntegerField(min_value=1)
    warehouse_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, help_text="depot or truck")
    holder_id = serializers.IntegerField(min_value=1, required=False, allow_null=True, help_text="customer")
    qty_delta = serializers.DecimalField(**QTY, help_text="signed: + into this place, − out of it")


class LedgerPostSerializer(serializers.Serializer):
    kind = serializers.ChoiceField(choices=API_POSTING_KINDS)
    legs = LedgerLegSerializer(many=True, help_text="one leg; TRANSFER: two legs that cancel out")
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")


class SnapshotRowSerializer(serializers.Serializer):
    item_id = serializers.IntegerField()
    warehouse_id = serializers.IntegerField(allow_null=True)
    holder_id = serializers.IntegerField(allow_null=True)
    quantity = serializers.DecimalField(**QTY)
    usable_qty = serializers.DecimalField(**QTY)
    version = serializers.IntegerField()


class LedgerPostResultSerializer(serializers.Serializer):
    document_id = serializers.IntegerField()
    entries = serializers.ListField(child=serializers.IntegerField())
    inventory = SnapshotRowSerializer(many=True, help_text="the snapshot rows after the posting")


# --- depot stock ---------------------------------------------------------------------------------


class DepotStockSerializer(serializers.ModelSerializer):
    quantity = serializers.DecimalField(source="usable_qty", **QTY, read_only=True, help_text="= usable_qty")
    item_sku = serializers.CharField(source="item.sku", read_only=True)
    item_name = serializers.CharField(source="item.name", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True, allow_null=True, default=None)
    holder_code = serializers.CharField(source="holder.code", read_only=True, allow_null=True, default=None)
    lpg_product_id = serializers.SerializerMethodField()
    cylinder_state = serializers.SerializerMethodField()

    class Meta:
        model = Inventory
        fields = [
            "id",
            "key",
            "item",
            "item_sku",
            "item_name",
            "lpg_product_id",
            "cylinder_state",
            "warehouse",
            "warehouse_code",
            "holder",
            "holder_code",
            "quantity",
            "usable_qty",
            "version",
            "last_updated",
        ]
        read_only_fields = fields

    @extend_schema_field(OpenApiTypes.INT)
    def get_lpg_product_id(self, obj):
        product, _ = cylinder_state(obj)
        return product.pk if product else None

    @extend_schema_field(serializers.ChoiceField(choices=["FULL", "EMPTY"], allow_null=True))
    def get_cylinder_state(self, obj):
        return cylinder_state(obj)[1]


# --- LPG products --------------------------------------------------------------------------------


class LpgProductSerializer(serializers.ModelSerializer):
    full_item_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)
    empty_item_id = serializers.IntegerField(min_value=1, max_value=MAX_ID)

    class Meta:
        model = LpgProduct
        fields = ["id", "code", "name", "size_kg", "full_item_id", "empty_item_id", "active", "version"]
        read_only_fields = ["id", "version"]
        extra_kwargs = {"code": {"validators": []}}


# --- sales ---------------------------------------------------------------------------------------


class SaleLineInSerializer(serializers.Serializer):
    product_id = serializers.IntegerField(min_value=1, help_text="an LPG product")
    kind = serializers.ChoiceField(choices=LineItem.Kind.choices)
    quantity = serializers.IntegerField(min_value=1)
    unit_price = serializers.DecimalField(**MONEY, min_value=0)


class SaleCreateSerializer(serializers.Serializer):
    customer_id = serializers.IntegerField(min_value=1)
    depot_id = serializers.IntegerField(min_value=1, help_text="a depot or a truck (vehicle)")
    note = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
    lines = SaleLineInSerializer(many=True, allow_empty=False)


class LineItemSerializer(serializers.ModelSerializer):
    product_code = serializers.CharField(source="product.code", read_only=True)
    amount = serializers.DecimalField(**MONEY, read_only=True)

    class Meta:
        model = LineItem
        fields = ["id", "position", "product", "product_code", "kind", "quantity", "unit_price", "amount"]
        read_only_fields = fields


class InvoiceSummarySerializer(serializers.ModelSerializer):
    class Meta:
        model = Invoice
        fields = ["id", "number", "status", "total_amount", "version"]
        read_only_fields = fields


class SaleSerializer(serializers.ModelSerializer):
    customer_name = serializers.CharField(source="customer.name", read_only=True)
    depot_code = serializers.CharField(source="depot.code", read_only=True)
    user = serializers.CharField(source="user.username", read_only=True, allow_null=True, default=None)
    lines = LineItemSerializer(many=True, read_only=True)
    invoice = InvoiceSummarySerializer(read_only=True)

    class Meta:
        model = SalesTransaction
        fields = [
            "id",
            "number",
            "customer",
            "customer_name",
            "depot",
            "depot_code",
            "user",
            "created_at",
            "updated_at",
            "total_amount",
            "note",
            "version",
            "lines",
            "invoice",
        ]
        read_only_fields = fields


# --- invoices ------------------------------------------------------------------------------------


class InvoiceSerializer(serializers.ModelSerializer):
    transaction_number = serializers.CharField(source="transaction.number", read_only=True)
    customer = serializers.IntegerField(source="transaction.customer_id", read_only=True)
    customer_name = serializers.CharField(source="transaction.customer.name", read_only=True)
    depot = serializers.IntegerField(source="transaction.depot_id", read_only=True)
    lines = LineItemSerializer(source="transaction.lines", many=True, read_only=True)
    allowed_actions = serializers.SerializerMethodField()

    class Meta:
        model = Invoice
        fields = [
            "id",
            "number",
            "year",
            "seq",
            "status",
            "allowed_actions",
            "total_amount",
            "transaction",
            "transaction_number",
            "customer",
            "customer_name",
            "depot",
            "issued_at",
            "sent_at",
            "paid_at",
            "voided_at",
            "void_reason",
            "updated_at",
            "version",
            "lines",
        ]
        read_only_fields = fields

    @extend_schema_field(serializers.ListField(child=serializers.CharField()))
    def get_allowed_actions(self, obj):
        return allowed_actions(obj.status)


class InvoiceActionSerializer(serializers.Serializer):
    version = serializers.IntegerField(help_text="the invoice version you were shown (stale → 409)")


class InvoiceVoidSerializer(InvoiceActionSerializer):
    reason = serializers.CharField(max_length=300, required=False, allow_blank=True, default="")
