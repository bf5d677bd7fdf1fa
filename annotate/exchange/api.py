"""REST endpoints for export and import jobs: thin views over the exchange services.

Access: "export.run" / "import.run" on the job's project. A project the user is not in does
not exist for them (404); one they see without the right gives 403. Service errors become
their HTTP answers in annotate.api.errors.exception_handler.
"""

from __future__ import annotations

from django.http import FileResponse, Http404
from drf_spectacular.types import OpenApiTypes
from drf_spectacular.utils import OpenApiResponse, PolymorphicProxySerializer, extend_schema
from rest_framework import status
from rest_framework.parsers import FormParser, MultiPartParser
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.api.errors import ErrorSerializer, RefusalSerializer
from annotate.models import Project
from annotate.models.exchange_jobs import ExportJob, ImportJob, JobState
from annotate.permissions import get_object_for

from . import services
from .serializers import (
    CocoFileSerializer,
    ExportInput,
    ExportJobSerializer,
    ImportInput,
    ImportJobSerializer,
    LabelStudioTaskSerializer,
)
from .writers import FILE_TYPES

EXPORT_ACTION = "export.run"
IMPORT_ACTION = "import.run"


def _project(user, action: str, pk: int) -> Project:
    return get_object_for(user, action, Project.objects, pk=pk)


def _started(job, request, serializer_class) -> Response:
    """202 with the job; 503 when the queue was unreachable (the job waits, saying why, and
    the jobs sweep sends it once the queue is back)."""
    job.refresh_from_db()
    unreachable = job.state == JobState.QUEUED and bool(job.error)
    code = status.HTTP_503_SERVICE_UNAVAILABLE if unreachable else status.HTTP_202_ACCEPTED
    return Response(serializer_class(job, context={"request": request}).data, status=code)


def _started_responses(serializer_class) -> dict:
    return {
        202: serializer_class,
        400: RefusalSerializer,
        503: OpenApiResponse(
            serializer_class, description="The queue was unreachable: the job failed at once."
        ),
    }


class ExportList(APIView):
    @extend_schema(
        responses={200: ExportJobSerializer(many=True)}, summary="A project's recent exports"
    )
    def get(self, request, pk: int):
        project = _project(request.user, EXPORT_ACTION, pk)
        jobs = ExportJob.objects.filter(project=project)[:50]
        return Response(ExportJobSerializer(jobs, many=True, context={"request": request}).data)

    @extend_schema(
        request=ExportInput,
        responses=_started_responses(ExportJobSerializer),
        summary="Start an export job (COCO, YOLO, MOT or CVAT)",
    )
    def post(self, request, pk: int):
        project = _project(request.user, EXPORT_ACTION, pk)
        given = ExportInput(data=request.data)
        given.is_valid(raise_exception=True)
        values = given.validated_data
        job = services.export_create(
            project=project,
            user=request.user,
            format=values["format"],
            state_filter=values["state"],
            phase=values["phase"],
            date_from=values["date_from"],
            date_to=values["date_to"],
            include_images=values["include_images"],
            skeletons=values["skeletons"],
        )
        return _started(job, request, ExportJobSerializer)


def _export_job(request, pk: int) -> ExportJob:
    job = ExportJob.objects.filter(pk=pk).first()
    if job is None:
        raise Http404("Not found.")
    _project(request.user, EXPORT_ACTION, job.project_id)
    return job


class ExportDetail(APIView):
    @extend_schema(
        responses={200: ExportJobSerializer}, summary="An export job: progress and download URL"
    )
    def get(self, request, pk: int):
        job = _export_job(request, pk)
        return Response(ExportJobSerializer(job, context={"request": request}).data)


class ExportDownload(APIView):
    @extend_schema(
        responses={
            (200, "application/json"): OpenApiResponse(
                PolymorphicProxySerializer(
                    component_name="ExportJsonFile",
                    serializers=[CocoFileSerializer, LabelStudioTaskSerializer(many=True)],
                    resource_type_field_name=None,
                    many=False,
                ),
                description="COCO: an object; Label Studio: a list of tasks.",
            ),
            (200, "application/zip"): OpenApiResponse(
                OpenApiTypes.BINARY, description="YOLO, MOT and CVAT video: a zip."
            ),
            409: OpenApiResponse(ErrorSerializer, description="Not done yet (code not_ready)."),
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
        content_type = FILE_TYPES[job.format][1]
        # FileResponse streams in blocks and encodes the file name for Content-Disposition.
        return FileResponse(
            job.file.open("rb"),
            as_attachment=True,
            filename=job.download_name or f"export-{job.pk}",
            content_type=content_type,
        )


class ImportList(APIView):
    parser_classes = [MultiPartParser, FormParser]

    @extend_schema(
        responses={200: ImportJobSerializer(many=True)}, summary="A project's recent imports"
    )
    def get(self, request, pk: int):
        project = _project(request.user, IMPORT_ACTION, pk)
        jobs = ImportJob.objects.filter(project=project)[:50]
        return Response(ImportJobSerializer(jobs, many=True, context={"request": request}).data)

    @extend_schema(
        request={"multipart/form-data": ImportInput},
        responses=_started_responses(ImportJobSerializer),
        summary="Import a COCO, YOLO, MOT or CVAT file as ground truth or predictions",
    )
    def post(self, request, pk: int):
        project = _project(request.user, IMPORT_ACTION, pk)
        given = ImportInput(data=request.data)
        given.is_valid(raise_exception=True)
        values = given.validated_data
        job = services.import_create(
            project=project,
            user=request.user,
            format=values["format"],
            upload=values["file"],
            mode=values["as"],
            model_version_name=values["model_version"],
            skip_invalid=values["skip_invalid"],
        )
        return _started(job, request, ImportJobSerializer)


class ImportDetail(APIView):
    @extend_schema(
        responses={200: ImportJobSerializer},
        summary="An import job: progress and per-record errors",
    )
    def get(self, request, pk: int):
        job = ImportJob.objects.filter(pk=pk).first()
        if job is None:
            raise Http404("Not found.")
        _project(request.user, IMPORT_ACTION, job.project_id)
        return Response(ImportJobSerializer(job, context={"request": request}).data)
