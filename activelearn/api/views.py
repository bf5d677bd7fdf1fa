"""The queue's endpoints: next task, heartbeat, skip, submit, and the ranked queue view.

Projects are fetched through annotate.permissions: a project (or a task of a project) the
user is not in is 404; a role that may not take tasks is 403. Whether the user holds the
task (what "task.label" on an own task means) is the service's question, read from the
lease rows so that it also holds for the k annotators of one task; losing it is 409
lease_lost, so the page can tell it apart from a task that never was theirs.
"""

from __future__ import annotations

from django.core.exceptions import PermissionDenied
from django.db import connection
from django.http import Http404
from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.pagination import PageNumberPagination
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.api.auth import LeanTokenAuthentication
from activelearn.api.serializers import (
    NextTaskInput,
    QueueTaskSerializer,
    RankedQueuePage,
    SkipInput,
    SubmitInput,
    leased_task_data,
)
from activelearn.models import ModelVersion
from annotate.models import AnnotationTask, Membership, Project
from annotate.permissions import ANY, get_object_for, role_in, rule
from annotate.services.errors import ServiceError

from .. import queue, selectors


def _error(err: ServiceError) -> Response:
    return Response(err.as_response_data(), status=err.status)


def _project_for(user, pk: int, action: str, *, role_of=role_in) -> Project:
    """The project, for a user who may do `action` in it: 404 unless the user is in it, 403
    unless their role may. Decided from the user's roles (one query, shared with the rest of
    the request) and the permission table; the project row itself is left to the service,
    which reads it with its queue settings. (get_object_for with "task.claim" would judge
    visibility by "task.view", which an annotator has only on their own tasks.)"""
    if user.is_superuser:
        return get_object_for(user, "project.view", Project.objects, pk=pk)
    role = role_of(user, pk)
    if role is None:
        raise Http404("Not found.")
    if rule(action, role) != ANY:
        raise PermissionDenied(f"You may not do {action} here.")
    # A membership's project exists (foreign key), so a reference by id is enough here.
    return Project(pk=pk)


def _task_for_holder(user, pk: int) -> AnnotationTask:
    """The task, if it lies in a project where the user may take tasks."""
    task = AnnotationTask.objects.filter(pk=pk).first()
    if task is None:
        raise Http404("Not found.")
    _project_for(user, task.project_id, "task.claim")
    return task


def _role_in(user, project_id: int) -> str | None:
    """The user's role in the project, in one plain statement (next-task's hot path)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT role FROM {Membership._meta.db_table}"  # noqa: S608
            " WHERE user_id = %s AND project_id = %s",
            [user.pk, project_id],
        )
        row = cursor.fetchone()
    return row[0] if row else None


class NextTask(APIView):
    # Session (with its CSRF check) as everywhere; the token read in one SQL statement.
    authentication_classes = [SessionAuthentication, LeanTokenAuthentication]

    @extend_schema(request=NextTaskInput, responses={200: dict, 409: dict})
    def post(self, request, pk: int) -> Response:
        project = _project_for(request.user, pk, "task.claim", role_of=_role_in)
        data = NextTaskInput(data=request.data)
        data.is_valid(raise_exception=True)
        try:
            lease = queue.task_claim_next(
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
            lease = queue.task_heartbeat(task=task, user=request.user)
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
            task = queue.task_skip(
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
            annotation = queue.task_submit(task=task, user=request.user, **data.validated_data)
        except ServiceError as err:
            return _error(err)
        return Response({"version": annotation.version})


class QueuePagination(PageNumberPagination):
    page_size = 50
    page_size_query_param = "page_size"
    max_page_size = 200


class RankedQueue(APIView):
    """The project's queue in the order tasks are handed out, with each task's score and
    its breakdown per strategy, the model version the scores come from, and the budget."""

    @extend_schema(
        operation_id="projects_queue_list",  # a list, though not a bare array
        parameters=[
            OpenApiParameter("page", int, description="A page number (from 1)."),
            OpenApiParameter("page_size", int, description="Tasks per page, at most 200."),
        ],
        responses={200: RankedQueuePage},
    )
    def get(self, request, pk: int) -> Response:
        project = _project_for(request.user, pk, "queue.view")
        version = ModelVersion.objects.active_for(project)
        paginator = QueuePagination()
        page = paginator.paginate_queryset(
            selectors.queue_ranked(project=project, model_version=version), request, view=self
        )
        first_rank = (paginator.page.number - 1) * paginator.get_page_size(request) + 1
        for offset, task in enumerate(page):
            task.rank = first_rank + offset
        response = paginator.get_paginated_response(QueueTaskSerializer(page, many=True).data)
        response.data["model_version"] = version.name if version else None
        response.data["budget"] = selectors.budget_remaining(project=project)
        return response
