"""Relief API, included under /api/v1/ by config/api_urls.py (before the catalog router, so the batch
drawer at items/<id>/batches/ is served here). Views parse input, call one service, return its result."""

import json

from django.core.serializers.json import DjangoJSONEncoder
from django.http import HttpResponse
from django.urls import path, re_path
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import mixins, status, viewsets
from rest_framework.decorators import action
from rest_framework.renderers import BaseRenderer, JSONRenderer
from rest_framework.response import Response
from rest_framework.routers import SimpleRouter
from rest_framework.views import APIView

from stockledger.core.api import CanRead, idempotency_key
from stockledger.core.idempotency import as_json

from . import selectors, services, waybill
from . import serializers as s

ERRORS = {
    code: OpenApiResponse(s.ErrorOut, description=text)
    for code, text in (
        (400, "bad input; field errors in extra.fields"),
        (403, "role or warehouse not allowed"),
        (404, "unknown object"),
        (409, "business-rule conflict or stale version"),
    )
}


def _parsed(serializer_class, request) -> dict:
    ser = serializer_class(data=request.data)
    ser.is_valid(raise_exception=True)
    return ser.validated_data


def _lines(rows) -> list[dict] | None:
    if rows is None:
        return None
    return [{k: v for k, v in row.items() if v is not None} for row in rows]


class ReliefRequestViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [CanRead]
    lookup_value_regex = "[0-9]+"  # the views int() the id: anything else is a 404, not a 500
    filterset_fields = ["status", "agency", "urgency"]

    def get_queryset(self):
        return selectors.request_queryset()

    @extend_schema(responses=s.RequestOut(many=True))
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(as_json({"r": selectors.request_dicts(page)})["r"])

    @extend_schema(responses={200: s.RequestOut, 404: ERRORS[404]})
    def retrieve(self, request, pk=None):
        return Response(as_json(selectors.request_detail(int(pk))))

    @extend_schema(request=s.RequestCreateIn, responses={201: s.RequestOut, **ERRORS})
    def create(self, request):
        data = _parsed(s.RequestCreateIn, request)
        out = services.relief_request_create(
            actor=request.user,
            agency_id=data["agency_id"],
            event=data["event"],
            urgency=data["urgency"],
            notes=data["notes"],
            lines=[dict(line) for line in data["lines"]],
            idempotency_key=idempotency_key(request),
        )
        return Response(out, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.VersionIn, responses={200: s.RequestOut, **ERRORS})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        data = _parsed(s.VersionIn, request)
        return Response(
            services.relief_request_submit(
                actor=request.user,
                request_id=int(pk),
                version=data["version"],
                idempotency_key=idempotency_key(request),
            )
        )

    @extend_schema(request=s.VersionIn, responses={200: s.RequestOut, **ERRORS})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        data = _parsed(s.VersionIn, request)
        return Response(
            services.relief_request_cancel(
                actor=request.user,
                request_id=int(pk),
                version=data["version"],
                idempotency_key=idempotency_key(request),
            )
        )


class ReliefPackageViewSet(mixins.ListModelMixin, viewsets.GenericViewSet):
    permission_classes = [CanRead]
    lookup_value_regex = "[0-9]+"
    filterset_fields = ["status", "request"]

    def get_queryset(self):
        return selectors.package_queryset()

    @extend_schema(responses=s.PackageOut(many=True))
    def list(self, request, *args, **kwargs):
        page = self.paginate_queryset(self.filter_queryset(self.get_queryset()))
        return self.get_paginated_response(as_json({"p": selectors.package_dicts(page)})["p"])

    @extend_schema(responses={200: s.PackageOut, 404: ERRORS[404]})
    def retrieve(self, request, pk=None):
        return Response(as_json(selectors.package_detail(int(pk))))

    @extend_schema(request=s.PackageCreateIn, responses={201: s.PackageOut, **ERRORS})
    def create(self, request):
        data = _parsed(s.PackageCreateIn, request)
        out = services.relief_package_create(
            actor=request.user,
            request_id=data["request_id"],
            destination_warehouse_id=data["destination_warehouse_id"],
            notes=data["notes"],
            idempotency_key=idempotency_key(request),
        )
        return Response(out, status=status.HTTP_201_CREATED)

    @extend_schema(request=s.DraftIn, responses={200: s.PackageOut, **ERRORS})
    @action(detail=True, methods=["put"])
    def draft(self, request, pk=None):
        """Save Draft: the package holds exactly these allocations; its status does not change."""
        data = _parsed(s.DraftIn, request)
        return Response(
            services.relief_package_save_draft(
                actor=request.user,
                package_id=int(pk),
                version=data["version"],
                allocations=_lines(data["allocations"]),
                idempotency_key=idempotency_key(request),
            )
        )

    def _versioned(self, request, pk, service, serializer=s.VersionIn, fields=()):
        data = _parsed(serializer, request)
        return Response(
            service(
                actor=request.user,
                package_id=int(pk),
                version=data["version"],
                idempotency_key=idempotency_key(request),
                **{k: data[k] for k in fields},
            )
        )

    @extend_schema(request=s.VersionIn, responses={200: s.PackageOut, **ERRORS})
    @action(detail=True, methods=["post"])
    def submit(self, request, pk=None):
        return self._versioned(request, pk, services.relief_package_submit)

    @extend_schema(request=s.ApproveIn, responses={200: s.PackageOut, **ERRORS})
    @action(detail=True, methods=["post"], url_path="approve-dispatch")
    def approve_dispatch(self, request, pk=None):
        data = _parsed(s.ApproveIn, request)
        return Response(
            services.relief_package_approve_dispatch(
                actor=request.user,
                package_id=int(pk),
                version=data["version"],
                allocations=_lines(data.get("allocations")),
                batch_versions=data.get("batch_versions"),
                override_reason=data["override_reason"],
                idempotency_key=idempotency_key(request),
            )
        )

    @extend_schema(request=s.SendIn, responses={200: s.PackageOut, **ERRORS})
    @action(detail=True, methods=["post"], url_path="send-to-dispatch")
    def send_to_dispatch(self, request, pk=None):
        data = _parsed(s.SendIn, request)
        return Response(
            services.relief_package_send_to_dispatch(
                actor=request.user,
                package_id=int(pk),
                version=data["version"],
                batch_versions=data.get("batch_versions"),
                override_reason=data["override_reason"],
                idempotency_key=idempotency_key(request),
            )
        )

    @extend_schema(request=s.CancelIn, responses={200: s.PackageOut, **ERRORS})
    @action(detail=True, methods=["post"])
    def cancel(self, request, pk=None):
        return self._versioned(request, pk, services.relief_package_cancel, s.CancelIn, fields=("reason",))

    @extend_schema(request=s.VersionIn, responses={200: s.PackageOut, **ERRORS})
    @action(detail=True, methods=["post"])
    def handover(self, request, pk=None):
        return self._versioned(request, pk, services.relief_package_handover)

    @extend_schema(request=s.VersionIn, responses={200: s.PackageOut, **ERRORS})
    @action(detail=True, methods=["post"])
    def receive(self, request, pk=None):
        return self._versioned(request, pk, services.relief_package_receive)


class BatchDrawerView(APIView):
    """The batch drawer: usable batches of an item in its issuance order, with a suggested allocation."""

    permission_classes = [CanRead]

    @extend_schema(
        operation_id="item_batches_drawer",
        parameters=[
            OpenApiParameter("warehouse", str, description="warehouse id, or several separated by commas"),
            OpenApiParameter("package", int, description="the package being prepared: its holdings count as available"),
            OpenApiParameter("qty", str, description="quantity to suggest an allocation for (default: outstanding)"),
        ],
        responses={200: s.DrawerOut, 400: ERRORS[400], 404: ERRORS[404]},
    )
    def get(self, request, pk: int):
        p = request.query_params
        out = selectors.batch_drawer(
            item_id=pk, warehouse=p.get("warehouse"), package=p.get("package"), qty=p.get("qty")
        )
        return Response(as_json(out))


class _Passthrough(BaseRenderer):
    """Renders a finished document as is; an error dict (from the exception handler) as JSON text."""

    def render(self, data, accepted_media_type=None, renderer_context=None):
        if isinstance(data, bytes | str):
            return data
        return json.dumps(data, cls=DjangoJSONEncoder).encode()


class HTMLRenderer(_Passthrough):
    media_type, format, charset = "text/html", "html", "utf-8"


class PDFRenderer(_Passthrough):
    media_type, format, charset = "application/pdf", "pdf", None


class WaybillHTMLView(APIView):
    permission_classes = [CanRead]
    renderer_classes = [JSONRenderer, HTMLRenderer]

    @extend_schema(
        operation_id="relief_packages_waybill_html",
        responses={(200, "text/html"): OpenApiTypes.STR, 404: ERRORS[404], 409: ERRORS[409]},
    )
    def get(self, request, pk: int):
        return HttpResponse(waybill.waybill_html(pk), content_type="text/html; charset=utf-8")


class WaybillPDFView(APIView):
    permission_classes = [CanRead]
    renderer_classes = [JSONRenderer, PDFRenderer]

    @extend_schema(
        operation_id="relief_packages_waybill_pdf",
        responses={(200, "application/pdf"): OpenApiTypes.BINARY, 404: ERRORS[404], 409: ERRORS[409]},
    )
    def get(self, request, pk: int):
        pdf = waybill.waybill_pdf(pk)
        response = HttpResponse(pdf, content_type="application/pdf")
        response["Content-Disposition"] = f'inline; filename="waybill-{pk}.pdf"'
        return response


router = SimpleRouter()
router.register("relief-requests", ReliefRequestViewSet, basename="relief-request")
router.register("relief-packages", ReliefPackageViewSet, basename="relief-package")

urlpatterns = [
    path("items/<int:pk>/batches/", BatchDrawerView.as_view(), name="item-batches-drawer"),
    path("relief-packages/<int:pk>/waybill/", WaybillHTMLView.as_view(), name="relief-package-waybill"),
    re_path(r"^relief-packages/(?P<pk>[0-9]+)/waybill\.pdf/?$", WaybillPDFView.as_view(), name="relief-package-pdf"),
    *router.urls,
]
