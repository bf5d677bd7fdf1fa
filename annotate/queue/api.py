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

from annotate.api.errors import ErrorSerializer, RefusalSerializer
from annotate.auth import LeanTokenAuthentication
from annotate.models import AnnotationTask
from annotate.permissions import project_for

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


class LeasedTaskSerializer(serializers.Serializer):
    """A task as the labeling page needs it, with the user's lease."""

    id = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=AnnotationTask.Kind.choices)
    asset = serializers.IntegerField()
    frame_start = serializers.IntegerField(allow_null=True)
    frame_end = serializers.IntegerField(allow_null=True)
    frame_count = serializers.IntegerField()
    state = serializers.ChoiceField(choices=AnnotationTask.State.choices)
    lease_expires_at = serializers.DateTimeField()
    priority = serializers.FloatField()


class NextTaskAnswer(serializers.Serializer):
    task = LeasedTaskSerializer(allow_null=True, help_text="null: no task left for you.")
    detail = serializers.CharField(required=False, help_text="Why there is no task.")


class HeartbeatAnswer(serializers.Serializer):
    lease_expires_at = serializers.DateTimeField()


class SkipAnswer(serializers.Serializer):
    id = serializers.IntegerField()
    state = serializers.ChoiceField(choices=AnnotationTask.State.choices)
    skip_reason = serializers.CharField()


class SubmitAnswer(serializers.Serializer):
    version = serializers.IntegerField(help_text="The submission's annotation version.")


# Service errors (409 lease_lost, too_many_leases, version conflicts; 402/409 budget) are
# answered by the one exception handler (annotate.api.errors).
REFUSALS = {400: RefusalSerializer, 409: ErrorSerializer}


# Shapes the lease's expiry exactly as LeasedTaskSerializer's field does (ISO 8601 in the
# current time zone, "Z" for UTC); used unbound, it reads no state of a serializer.
_EXPIRES_AT = serializers.DateTimeField()


def leased_task_data(lease) -> dict:
    """The task of a lease as the labeling page needs it (no query: lease.task is loaded):
    LeasedTaskSerializer's output, built as a plain dict. Next-task answers with this on
    every claim, and building the serializer (a deep copy of its declared fields per
    instance) cost more CPU than the rest of the view; tests compare the two outputs."""
    task = lease.task
    return {
        "id": int(task.pk),
        "kind": str(task.kind),
        "asset": int(task.asset_id),
        "frame_start": None if task.frame_start is None else int(task.frame_start),
        "frame_end": None if task.frame_end is None else int(task.frame_end),
        "frame_count": int(task.frame_count),
        "state": str(task.state),
        "lease_expires_at": _EXPIRES_AT.to_representation(lease.expires_at),
        "priority": float(task.priority),
    }


def next_task_exclude(data) -> list[int]:
    """The validated `exclude` of a next-task body. The bodies the page and clients send
    (nothing, {}, or a short list of task ids as JSON numbers) are checked here, against
    the same bounds as NextTaskInput; anything else goes through NextTaskInput, so its
    400 answers and their messages stay the serializer's."""
    if type(data) is dict:  # a parsed JSON object (form bodies arrive as a QueryDict)
        if not data:
            return []
        if data.keys() == {"exclude"}:
            exclude = data["exclude"]
            if (
                type(exclude) is list
                and len(exclude) <= MAX_EXCLUDE
                and all(type(pk) is int and 1 <= pk <= 2**63 - 1 for pk in exclude)
            ):
                return exclude
    checked = NextTaskInput(data=data)
    checked.is_valid(raise_exception=True)
    return checked.validated_data["exclude"]


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

    @extend_schema(request=NextTaskInput, responses={200: NextTaskAnswer, **REFUSALS})
    def post(self, request, pk: int) -> Response:
        project = project_for(request.user, pk, "task.claim")
        exclude = next_task_exclude(request.data)
        lease = task_claim_next(user=request.user, project=project, exclude=exclude)
        if lease is None:
            return Response({"task": None, "detail": "No tasks left in this project."})
        return Response({"task": leased_task_data(lease)})


class Heartbeat(APIView):
    @extend_schema(request=None, responses={200: HeartbeatAnswer, **REFUSALS})
    def post(self, request, pk: int) -> Response:
        task = _task_for_holder(request.user, pk)
        lease = services.task_heartbeat(task=task, user=request.user)
        return Response(HeartbeatAnswer({"lease_expires_at": lease.expires_at}).data)


class Skip(APIView):
    @extend_schema(request=SkipInput, responses={200: SkipAnswer, **REFUSALS})
    def post(self, request, pk: int) -> Response:
        task = _task_for_holder(request.user, pk)
        data = SkipInput(data=request.data)
        data.is_valid(raise_exception=True)
        task = services.task_skip(
            task=task, user=request.user, reason=data.validated_data["reason"]
        )
        return Response(SkipAnswer(task).data)


class Submit(APIView):
    @extend_schema(request=SubmitInput, responses={200: SubmitAnswer, **REFUSALS})
    def post(self, request, pk: int) -> Response:
        task = _task_for_holder(request.user, pk)
        data = SubmitInput(data=request.data)
        data.is_valid(raise_exception=True)
        annotation = services.task_submit(task=task, user=request.user, **data.validated_data)
        return Response(SubmitAnswer({"version": annotation.version}).data)
