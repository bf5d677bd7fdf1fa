"""REST endpoints of the labeling page: a task's payload, its draft (GET/PUT) and the
reviewer's decision. Thin: check access, call one service or selector, shape the answer.
Service errors become their HTTP answers in annotate.api.errors.exception_handler.

An expired session answers 401 (token authentication is asked first, so DRF sends
WWW-Authenticate), which the page turns into "log in again; your draft is kept".
"""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..api.errors import ErrorSerializer
from ..auth import LeanTokenAuthentication
from ..models import AnnotationTask
from ..permissions import get_object_for
from ..queue.reviews import review_decide
from ..queue.selectors import has_own_versions
from ..selectors_labeling import annotation_data, latest_annotation, review_data, task_payload
from ..services.annotations import annotation_save
from ..services.errors import ServiceError
from .serializers import (
    AnnotationData,
    DraftSaved,
    DraftSaveInput,
    ReviewAnswer,
    ReviewInput,
    TaskPayloadSerializer,
)


class LabelingAPIView(APIView):
    authentication_classes = [LeanTokenAuthentication, SessionAuthentication]

    def task(self, request: Request, action: str, pk: int) -> AnnotationTask:
        queryset = AnnotationTask.objects.select_related("project", "asset", "annotator")
        return get_object_for(request.user, action, queryset, pk=pk)


class TaskPayloadView(LabelingAPIView):
    """GET: media, schema, latest version and latest review of one task."""

    @extend_schema(responses={200: TaskPayloadSerializer})
    def get(self, request: Request, pk: int) -> Response:
        task = self.task(request, "task.view", pk)
        return Response(task_payload(task, request.user))


class TaskAnnotationView(LabelingAPIView):
    """GET the latest version; PUT {"base_version", "force", "payload"} saves a new draft."""

    @extend_schema(responses={200: AnnotationData})
    def get(self, request: Request, pk: int) -> Response:
        task = self.task(request, "annotation.view", pk)
        return Response(annotation_data(latest_annotation(task, request.user)))

    @extend_schema(
        request=DraftSaveInput,
        responses={200: DraftSaved, 400: ErrorSerializer, 409: ErrorSerializer},
    )
    def put(self, request: Request, pk: int) -> Response:
        task = self.task(request, "task.label", pk)
        body = request.data if isinstance(request.data, dict) else {}
        errors: dict[str, list[str]] = {}
        base_version = body.get("base_version")
        if base_version is not None and (
            isinstance(base_version, bool)
            or not isinstance(base_version, int)
            or not 1 <= base_version <= 2**31 - 1  # stored as a PostgreSQL integer
        ):
            errors["base_version"] = ["A version number, or null for a task never saved."]
        force = body.get("force", False)
        if not isinstance(force, bool):
            errors["force"] = ["Must be true or false."]
        if "payload" not in body:
            errors["payload"] = ["This field is required."]
        if errors:
            # In the shape of the shape errors below, so the page reads both alike.
            raise ServiceError("The request is incomplete.", detail={"errors": errors})
        annotation = annotation_save(
            task=task,
            user=request.user,
            payload=body["payload"],
            base_version=base_version,
            force=force,
            own_chain=has_own_versions(task, request.user),
        )
        return Response(
            {
                "version": annotation.version,
                "kind": annotation.kind,
                "created_at": annotation.created_at.isoformat(),
            }
        )


class TaskReviewView(LabelingAPIView):
    """POST {"decision": "accept"|"reject", "comment": ".."}."""

    @extend_schema(
        request=ReviewInput,
        responses={200: ReviewAnswer, 400: ErrorSerializer, 409: ErrorSerializer},
    )
    def post(self, request: Request, pk: int) -> Response:
        task = self.task(request, "task.review", pk)
        body = request.data if isinstance(request.data, dict) else {}
        review = review_decide(
            task=task,
            reviewer=request.user,
            decision=body.get("decision", ""),
            comment=body.get("comment", "") if isinstance(body.get("comment"), str) else "",
        )
        task.refresh_from_db()
        return Response({"state": task.state, "review": review_data(review)})
