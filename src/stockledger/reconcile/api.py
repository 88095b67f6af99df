"""Reconcile API: GET verify/, POST recompute/, GET recompute-runs/ (included under /api/v1/).

Views parse input, call one service, serialise the result; the service authorises (reconcile.run).
"""

import contextlib

from django.db import IntegrityError, transaction
from django.urls import path
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework import generics, serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from stockledger.core.api import CanRead, idempotency_key
from stockledger.core.errors import Conflict, ValidationError
from stockledger.core.idempotency import as_json, fingerprint
from stockledger.core.models import IdempotencyRecord

from .models import RecomputeRun
from .recompute import recompute
from .verify import verify


class RecomputeRunSerializer(serializers.ModelSerializer):
    audit_job_id = serializers.CharField(source="job_id", read_only=True)

    class Meta:
        model = RecomputeRun
        fields = [
            "id",
            "started_at",
            "finished_at",
            "actor_name",
            "dry_run",
            "scope",
            "status",
            "chunk_size",
            "rows_checked",
            "rows_changed",
            "checkpoint",
            "summary",
            "error",
            "audit_job_id",
        ]
        read_only_fields = fields


class RecomputeInput(serializers.Serializer):
    dry_run = serializers.BooleanField(default=False)
    scope = serializers.ListField(child=serializers.CharField(max_length=8), required=False, allow_empty=True)
    resume = serializers.IntegerField(
        required=False,
        min_value=1,
        help_text="id of a run that did not finish: continue it after its last committed chunk (keeps its scope)",
    )


class DriftSerializer(serializers.Serializer):
    invariant = serializers.CharField()
    object_type = serializers.CharField()
    object_id = serializers.IntegerField(allow_null=True)
    key = serializers.CharField()
    field = serializers.CharField()
    stored = serializers.CharField(allow_null=True)
    derived = serializers.CharField(allow_null=True)
    difference = serializers.CharField(allow_null=True, help_text="stored − derived")
    note = serializers.CharField()
    repairable = serializers.BooleanField()


class VerifyReportSerializer(serializers.Serializer):
    ok = serializers.BooleanField()
    invariants = serializers.ListField(child=serializers.CharField())
    counts = serializers.DictField(help_text="checked rows per object type; drift rows per invariant")
    drift = DriftSerializer(many=True)
    started_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField()


class VerifyView(APIView):
    """Check the invariants now and return every drift row (any role)."""

    permission_classes = [CanRead]

    @extend_schema(
        parameters=[OpenApiParameter("scope", str, description="invariant ids, comma-separated, e.g. I1,I4")],
        responses=VerifyReportSerializer,
    )
    def get(self, request):
        return Response(verify(request.query_params.get("scope") or None).as_dict())


class RecomputeView(APIView):
    """Run recompute (ADMIN / LOGISTICS_MANAGER). 409 recompute_running while another run holds the lock."""

    permission_classes = [CanRead]

    @extend_schema(request=RecomputeInput, responses=RecomputeRunSerializer)
    def post(self, request):
        body = RecomputeInput(data=request.data)
        if not body.is_valid():
            raise ValidationError("The request is not valid.", fields=body.errors)
        args = {"dry_run": body.validated_data["dry_run"], "scope": body.validated_data.get("scope") or None}
        if "resume" in body.validated_data:
            args["resume"] = body.validated_data["resume"]
        key = idempotency_key(request)
        if key and (rec := IdempotencyRecord.objects.filter(key=key).first()):
            if rec.operation != "recompute" or rec.fingerprint != fingerprint(args):
                raise Conflict(
                    "This Idempotency-Key was already used for a different request.",
                    code="idempotency_key_reused",
                    extra={"operation": rec.operation},
                )
            return Response(rec.result)
        run = recompute(actor=request.user, **args)
        result = as_json(RecomputeRunSerializer(run).data)
        if key:
            # A concurrent first try with the same key may have stored its result first: keep that one.
            with contextlib.suppress(IntegrityError), transaction.atomic():
                IdempotencyRecord.objects.create(
                    key=key, operation="recompute", fingerprint=fingerprint(args), actor=request.user, result=result
                )
        return Response(result)


class RecomputeRunList(generics.ListAPIView):
    """Recompute runs, newest first (paginated)."""

    permission_classes = [CanRead]
    serializer_class = RecomputeRunSerializer
    queryset = RecomputeRun.objects.all()


class RecomputeRunDetail(generics.RetrieveAPIView):
    permission_classes = [CanRead]
    serializer_class = RecomputeRunSerializer
    queryset = RecomputeRun.objects.all()


urlpatterns = [
    path("verify/", VerifyView.as_view(), name="verify"),
    path("recompute/", RecomputeView.as_view(), name="recompute"),
    path("recompute-runs/", RecomputeRunList.as_view(), name="recompute-run-list"),
    path("recompute-runs/<int:pk>/", RecomputeRunDetail.as_view(), name="recompute-run-detail"),
]
