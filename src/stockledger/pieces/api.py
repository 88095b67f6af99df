"""Pipe API (DESIGN §5), included under /api/v1/ by config/api_urls.py.

Views parse the body (refusing unknown fields, with the spec's reason where one applies), call one
service, and return its result; reads go through selectors. Every POST accepts an Idempotency-Key
header. Permissions are decided by the services (core.roles); reading needs any role.
"""

from datetime import date

from django.shortcuts import get_object_or_404
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, status
from rest_framework.response import Response
from rest_framework.views import APIView

from stockledger.core.api import MAX_ID, idempotency_key
from stockledger.core.errors import ValidationError
from stockledger.stock.models import Batch

from . import selectors, services
from . import serializers as ser
from .models import Operation

ERRORS = {400: ser.Error, 403: ser.Error, 404: ser.Error, 409: ser.Error}
NAMES_A_BATCH = "a return always creates a new batch; it cannot name or add to an existing batch"
WHOLE = "{what} is reverted whole (all-or-nothing); it cannot be reverted in part"


def body(request, allowed: set[str], refused: dict[str, str] | None = None) -> dict:
    """The JSON object body with only `allowed` keys; any other key → 400 (with its reason if known)."""
    data = request.data
    if hasattr(data, "dict"):
        data = data.dict()
    if not isinstance(data, dict):
        raise ValidationError("The body must be a JSON object.", fields={"non_field_errors": ["a JSON object"]})
    refused = refused or {}
    errors = {k: [refused.get(k, "unknown field")] for k in data if k not in allowed}
    if errors:
        first = next((refused[k] for k in errors if k in refused), None)
        message = first[:1].upper() + first[1:] + "." if first else f"Unknown field: {', '.join(sorted(errors))}."
        raise ValidationError(message, fields=errors)
    return data


def created(result: dict) -> Response:
    return Response(result, status=status.HTTP_201_CREATED)


# --- production and returns ----------------------------------------------------------------------


class ProductionView(APIView):
    @extend_schema(request=ser.ProductionRequest, responses={201: ser.ProductionResponse, **ERRORS})
    def post(self, request):
        data = body(
            request,
            {"item_id", "lines", "warehouse_id", "batch_no", "batch_date", "notes"},
            {"batch_id": "one production entry always creates one new batch"},
        )
        return created(
            services.production_create(
                actor=request.user,
                item_id=data.get("item_id"),
                lines=data.get("lines"),
                warehouse_id=data.get("warehouse_id"),
                batch_no=data.get("batch_no"),
                batch_date=data.get("batch_date"),
                notes=data.get("notes") or "",
                idempotency_key=idempotency_key(request),
            )
        )


class OperationList(generics.GenericAPIView):
    kind = ""
    serializer_class = ser.OperationSummary
    filter_backends: list = []

    def get_queryset(self):
        return selectors.operations(self.kind)

    def list(self, request):
        page = self.paginate_queryset(self.get_queryset())
        return self.get_paginated_response(ser.OperationSummary(map(selectors.operation_summary, page), many=True).data)


class OperationDetail(APIView):
    kind = ""

    @extend_schema(responses={200: ser.OperationDetail, 404: ser.Error})
    def get(self, request, pk: int):
        op = get_object_or_404(Operation, pk=pk, kind=self.kind)
        return Response(ser.OperationDetail(selectors.operation_detail(op)).data)


class ReturnList(OperationList):
    kind = Operation.Kind.RETURN

    @extend_schema(responses={200: ser.OperationSummary(many=True)})
    def get(self, request):
        return self.list(request)

    @extend_schema(request=ser.ReturnRequest, responses={201: ser.ReturnResponse, **ERRORS})
    def post(self, request):
        data = body(
            request,
            {"items", "warehouse_id", "customer_id", "return_date", "notes"},
            {k: NAMES_A_BATCH for k in ("batch_id", "batch_no", "batch", "original_batch_id")},
        )
        return created(
            services.return_create(
                actor=request.user,
                items=data.get("items"),
                warehouse_id=data.get("warehouse_id"),
                customer_id=data.get("customer_id"),
                return_date=data.get("return_date"),
                notes=data.get("notes") or "",
                idempotency_key=idempotency_key(request),
            )
        )


class ReturnDetail(OperationDetail):
    kind = Operation.Kind.RETURN


PARTIAL = ("items", "lines", "piece_ids", "stock_ids", "batch_ids", "quantity")


class ReturnRevert(APIView):
    @extend_schema(request=None, responses={200: ser.ReturnRevertResponse, **ERRORS})
    def post(self, request, pk: int):
        body(request, set(), {k: WHOLE.format(what="a return") for k in PARTIAL})
        return Response(
            services.return_revert(actor=request.user, return_id=pk, idempotency_key=idempotency_key(request))
        )


# --- transformations -----------------------------------------------------------------------------


class StockCut(APIView):
    @extend_schema(request=ser.CutRequest, responses={200: ser.CutResponse, **ERRORS})
    def post(self, request, pk: int):
        three = "one cut makes exactly two pieces (piece1_length + piece2_length); cut again for more"
        data = body(
            request,
            {"piece_id", "piece1_length", "piece2_length", "version"},
            {k: three for k in ("piece3_length", "pieces", "lengths", "piece_lengths")},
        )
        return Response(
            services.stock_cut(
                actor=request.user,
                stock_id=pk,
                piece_id=data.get("piece_id"),
                piece1_length=data.get("piece1_length"),
                piece2_length=data.get("piece2_length"),
                version=data.get("version"),
                idempotency_key=idempotency_key(request),
            )
        )


class StockSplit(APIView):
    @extend_schema(request=ser.VersionRequest, responses={200: ser.SplitResponse, **ERRORS})
    def post(self, request, pk: int):
        whole = "a bundle is split whole into all its pieces; a partial split is not possible"
        data = body(request, {"version"}, {k: whole for k in ("quantity", "pieces", "piece_count", "count")})
        return Response(
            services.bundle_split(
                actor=request.user, stock_id=pk, version=data.get("version"), idempotency_key=idempotency_key(request)
            )
        )


class StockCombine(APIView):
    @extend_schema(request=ser.CombineRequest, responses={200: ser.CombineResponse, **ERRORS})
    def post(self, request, pk: int):
        data = body(request, {"bundle_size", "quantity", "piece_ids", "version"})
        return Response(
            services.spares_combine(
                actor=request.user,
                stock_id=pk,
                bundle_size=data.get("bundle_size"),
                quantity=data.get("quantity"),
                piece_ids=data.get("piece_ids"),
                version=data.get("version"),
                idempotency_key=idempotency_key(request),
            )
        )


# --- dispatch and scrap --------------------------------------------------------------------------


class DispatchList(OperationList):
    kind = Operation.Kind.DISPATCH

    @extend_schema(responses={200: ser.OperationSummary(many=True)})
    def get(self, request):
        return self.list(request)

    @extend_schema(request=ser.DispatchRequest, responses={201: ser.DispatchResponse, **ERRORS})
    def post(self, request):
        data = body(request, {"customer_id", "lines", "dispatch_date", "invoice_number", "notes"})
        return created(
            services.dispatch_create(
                actor=request.user,
                customer_id=data.get("customer_id"),
                lines=data.get("lines"),
                dispatch_date=data.get("dispatch_date"),
                invoice_number=data.get("invoice_number") or "",
                notes=data.get("notes") or "",
                idempotency_key=idempotency_key(request),
            )
        )


class DispatchDetail(OperationDetail):
    kind = Operation.Kind.DISPATCH


class DispatchRevert(APIView):
    @extend_schema(request=ser.DispatchRevertRequest, responses={201: ser.DispatchRevertResponse, **ERRORS})
    def post(self, request, pk: int):
        data = body(
            request,
            {"lines", "warehouse_id", "return_date", "batch_no", "notes"},
            {"batch_id": "a dispatch revert creates a NEW return batch; it never restores the original batch"},
        )
        return created(
            services.dispatch_revert(
                actor=request.user,
                dispatch_id=pk,
                lines=data.get("lines"),
                warehouse_id=data.get("warehouse_id"),
                return_date=data.get("return_date"),
                batch_no=data.get("batch_no"),
                notes=data.get("notes") or "",
                idempotency_key=idempotency_key(request),
            )
        )


class DispatchClose(APIView):
    @extend_schema(request=None, responses={200: ser.CloseResponse, **ERRORS})
    def post(self, request, pk: int):
        body(request, set())
        return Response(
            services.dispatch_close(actor=request.user, dispatch_id=pk, idempotency_key=idempotency_key(request))
        )


class ScrapList(OperationList):
    kind = Operation.Kind.SCRAP

    @extend_schema(responses={200: ser.OperationSummary(many=True)})
    def get(self, request):
        return self.list(request)

    @extend_schema(request=ser.ScrapRequest, responses={201: ser.ScrapResponse, **ERRORS})
    def post(self, request):
        data = body(request, {"reason", "lines", "scrap_date"})
        return created(
            services.scrap_create(
                actor=request.user,
                reason=data.get("reason") or "",
                lines=data.get("lines"),
                scrap_date=data.get("scrap_date"),
                idempotency_key=idempotency_key(request),
            )
        )


class ScrapDetail(OperationDetail):
    kind = Operation.Kind.SCRAP


class ScrapRevert(APIView):
    @extend_schema(request=None, responses={200: ser.ScrapRevertResponse, **ERRORS})
    def post(self, request, pk: int):
        body(request, set(), {k: WHOLE.format(what="a scrap") for k in PARTIAL})
        return Response(
            services.scrap_revert(actor=request.user, scrap_id=pk, idempotency_key=idempotency_key(request))
        )


# --- reads ---------------------------------------------------------------------------------------

FILTERS = [
    OpenApiParameter("item", int, description="item (variant) id"),
    OpenApiParameter("warehouse", int, description="warehouse id"),
]


def query(request, *, ints=(), dates=(), texts=()) -> dict:
    """The named query parameters, parsed (absent or empty: None); one that does not parse is a 400
    here rather than a 500 from the database."""
    q, out, errors = request.query_params, {}, {}
    for name in (*ints, *dates, *texts):
        value = q.get(name)
        if value in (None, ""):
            out[name] = None
        elif name in ints:
            out[name] = int(value) if value.isascii() and value.isdigit() else None
            if not out[name] or out[name] > MAX_ID:
                errors[name] = ["an id (a positive whole number)"]
        elif name in dates:
            try:
                out[name] = date.fromisoformat(value)
            except ValueError:
                errors[name] = ["a date (YYYY-MM-DD)"]
        elif "\x00" in value:
            errors[name] = ["text without NUL characters"]
        else:
            out[name] = value
    if errors:
        raise ValidationError(f"Bad query parameter: {', '.join(sorted(errors))}.", fields=errors)
    return out


class PipeBatchList(generics.GenericAPIView):
    serializer_class = ser.PipeBatch
    filter_backends: list = []

    @extend_schema(
        parameters=[
            *FILTERS,
            OpenApiParameter("product_type", str, description="hdpe or sprinkler"),
            OpenApiParameter("status", str, description="ACTIVE or REVERTED"),
            OpenApiParameter("date_from", str, description="batch date from (YYYY-MM-DD)"),
            OpenApiParameter("date_to", str, description="batch date to (YYYY-MM-DD)"),
        ],
        responses={200: ser.PipeBatch(many=True)},
    )
    def get(self, request):
        q = query(request, ints=("item", "warehouse"), dates=("date_from", "date_to"), texts=("product_type", "status"))
        qs = selectors.pipe_batches(**q)
        page = self.paginate_queryset(qs)
        return self.get_paginated_response(ser.PipeBatch(selectors.batch_details(page), many=True).data)


class PipeBatchDetail(APIView):
    @extend_schema(responses={200: ser.PipeBatch, 404: ser.Error})
    def get(self, request, pk: int):
        batch = get_object_or_404(Batch, pk=pk, item__product_type__has_stock_forms=True)
        return Response(ser.PipeBatch(selectors.batch_detail(batch)).data)


class PipeVariants(APIView):
    @extend_schema(
        parameters=[OpenApiParameter("product_type", str), OpenApiParameter("warehouse", int)],
        responses={200: ser.VariantTotal(many=True)},
    )
    def get(self, request):
        rows = selectors.variant_totals(**query(request, ints=("warehouse",), texts=("product_type",)))
        return Response(ser.VariantTotal(rows, many=True).data)


class DispatchSelection(APIView):
    @extend_schema(parameters=FILTERS, responses={200: ser.SelectionRecord(many=True)})
    def get(self, request):
        rows = selectors.dispatch_selection(**query(request, ints=("item", "warehouse")))
        return Response(ser.SelectionRecord(rows, many=True).data)


urlpatterns = [
    path("production/", ProductionView.as_view(), name="pipe-production"),
    path("returns/", ReturnList.as_view(), name="pipe-returns"),
    path("returns/<int:pk>/", ReturnDetail.as_view(), name="pipe-return"),
    path("returns/<int:pk>/revert/", ReturnRevert.as_view(), name="pipe-return-revert"),
    path("stock/<int:pk>/cut/", StockCut.as_view(), name="pipe-stock-cut"),
    path("stock/<int:pk>/split-bundle/", StockSplit.as_view(), name="pipe-stock-split"),
    path("stock/<int:pk>/combine-spares/", StockCombine.as_view(), name="pipe-stock-combine"),
    path("dispatches/", DispatchList.as_view(), name="pipe-dispatches"),
    path("dispatches/<int:pk>/", DispatchDetail.as_view(), name="pipe-dispatch"),
    path("dispatches/<int:pk>/revert/", DispatchRevert.as_view(), name="pipe-dispatch-revert"),
    path("dispatches/<int:pk>/close/", DispatchClose.as_view(), name="pipe-dispatch-close"),
    path("scraps/", ScrapList.as_view(), name="pipe-scraps"),
    path("scraps/<int:pk>/", ScrapDetail.as_view(), name="pipe-scrap"),
    path("scraps/<int:pk>/revert/", ScrapRevert.as_view(), name="pipe-scrap-revert"),
    path("pipe-batches/", PipeBatchList.as_view(), name="pipe-batches"),
    path("pipe-batches/<int:pk>/", PipeBatchDetail.as_view(), name="pipe-batch"),
    path("pipe-variants/", PipeVariants.as_view(), name="pipe-variants"),
    path("dispatch-selection/", DispatchSelection.as_view(), name="pipe-dispatch-selection"),
]
