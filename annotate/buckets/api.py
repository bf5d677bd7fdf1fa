"""REST endpoints of bucket sources: thin views over annotate.buckets.services.

Access: "asset.upload" on the source's project (managers and ML engineers), as uploading. A
project the user is not in does not exist for them (404); one they see without the right
gives 403. Service errors become their HTTP answers in annotate.api.errors.exception_handler.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.api.errors import ErrorSerializer, RefusalSerializer
from annotate.models import BucketRegistration, BucketSource, Project
from annotate.models.jobs import JobState
from annotate.permissions import get_object_for

from . import selectors, services
from .serializers import BucketRegistrationSerializer, BucketSourceInput, BucketSourceSerializer

ACTION = "asset.upload"


def _project(request, pk: int) -> Project:
    return get_object_for(request.user, ACTION, Project.objects, pk=pk)


def _source(request, pk: int) -> BucketSource:
    source = BucketSource.objects.filter(pk=pk).first()
    if source is None:
        raise Http404("Not found.")
    _project(request, source.project_id)
    return source


def _registration_status(job: BucketRegistration) -> int:
    """202; 503 when the queue was unreachable (the job waits, saying why)."""
    job.refresh_from_db()
    if job.state == JobState.QUEUED and job.error:
        return status.HTTP_503_SERVICE_UNAVAILABLE
    return status.HTTP_202_ACCEPTED


class BucketSourceList(APIView):
    @extend_schema(
        responses={200: BucketSourceSerializer(many=True)},
        summary="A project's bucket sources, with registration and decoding progress",
    )
    def get(self, request, pk: int):
        project = _project(request, pk)
        sources = selectors.project_sources(project.pk)
        return Response(
            BucketSourceSerializer(sources, many=True, context={"request": request}).data
        )

    @extend_schema(
        request=BucketSourceInput,
        responses={
            202: BucketSourceSerializer,
            400: RefusalSerializer,
            503: OpenApiResponse(
                BucketSourceSerializer,
                description="The queue was unreachable: the registration waits and is sent "
                "again by the jobs sweep.",
            ),
        },
        summary="Point the project at a bucket and prefix; register its objects (a job)",
    )
    def post(self, request, pk: int):
        project = _project(request, pk)
        given = BucketSourceInput(data=request.data)
        given.is_valid(raise_exception=True)
        source, job = services.bucket_source_create(
            project=project, user=request.user, **given.validated_data
        )
        code = _registration_status(job)
        (source,) = selectors.sources_with_progress([source])
        return Response(BucketSourceSerializer(source, context={"request": request}).data, code)


class BucketSourceDetail(APIView):
    @extend_schema(
        responses={200: BucketSourceSerializer},
        summary="A bucket source: its assets by state and latest registration",
    )
    def get(self, request, pk: int):
        (source,) = selectors.sources_with_progress([_source(request, pk)])
        return Response(BucketSourceSerializer(source, context={"request": request}).data)


class BucketRegistrationList(APIView):
    @extend_schema(
        request=None,
        responses={
            202: BucketRegistrationSerializer,
            409: OpenApiResponse(
                ErrorSerializer, description="A registration of it is still running."
            ),
            503: OpenApiResponse(BucketRegistrationSerializer, description="Queue unreachable."),
        },
        summary="List the bucket again: new objects become assets and tasks",
    )
    def post(self, request, pk: int):
        job = services.bucket_registration_start(source=_source(request, pk), user=request.user)
        code = _registration_status(job)
        return Response(BucketRegistrationSerializer(job, context={"request": request}).data, code)


class BucketRegistrationDetail(APIView):
    @extend_schema(
        responses={200: BucketRegistrationSerializer},
        summary="A registration: objects listed, assets and tasks made, skipped",
    )
    def get(self, request, pk: int):
        job = BucketRegistration.objects.filter(pk=pk).first()
        if job is None:
            raise Http404("Not found.")
        _source(request, job.source_id)
        return Response(BucketRegistrationSerializer(job, context={"request": request}).data)
