"""Scoring runs over the API: their progress (chunks done of total) for project managers and
ML engineers, and a manual start. Access through annotate.permissions: "queue.view" to
read, "model.manage" to start; other projects are 404."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.models import ModelVersion, ScoringRun
from activelearn.scoring.runs import scoring_run_start
from annotate.api.errors import ErrorSerializer, RefusalSerializer
from annotate.models import Project
from annotate.permissions import get_object_for


class ScoringRunSerializer(serializers.ModelSerializer):
    model_version_name = serializers.CharField(
        source="model_version.name", default=None, allow_null=True
    )
    progress = serializers.SerializerMethodField()

    class Meta:
        model = ScoringRun
        fields = [
            "id",
            "reason",
            "state",
            "model_version",
            "model_version_name",
            "chunks_done",
            "chunks_total",
            "progress",
            "tasks_scored",
            "error",
            "created_at",
            "finished_at",
        ]

    def get_progress(self, run: ScoringRun) -> float:
        if run.state == ScoringRun.State.DONE:
            return 1.0
        return round(run.chunks_done / run.chunks_total, 4) if run.chunks_total else 0.0


class ScoringRunPage(serializers.Serializer):
    count = serializers.IntegerField()
    next = serializers.URLField(allow_null=True)
    previous = serializers.URLField(allow_null=True)
    results = ScoringRunSerializer(many=True)


class ScoringRunStartInput(serializers.Serializer):
    model_version = serializers.IntegerField(
        required=False, help_text="A version of this project; default: the active one."
    )


class ScoringRunNotSent(serializers.Serializer):
    detail = serializers.CharField(help_text="Why the run could not be sent to a worker.")
    run = ScoringRunSerializer(help_text="The run, queued: it is sent again later.")


class ScoringRuns(APIView):
    @extend_schema(
        operation_id="projects_scoring_runs_list",  # a list, though not a bare array
        parameters=[OpenApiParameter("page", int, description="A page number (from 1).")],
        responses={200: ScoringRunPage},
    )
    def get(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "queue.view", Project.objects, pk=pk)
        runs = ScoringRun.objects.filter(project=project).select_related("model_version")
        paginator = PageNumberPagination()
        page = paginator.paginate_queryset(runs.order_by("-created_at", "-id"), request, view=self)
        return paginator.get_paginated_response(ScoringRunSerializer(page, many=True).data)

    @extend_schema(
        request=ScoringRunStartInput,
        responses={
            202: ScoringRunSerializer,
            400: RefusalSerializer,  # field errors, or a body that is not JSON
            503: OpenApiResponse(
                ScoringRunNotSent, description="The broker was unreachable; the run waits."
            ),
        },
    )
    def post(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "model.manage", Project.objects, pk=pk)
        data = ScoringRunStartInput(data=request.data)
        data.is_valid(raise_exception=True)
        version = None
        if "model_version" in data.validated_data:
            version = ModelVersion.objects.filter(
                project=project, pk=data.validated_data["model_version"]
            ).first()
            if version is None:
                return Response(
                    {"model_version": ["No such model version in this project."]},
                    status=status.HTTP_400_BAD_REQUEST,
                )
        run = scoring_run_start(
            project=project, reason=ScoringRun.Reason.MANUAL, model_version=version
        )
        run.refresh_from_db()
        body = ScoringRunSerializer(run).data
        if run.state == ScoringRun.State.QUEUED and run.error:
            return Response(
                {"detail": run.error, "run": body}, status=status.HTTP_503_SERVICE_UNAVAILABLE
            )
        return Response(body, status=status.HTTP_202_ACCEPTED)


class ScoringRunDetail(APIView):
    @extend_schema(responses={200: ScoringRunSerializer, 404: ErrorSerializer})
    def get(self, request, pk: int, run_id: int) -> Response:
        project = get_object_for(request.user, "queue.view", Project.objects, pk=pk)
        run = ScoringRun.objects.filter(project=project, pk=run_id).first()
        if run is None:
            return Response({"detail": "Not found."}, status=status.HTTP_404_NOT_FOUND)
        return Response(ScoringRunSerializer(run).data)
