"""Stock API: batch, inventory and ledger reads; receipts, transfers and adjustments."""

from django.urls import path
from drf_spectacular.utils import extend_schema
from rest_framework import generics, pagination, serializers, status
from rest_framework.response import Response
from rest_framework.views import APIView

from stockledger.core.api import CanRead, idempotency_key

from . import selectors, services
from .models import Batch, Inventory, LedgerEntry, StockDocument


class BatchSerializer(serializers.ModelSerializer):
    item_name = serializers.CharField(source="item.name", read_only=True)
    unit = serializers.CharField(source="item.product_type.base_unit", read_only=True)
    product_type = serializers.CharField(source="item.product_type.code", read_only=True)
    warehouse_code = serializers.CharField(source="warehouse.code", read_only=True)
    available_qty = serializers.DecimalField(source="available", max_digits=18, decimal_places=3, read_only=True)
    current_quantity = serializers.DecimalField(
        source="usable_qty",
        max_digits=18,
        decimal_places=3,
        read_only=True,
        help_text="the pipe spec's name for usable_qty",
    )
    initial_quantity = serializers.DecimalField(source="initial_qty", max_digits=18, decimal_places=3, read_only=True)

    class Meta:
        model = Batch
        fields = [
            "id",
            "batch_no",
            "batch_code",
            "item",
            "item_name",
            "product_type",
            "unit",
            "warehouse",
            "warehouse_code",
            "origin",
            "batch_date",
            "expiry_date",
            "initial_qty",
            "usable_qty",
            "reserved_qty",
            "available_qty",
            "current_quantity",
            "initial_quantity",
            "status",
            "source_batch",
            "version",
            "created_at",
        ]
        read_only_fields = fields


class InventorySerializer(serializers.ModelSerializer):
    item_name = serializers.CharField(source="item.name", read_only=True)
    unit = serializers.CharField(source="item.product_type.base_unit", read_only=True)
    available_qty = serializers.DecimalField(source="available", max_digits=18, decimal_places=3, read_only=True)
    quantity = serializers.DecimalField(
        source="usable_qty",
        max_digits=18,
        decimal_places=3,
        read_only=True,
        help_text="the LPG seed's name for usable_qty",
    )
    below_reorder = serializers.SerializerMethodField()

    class Meta:
        model = Inventory
        fields = [
            "id",
            "item",
            "item_name",
            "unit",
            "warehouse",
            "holder",
            "usable_qty",
            "reserved_qty",
            "available_qty",
            "quantity",
            "reorder_qty",
            "below_reorder",
            "version",
            "last_updated",
        ]
        read_only_fields = fields

    def get_below_reorder(self, obj) -> bool:
        return bool(obj.reorder_qty and obj.usable_qty < obj.reorder_qty)


class LedgerEntrySerializer(serializers.ModelSerializer):
    actor_name = serializers.CharField(source="actor.username", read_only=True, default="")

    class Meta:
        model = LedgerEntry
        fields = [
            "id",
            "created_at",
            "item",
            "warehouse",
            "holder",
            "batch",
            "qty_delta",
            "reserved_delta",
            "kind",
            "doc_type",
            "doc_id",
            "reason",
            "actor",
            "actor_name",
            "reverts",
            "prev_hash",
            "hash",
        ]
        read_only_fields = fields


class LedgerCursor(pagination.CursorPagination):
    ordering = "-id"
    page_size = 100
    page_size_query_param = "page_size"
    max_page_size = 1000


class BatchList(generics.ListAPIView):
    permission_classes = [CanRead]
    serializer_class = BatchSerializer
    filterset_class = selectors.BatchFilter

    def get_queryset(self):
        return selectors.batch_list().order_by("-id")


class BatchDetail(generics.RetrieveAPIView):
    permission_classes = [CanRead]
    serializer_class = BatchSerializer

    def get_queryset(self):
        return selectors.batch_list()


class InventoryList(generics.ListAPIView):
    permission_classes = [CanRead]
    serializer_class = InventorySerializer
    filterset_class = selectors.InventoryFilter

    def get_queryset(self):
        return selectors.inventory_list().order_by("item_id", "warehouse_id", "holder_id")


class LedgerList(generics.ListAPIView):
    permission_classes = [CanRead]
    serializer_class = LedgerEntrySerializer
    filterset_class = selectors.LedgerFilter
    pagination_class = LedgerCursor

    def get_queryset(self):
        return selectors.ledger_list()


def ledger_list(request):
    """GET /api/v1/ledger/ for a view that also handles POST (the sales app's posting view)."""
    view = LedgerList()
    view.setup(request)
    view.request, view.format_kwarg = request, None
    return view.list(request)


# --- writes --------------------------------------------------------------------------------------


class ReceiptIn(serializers.Serializer):
    item_id = serializers.IntegerField()
    warehouse_id = serializers.IntegerField()
    qty = serializers.CharField()
    batch_no = serializers.CharField(required=False, max_length=64)
    batch_code = serializers.CharField(required=False, max_length=64, default="")
    origin = serializers.ChoiceField(choices=["production", "receipt", "return", "opening"], default="receipt")
    batch_date = serializers.DateField(required=False)
    expiry_date = serializers.DateField(required=False, allow_null=True)


class LineIn(serializers.Serializer):
    batch_id = serializers.IntegerField()
    qty = serializers.CharField()
    version = serializers.IntegerField(required=False)


class TransferIn(serializers.Serializer):
    to_warehouse_id = serializers.IntegerField()
    lines = LineIn(many=True)
    reason = serializers.CharField(required=False, default="", allow_blank=True, max_length=300)


class AdjustmentIn(serializers.Serializer):
    batch_id = serializers.IntegerField()
    counted_qty = serializers.CharField()
    reason = serializers.CharField(max_length=300)


class DecisionIn(serializers.Serializer):
    version = serializers.IntegerField(required=False)


class DocumentSerializer(serializers.ModelSerializer):
    class Meta:
        model = StockDocument
        fields = [
            "id",
            "kind",
            "status",
            "reason",
            "lines",
            "created_at",
            "created_by",
            "decided_at",
            "decided_by",
            "version",
        ]
        read_only_fields = fields


def _run(request, serializer_cls, service, status_code=status.HTTP_201_CREATED, **extra):
    ser = serializer_cls(data=request.data)
    ser.is_valid(raise_exception=True)
    data = {k: v for k, v in ser.validated_data.items() if v is not None or k == "expiry_date"}
    if "lines" in data:
        data["lines"] = [dict(line) for line in data["lines"]]
    result = service(actor=request.user, idempotency_key=idempotency_key(request), **data, **extra)
    return Response(result, status=status_code)


class Receipts(APIView):
    permission_classes = [CanRead]

    @extend_schema(request=ReceiptIn, responses={201: dict})
    def post(self, request):
        return _run(request, ReceiptIn, services.batch_receive)


class Transfers(APIView):
    permission_classes = [CanRead]

    @extend_schema(request=TransferIn, responses={201: dict})
    def post(self, request):
        return _run(request, TransferIn, services.stock_transfer)


class Adjustments(generics.ListAPIView):
    permission_classes = [CanRead]
    serializer_class = DocumentSerializer
    queryset = StockDocument.objects.filter(kind=StockDocument.Kind.ADJUSTMENT).order_by("-id")
    filterset_fields = ["status"]

    @extend_schema(request=AdjustmentIn, responses={201: dict})
    def post(self, request):
        return _run(request, AdjustmentIn, services.stock_adjust)


class AdjustmentDecision(APIView):
    permission_classes = [CanRead]
    approve = True

    @extend_schema(request=DecisionIn, responses={200: dict})
    def post(self, request, pk: int):
        return _run(
            request, DecisionIn, services.stock_adjust_decide, status.HTTP_200_OK, document_id=pk, approve=self.approve
        )


urlpatterns = [
    path("batches/", BatchList.as_view(), name="batch-list"),
    path("batches/<int:pk>/", BatchDetail.as_view(), name="batch-detail"),
    path("inventory/", InventoryList.as_view(), name="inventory-list"),
    path("receipts/", Receipts.as_view(), name="receipts"),
    path("transfers/", Transfers.as_view(), name="transfers"),
    path("adjustments/", Adjustments.as_view(), name="adjustments"),
    path("adjustments/<int:pk>/approve/", AdjustmentDecision.as_view(approve=True), name="adjustment-approve"),
    path("adjustments/<int:pk>/reject/", AdjustmentDecision.as_view(approve=False), name="adjustment-reject"),
]
