"""Catalog API: list/create/retrieve/update for product types, items, warehouses and customers.

Views parse input, call one service, serialise the result. An update needs the version the client
saw (body "version" or an If-Match header); a stale one is 409.
"""

from rest_framework import mixins, serializers, status, viewsets
from rest_framework.response import Response

from stockledger.core.api import CanRead, refuse_nul
from stockledger.core.errors import ValidationError

from . import selectors, services
from .models import Customer, Item, ProductType, Warehouse


class ProductTypeSerializer(serializers.ModelSerializer):
    class Meta:
        model = ProductType
        fields = [
            "id",
            "code",
            "name",
            "base_unit",
            "unit_decimals",
            "attribute_schema",
            "has_stock_forms",
            "batch_tracked",
            "version",
        ]
        read_only_fields = ["id", "version"]


class ItemSerializer(serializers.ModelSerializer):
    product_type = serializers.SlugRelatedField(slug_field="code", queryset=ProductType.objects.all())
    unit = serializers.CharField(source="product_type.base_unit", read_only=True)

    class Meta:
        model = Item
        fields = [
            "id",
            "sku",
            "name",
            "product_type",
            "unit",
            "attributes",
            "issuance_order",
            "can_expire",
            "active",
            "version",
        ]
        read_only_fields = ["id", "version", "unit"]
        extra_kwargs = {"name": {"required": False}, "sku": {"validators": []}}


class WarehouseSerializer(serializers.ModelSerializer):
    class Meta:
        model = Warehouse
        fields = ["id", "code", "name", "kind", "address", "active", "version"]
        read_only_fields = ["id", "version"]
        extra_kwargs = {"code": {"validators": []}}


class CustomerSerializer(serializers.ModelSerializer):
    class Meta:
        model = Customer
        fields = ["id", "code", "name", "kind", "address", "phone", "active", "version"]
        read_only_fields = ["id", "version"]
        extra_kwargs = {"code": {"validators": []}}


def version_from(request) -> int | None:
    raw = request.data.get("version") if hasattr(request.data, "get") else None
    if raw is None:
        raw = request.headers.get("If-Match", "").strip('"W/ ') or None
    if raw is None:
        return None
    try:
        return int(raw)
    except (TypeError, ValueError):
        raise ValidationError("version must be an integer.", fields={"version": ["must be an integer"]}) from None


class CatalogViewSet(
    mixins.ListModelMixin,
    mixins.RetrieveModelMixin,
    mixins.CreateModelMixin,
    mixins.UpdateModelMixin,
    viewsets.GenericViewSet,
):
    permission_classes = [CanRead]
    http_method_names = ["get", "post", "patch", "head", "options"]
    create_service = None
    update_service = None
    id_kwarg = ""

    def create(self, request, *args, **kwargs):
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        refuse_nul(ser.validated_data)  # e.g. attributes sent as JSON text in a form field
        data = {k: v for k, v in ser.validated_data.items() if k not in ("active",)}
        obj = type(self).create_service(actor=request.user, **data)
        return Response(self.get_serializer(obj).data, status=status.HTTP_201_CREATED)

    def partial_update(self, request, *args, **kwargs):
        obj = self.get_object()
        ser = self.get_serializer(obj, data=request.data, partial=True)
        ser.is_valid(raise_exception=True)
        refuse_nul(ser.validated_data)
        changes = {k: v for k, v in ser.validated_data.items() if k not in ("code", "sku", "product_type")}
        obj = type(self).update_service(
            actor=request.user, version=version_from(request), **{self.id_kwarg: obj.pk}, **changes
        )
        return Response(self.get_serializer(obj).data)


class ProductTypeViewSet(CatalogViewSet):
    serializer_class = ProductTypeSerializer
    queryset = ProductType.objects.all()
    http_method_names = ["get", "post", "head", "options"]
    filterset_fields = ["code", "has_stock_forms", "batch_tracked"]
    create_service = staticmethod(services.product_type_create)


class ItemViewSet(CatalogViewSet):
    serializer_class = ItemSerializer
    filterset_class = selectors.ItemFilter
    create_service = staticmethod(services.item_create)
    update_service = staticmethod(services.item_update)
    id_kwarg = "item_id"

    def get_queryset(self):
        return selectors.item_list()

    def list(self, request, *args, **kwargs):
        qs = self.filter_queryset(self.get_queryset())
        items = selectors.sort_items_naturally(qs)
        page = self.paginate_queryset(items)
        return self.get_paginated_response(self.get_serializer(page, many=True).data)


class WarehouseViewSet(CatalogViewSet):
    serializer_class = WarehouseSerializer
    queryset = Warehouse.objects.all()
    filterset_fields = ["code", "kind", "active"]
    create_service = staticmethod(services.warehouse_create)
    update_service = staticmethod(services.warehouse_update)
    id_kwarg = "warehouse_id"


class CustomerViewSet(CatalogViewSet):
    serializer_class = CustomerSerializer
    queryset = Customer.objects.all()
    filterset_fields = ["code", "kind", "active"]
    create_service = staticmethod(services.customer_create)
    update_service = staticmethod(services.customer_update)
    id_kwarg = "customer_id"
