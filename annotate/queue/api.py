"""The queue's endpoints: next task, heartbeat, skip, submit.

Projects are checked through annotate.permissions: a project (or a task of a project) the
user is not in is 404; a role that may not take tasks is 403. Whether the user holds the
task is the service's question, read from their own lease row, so it holds for each of the
k annotators of one task; losing it is 409 lease_lost, so the page can tell it apart from a
task that never was theirs.
"""

from __future__ import annotations

from django.http import Http404
from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from annotate.auth import LeanTokenAuthentication
from annotate.models import AnnotationTask
from annotate.permissions import project_for
from annotate.services.errors import ServiceError

from . import services
from .claim import task_claim_next

MAX_EXCLUDE = 20


class NextTaskInput(serializers.Serializer):
    exclude = serializers.ListField(
        # Ids are PostgreSQL bigints: a larger number is a 400, not a database error.
        child=serializers.IntegerField(min_value=1, max_value=2**63 - 1),
        required=False,
        default=list,
        max_length=MAX_EXCLUDE,
        help_text="Task ids not to return (the page's current task, when prefetching).",
    )


class SkipInput(serializers.Serializer):
    reason = serializers.CharField(max_length=2000, help_text="Why the task cannot be labeled.")


class SubmitInput(serializers.Serializer):
    base_version = serializers.IntegerField(min_value=1, max_value=2**31 - 1, allow_null=True)
    payload = serializers.DictField()
    force = serializers.BooleanField(required=False, default=False)


def leased_task_data(lease) -> dict:
    """The task of a lease as the labeling page needs it (no query: lease.task is loaded)."""
    task = lease.task
    return {
        "id": task.pk,
        "kind": task.kind,
        "asset": task.asset_id,
        "frame_start": task.frame_start,
        "frame_end": task.frame_end,
        "frame_count": task.frame_count,
        "state": task.state,
        "lease_expires_at": serializers.DateTimeField().to_representation(lease.expires_at),
        "priority": task.priority,
    }


def _error(err: ServiceError) -> Response:
    return Response(err.as_response_data(), status=err.status)


def _task_for_holder(user, pk: int) -> AnnotationTask:
    """The task, if it lies in a project where the user may take tasks."""
    task = AnnotationTask.objects.filter(pk=pk).first()
    if task is None:
        raise Http404("Not found.")
    project_for(user, task.project_id, "task.claim")
    return task


class NextTask(APIView):
    # Session (with its CSRF check) as everywhere, then the token.
    authentication_classes = [SessionAuthentication, LeanTokenAuthentication]

    @extend_schema(request=NextTaskInput, responses={200: dict, 409: dict})
    def post(self, request, pk: int) -> Response:
        project = project_for(request.user, pk, "task.claim")
        data = NextTaskInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            lease = task_claim_next(
                user=request.user, project=project, exclude=data.validated_data["exclude"]
            )
        except ServiceError as err:
            return _error(err)
        if lease is None:
            return Response({"task": None, "detail": "No tasks left in this project."})
        return Response({"task": leased_task_data(lease)})


class Heartbeat(APIView):
    @extend_schema(request=None, responses={200: dict, 409: dict})
    def post(self, request, pk: int) -> Response:
        task = _task_for_holder(request.user, pk)
        try:
            lease = services.task_heartbeat(task=task, user=request.user)
        except ServiceError as err:
            return _error(err)
        return Response({"lease_expires_at": leased_task_data(lease)["lease_expires_at"]})


class Skip(APIView):
    @extend_schema(request=SkipInput, responses={200: dict, 409: dict})
    def post(self, request, pk: int) -> Response:
        task = _task_for_holder(request.user, pk)
        data = SkipInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            task = services.task_skip(
                task=task, user=request.user, reason=data.validated_data["reason"]
            )
        except ServiceError as err:
            return _error(err)
        return Response({"id": task.pk, "state": task.state, "skip_reason": task.skip_reason})


class Submit(APIView):
    @extend_schema(request=SubmitInput, responses={200: dict, 400: dict, 409: dict})
    def post(self, request, pk: int) -> Response:
        task = _task_for_holder(request.user, pk)
        data = SubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            annotation = services.task_submit(task=task, user=request.user, **data.validated_data)
        except ServiceError as err:
            return _error(err)
        return Response({"version": annotation.version})
