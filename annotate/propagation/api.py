"""REST endpoints of propagation: start one on a task, watch it, undo it. Thin: check access
as the rest of the labeling API does (starting and undoing is changing the task: "task.label";
watching is seeing it: "task.view"), call one service, shape the answer. Service errors become
their HTTP answers in annotate.api.errors.exception_handler.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import OpenApiResponse, extend_schema
from rest_framework import status
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.api.errors import ErrorSerializer, RefusalSerializer
from annotate.auth import LeanTokenAuthentication
from annotate.models import AnnotationTask
from annotate.models.propagation_jobs import JobState, PropagationJob
from annotate.permissions import get_object_for

from . import services
from .serializers import PropagationJobSerializer, PropagationStartInput


class PropagationAPIView(APIView):
    authentication_classes = [LeanTokenAuthentication, SessionAuthentication]

    def task(self, request: Request, action: str, pk: int) -> AnnotationTask:
        queryset = AnnotationTask.objects.select_related("project", "asset")
        return get_object_for(request.user, action, queryset, pk=pk)

    def job(self, request: Request, action: str, pk: int) -> PropagationJob:
        job = PropagationJob.objects.filter(pk=pk).first()
        if job is None:
            raise Http404("Not found.")
        # A job exists for whoever sees its task; 404 for the others, like the task.
        self.task(request, action, job.task_id)
        return job


class TaskPropagations(PropagationAPIView):
    def http_method_not_allowed(self, request, *args, **kwargs):
        # Another project's task is 404 for every method, as everywhere in the API.
        self.task(request, "task.view", kwargs["pk"])
        return super().http_method_not_allowed(request, *args, **kwargs)

    @extend_schema(
        responses={200: PropagationJobSerializer(many=True)},
        summary="A task's recent propagations (the running one first)",
    )
    def get(self, request: Request, pk: int) -> Response:
        task = self.task(request, "task.view", pk)
        jobs = PropagationJob.objects.filter(task=task)[:20]
        return Response(PropagationJobSerializer(jobs, many=True).data)

    @extend_schema(
        request=PropagationStartInput,
        responses={
            202: PropagationJobSerializer,
            400: RefusalSerializer,  # field errors, or a body that is not JSON
            409: ErrorSerializer,
            503: OpenApiResponse(
                PropagationJobSerializer,
                description="The queue was unreachable: the job waits, saying so in `error`, "
                "and is sent once the queue is back.",
            ),
        },
        summary="Carry tracks forward or backward along the video by optical flow",
    )
    def post(self, request: Request, pk: int) -> Response:
        task = self.task(request, "task.label", pk)
        body = request.data if isinstance(request.data, dict) else {}
        job = services.propagation_start(
            task=task,
            user=request.user,
            frame_id=body.get("frame"),
            tracks=body.get("tracks", "all"),
            direction=body.get("direction", PropagationJob.Direction.FORWARD),
            until=body.get("until", PropagationJob.Until.SEGMENT),
            base_version=body.get("base_version"),
        )
        job.refresh_from_db()
        waiting = job.state == JobState.QUEUED and bool(job.error)
        code = status.HTTP_503_SERVICE_UNAVAILABLE if waiting else status.HTTP_202_ACCEPTED
        return Response(PropagationJobSerializer(job).data, status=code)


class PropagationJobView(PropagationAPIView):
    def http_method_not_allowed(self, request, *args, **kwargs):
        self.job(request, "task.view", kwargs["pk"])
        return super().http_method_not_allowed(request, *args, **kwargs)


class PropagationDetail(PropagationJobView):
    @extend_schema(
        responses={200: PropagationJobSerializer}, summary="A propagation: progress and result"
    )
    def get(self, request: Request, pk: int) -> Response:
        job = self.job(request, "task.view", pk)
        return Response(PropagationJobSerializer(job).data)


class PropagationUndo(PropagationJobView):
    @extend_schema(
        request=None,
        responses={200: PropagationJobSerializer, 409: ErrorSerializer},
        summary="Undo a propagation: each task it wrote gets its version from before, anew",
    )
    def post(self, request: Request, pk: int) -> Response:
        job = self.job(request, "task.label", pk)
        job = services.propagation_undo(job=job, user=request.user)
        return Response(PropagationJobSerializer(job).data)
