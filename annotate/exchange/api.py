"""REST endpoints for export and import jobs: thin views over the exchange services.

Access: "export.run" / "import.run" on the job's project. A project the user is not in does
not exist for them (404); one they see without the right gives 403.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from django.urls import reverse
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import serializers, status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.models import Project
from annotate.models.exchange_jobs import ExchangeFormat, ExportJob, ImportJob, JobState
from annotate.permissions import get_object_for
from annotate.services.errors import ServiceError

from . import services
from .selectors import STATES_BY_FILTER

EXPORT_ACTION = "export.run"
IMPORT_ACTION = "import.run"


def _project(user, action: str, pk: int) -> Project:
    return get_object_for(user, action, Project.objects, pk=pk)


def _error(error: ServiceError) -> Response:
    return Response(error.as_response_data(), status=error.status)


def _started(job, request, shape) -> Response:
    """202 with the job; 503 when the queue was unreachable (the job waits, saying why, and
    the jobs sweep sends it once the queue is back)."""
    job.refresh_from_db()
    unreachable = job.state == JobState.QUEUED and bool(job.error)
    code = status.HTTP_503_SERVICE_UNAVAILABLE if unreachable else status.HTTP_202_ACCEPTED
    return Response(shape(job, request), status=code)


class ExportInput(serializers.Serializer):
    format = serializers.ChoiceField(choices=ExchangeFormat.values)
    state = serializers.ChoiceField(choices=list(STATES_BY_FILTER), default="accepted")
    phase = serializers.ChoiceField(choices=ExportJob.Phase.values, default="label")
    date_from = serializers.DateField(required=False, allow_null=True, default=None)
    date_to = serializers.DateField(required=False, allow_null=True, default=None)


class ImportInput(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=list(services.IMPORT_FORMATS))
    # "as" is a Python keyword, so the field is declared below under its wire name.
    model_version = serializers.CharField(required=False, allow_blank=True, default="")
    skip_invalid = serializers.BooleanField(required=False, default=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["as"] = serializers.ChoiceField(
            choices=ImportJob.Mode.values, default="ground_truth"
        )
        return fields


def export_data(job: ExportJob, request) -> dict:
    data = {
        "id": job.pk,
        "project": job.project_id,
        "format": job.format,
        "state_filter": job.state_filter,
        "phase": job.phase,
        "date_from": job.date_from,
        "date_to": job.date_to,
        "state": job.state,
        "progress": round(job.progress, 4),
        "tasks_total": job.tasks_total,
        "tasks_done": job.tasks_done,
        "error": job.error,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "url": request.build_absolute_uri(reverse("api-export-detail", args=[job.pk])),
        "download_url": None,
    }
    if job.state == JobState.DONE and job.file:
        data["download_url"] = request.build_absolute_uri(
            reverse("api-export-download", args=[job.pk])
        )
    return data


def import_data(job: ImportJob, request) -> dict:
    return {
        "id": job.pk,
        "project": job.project_id,
        "format": job.format,
        "as": job.mode,
        "model_version": job.model_version_name,
        "skip_invalid": job.skip_invalid,
        "state": job.state,
        "progress": round(job.progress, 4),
        "records_total": job.records_total,
        "records_imported": job.records_imported,
        "records_failed": job.records_failed,
        "tasks_written": job.tasks_written,
        "error": job.error,
        "errors": job.errors,
        "created_at": job.created_at,
        "finished_at": job.finished_at,
        "url": request.build_absolute_uri(reverse("api-import-detail", args=[job.pk])),
    }


JOB = OpenApiResponse(OpenApiTypes.OBJECT, description="The job, with progress.")


class ExportList(APIView):
    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="A project's recent exports")
    def get(self, request, pk: int):
        project = _project(request.user, EXPORT_ACTION, pk)
        jobs = ExportJob.objects.filter(project=project)[:50]
        return Response([export_data(job, request) for job in jobs])

    @extend_schema(
        request=ExportInput,
        responses={202: JOB, 400: OpenApiTypes.OBJECT, 503: JOB},
        summary="Start an export job (COCO, YOLO, MOT or CVAT)",
    )
    def post(self, request, pk: int):
        project = _project(request.user, EXPORT_ACTION, pk)
        given = ExportInput(data=request.data)
        given.is_valid(raise_exception=True)
        values = given.validated_data
        try:
            job = services.export_create(
                project=project,
                user=request.user,
                format=values["format"],
                state_filter=values["state"],
                phase=values["phase"],
                date_from=values["date_from"],
                date_to=values["date_to"],
            )
        except ServiceError as error:
            return _error(error)
        return _started(job, request, export_data)


def _export_job(request, pk: int) -> ExportJob:
    job = ExportJob.objects.filter(pk=pk).first()
    if job is None:
        raise Http404("Not found.")
    _project(request.user, EXPORT_ACTION, job.project_id)
    return job


class ExportDetail(APIView):
    @extend_schema(responses={200: JOB}, summary="An export job: progress and download URL")
    def get(self, request, pk: int):
        return Response(export_data(_export_job(request, pk), request))


class ExportDownload(APIView):
    @extend_schema(
        responses={
            (200, "application/octet-stream"): OpenApiTypes.BINARY,
            409: OpenApiTypes.OBJECT,
        },
        summary="Download a finished export (streamed)",
    )
    def get(self, request, pk: int):
        job = _export_job(request, pk)
        if job.state != JobState.DONE or not job.file:
            return Response(
                {"detail": "The export is not ready.", "code": "not_ready", "state": job.state},
                status=status.HTTP_409_CONFLICT,
            )
        content_type = "application/json" if job.format == "coco" else "application/zip"
        # FileResponse streams in blocks and encodes the file name for Content-Disposition.
        return FileResponse(
            job.file.open("rb"),
            as_attachment=True,
            filename=job.download_name or f"export-{job.pk}",
            content_type=content_type,
        )


class ImportList(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(responses={200: OpenApiTypes.OBJECT}, summary="A project's recent imports")
    def get(self, request, pk: int):
        project = _project(request.user, IMPORT_ACTION, pk)
        jobs = ImportJob.objects.filter(project=project)[:50]
        return Response([import_data(job, request) for job in jobs])

    @extend_schema(
        request={"multipart/form-data": ImportInput},
        responses={202: JOB, 400: OpenApiTypes.OBJECT, 503: JOB},
        summary="Import a COCO, YOLO, MOT or CVAT file as ground truth or predictions",
    )
    def post(self, request, pk: int):
        project = _project(request.user, IMPORT_ACTION, pk)
        given = ImportInput(data=request.data)
        given.is_valid(raise_exception=True)
        values = given.validated_data
        try:
            job = services.import_create(
                project=project,
                user=request.user,
                format=values["format"],
                upload=values["file"],
                mode=values["as"],
                model_version_name=values["model_version"],
                skip_invalid=values["skip_invalid"],
            )
        except ServiceError as error:
            return _error(error)
        return _started(job, request, import_data)


class ImportDetail(APIView):
    @extend_schema(responses={200: JOB}, summary="An import job: progress and per-record errors")
    def get(self, request, pk: int):
        job = ImportJob.objects.filter(pk=pk).first()
        if job is None:
            raise Http404("Not found.")
        _project(request.user, IMPORT_ACTION, job.project_id)
        return Response(import_data(job, request))
