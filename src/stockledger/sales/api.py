"""Sales API, included under /api/v1/: ledger postings, depot stock, LPG products, sales, invoices.

Views parse input, call one service, serialise the result; errors are DomainErrors, turned into
{"code", "message", "extra"} by core.api.exception_handler.
"""

from django.http import HttpResponse
from django.urls import path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import generics, mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer, StaticHTMLRenderer
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter

from stockledger.core.api import CanRead, idempotency_key
from stockledger.core.errors import ValidationError
from stockledger.stock import api as stock_api
from stockledger.stock import selectors as stock_selectors
from stockledger.stock.services.postings import ledger_post

from . import documents, selectors, services
from . import serializers as s

IDEMPOTENCY_REQUIRED = OpenApiParameter(
    "Idempotency-Key",
    OpenApiTypes.STR,
    OpenApiParameter.HEADER,
    required=True,
    description="unique per posting; a retry with the same key returns the first result and writes nothing",
)
IDEMPOTENCY = OpenApiParameter(
    "Idempotency-Key", OpenApiTypes.STR, OpenApiParameter.HEADER, description="a retry returns the first result"
)
ERRORS = {
    400: OpenApiResponse(description="bad input: {code, message, extra.fields}"),
    403: OpenApiResponse(description="role or warehouse not allowed"),
    409: OpenApiResponse(description="insufficient_stock, stale_version, invalid_status, idempotency_key_reused"),
}


def flat_errors(detail, prefix: str = "") -> dict[str, list[str]]:
    """DRF's nested errors as the services' dotted fields: {"lines.0.quantity": ["..."]}."""
    if isinstance(detail, dict):
        out = {}
        for k, v in detail.items():
            out.update(flat_errors(v, f"{prefix}.{k}" if prefix else str(k)))
        return out
    if isinstance(detail, list) and any(isinstance(x, dict | list) for x in detail):
        out = {}
        for i, v in enumerate(detail):
            out.update(flat_errors(v, f"{prefix}.{i}" if prefix else str(i)))
        return out
    messages = [str(x) for x in (detail if isinstance(detail, list) else [detail])]
    return {prefix or "non_field_errors": messages} if messages else {}


def validated(serializer_class, data) -> dict:
    ser = serializer_class(data=data)
    if not ser.is_valid():
        raise ValidationError(fields=flat_errors(ser.errors))
    return ser.validated_data


class PDFRenderer(BaseRenderer):
    media_type = "application/pdf"
    format = "pdf"
    charset = None
    render_style = "binary"

    def render(self, data, accepted_media_type=None, renderer_context=None):
        return data if isinstance(data, bytes) else JSONRenderer().render(data)


class LedgerPostView(generics.GenericAPIView):
    """/api/v1/ledger/: POST one inventory transaction of a non-batched item (LPG cylinders); GET is the
    stock app's ledger list (stockledger.stock.api.ledger_list), served by this view on the same path."""

    permission_classes = [CanRead]
    # What GET serves, for the schema (the list itself is the stock app's).
    serializer_class = stock_api.LedgerEntrySerializer
    filterset_class = stock_selectors.LedgerFilter
    pagination_class = stock_api.LedgerCursor

    def get_queryset(self):
        return stock_selectors.ledger_list()

    @extend_schema(operation_id="ledger_list", responses=stock_api.LedgerEntrySerializer(many=True), filters=True)
    def get(self, request):
        """The ledger, newest first (cursor pagination; filters: item, warehouse, holder, kind, doc, since)."""
        return stock_api.ledger_list(request)

    @extend_schema(
        operation_id="ledger_post",
        request=s.LedgerPostSerializer,
        parameters=[IDEMPOTENCY_REQUIRED],
        responses={201: s.LedgerPostResultSerializer, **ERRORS},
        description=(
            "Post LOAD, DELIVERY, COLLECTION, RETURN, TRANSFER (two legs, one transaction), DUMP or ADJUSTMENT "
            "(with a reason). Each leg moves one (item, depot or truck, customer) snapshot, NULL-safe. A posting "
            "that would make a snapshot negative is refused with 409 and writes nothing: keep it queued and "
            "retry it later with the same Idempotency-Key."
        ),
    )
    def post(self, request):
        key = idempotency_key(request)
        if not key:
            raise ValidationError(
                "An Idempotency-Key header is required: a retry with the same key is then safe.",
                code="idempotency_key_required",
                fields={"Idempotency-Key": ["required"]},
            )
        data = validated(s.LedgerPostSerializer, request.data)
        result = ledger_post(
            actor=request.user,
            kind=data["kind"],
            legs=[dict(leg) for leg in data["legs"]],
            reason=data["reason"],
            idempotency_key=key,
        )
        return Response(result, status=status.HTTP_201_CREATED)


class DepotStockView(generics.ListAPIView):
    """GET /api/v1/depot-stock/?warehouse=&holder=: cylinder snapshots (`quantity` = usable_qty)."""

    permission_classes = [CanRead]
    serializer_class = s.DepotStockSerializer
    filterset_class = selectors.DepotStockFilter

    def get_queryset(self):
        return selectors.depot_stock_list().order_by("item_id", "warehouse_id", "holder_id", "pk")


class LpgProductViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [CanRead]
    lookup_value_regex = r"\d+"
    serializer_class = s.LpgProductSerializer
    filterset_fields = ["code", "active"]

    def get_queryset(self):
        return selectors.lpg_product_list().order_by("size_kg", "pk")

    @extend_schema(responses={201: s.LpgProductSerializer, **ERRORS})
    def create(self, request):
        ser = self.get_serializer(data=request.data)
        ser.is_valid(raise_exception=True)
        product = services.lpg_product_create(actor=request.user, **ser.validated_data)
        return Response(self.get_serializer(product).data, status=status.HTTP_201_CREATED)


class SaleViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [CanRead]
    lookup_value_regex = r"\d+"
    serializer_class = s.SaleSerializer
    filterset_class = selectors.SaleFilter

    def get_queryset(self):
        return selectors.sale_list().order_by("-pk")

    @extend_schema(
        request=s.SaleCreateSerializer,
        parameters=[IDEMPOTENCY],
        responses={201: s.SaleSerializer, **ERRORS},
        description="A sale (transaction + line items), its ledger legs and its invoice, in one transaction.",
    )
    def create(self, request):
        data = validated(s.SaleCreateSerializer, request.data)
        receipt = services.sale_create(
            actor=request.user,
            customer_id=data["customer_id"],
            depot_id=data["depot_id"],
            note=data["note"],
            lines=[dict(line) for line in data["lines"]],
            idempotency_key=idempotency_key(request),
        )
        sale = self.get_queryset().get(pk=receipt["sale_id"])
        return Response(s.SaleSerializer(sale).data, status=status.HTTP_201_CREATED)


class InvoiceViewSet(mixins.ListModelMixin, mixins.RetrieveModelMixin, viewsets.GenericViewSet):
    permission_classes = [CanRead]
    lookup_value_regex = r"\d+"
    serializer_class = s.InvoiceSerializer
    filterset_class = selectors.InvoiceFilter

    def get_queryset(self):
        return selectors.invoice_list().order_by("-pk")

    def _transition(self, request, pk, name: str, serializer_class):
        data = validated(serializer_class, request.data)
        services.invoice_transition(
            actor=request.user,
            invoice_id=int(pk),
            action=name,
            version=data["version"],
            reason=data.get("reason", ""),
            idempotency_key=idempotency_key(request),
        )
        return Response(s.InvoiceSerializer(self.get_queryset().get(pk=pk)).data)

    @extend_schema(request=s.InvoiceActionSerializer, parameters=[IDEMPOTENCY], responses={200: s.InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def send(self, request, pk=None):
        """GENERATED → SENT."""
        return self._transition(request, pk, "send", s.InvoiceActionSerializer)

    @extend_schema(request=s.InvoiceActionSerializer, parameters=[IDEMPOTENCY], responses={200: s.InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def pay(self, request, pk=None):
        """SENT → PAID."""
        return self._transition(request, pk, "pay", s.InvoiceActionSerializer)

    @extend_schema(request=s.InvoiceVoidSerializer, parameters=[IDEMPOTENCY], responses={200: s.InvoiceSerializer})
    @action(detail=True, methods=["post"])
    def void(self, request, pk=None):
        """GENERATED or SENT → VOID; the sale's ledger legs are reversed. A paid invoice needs a credit note."""
        return self._transition(request, pk, "void", s.InvoiceVoidSerializer)

    @extend_schema(responses={(200, "text/html"): OpenApiTypes.STR})
    @action(detail=True, methods=["get"], url_path="print", renderer_classes=[JSONRenderer, StaticHTMLRenderer])
    def print_page(self, request, pk=None):
        """The printable HTML invoice."""
        return HttpResponse(documents.invoice_html(self.get_object(), request), content_type="text/html")

    @extend_schema(responses={(200, "application/pdf"): OpenApiTypes.BINARY})
    @action(detail=True, methods=["get"], renderer_classes=[JSONRenderer, PDFRenderer])
    def pdf(self, request, pk=None):
        """The invoice as a PDF (A4)."""
        invoice = self.get_object()
        response = HttpResponse(documents.invoice_pdf(invoice), content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="{invoice.number}.pdf"'
        return response


router = SimpleRouter()
router.register("lpg-products", LpgProductViewSet, basename="lpg-product")
router.register("sales", SaleViewSet, basename="sale")
router.register("invoices", InvoiceViewSet, basename="invoice")

urlpatterns = [
    path("ledger/", LedgerPostView.as_view(), name="ledger-post"),
    path("depot-stock/", DepotStockView.as_view(), name="depot-stock"),
    *router.urls,
]
