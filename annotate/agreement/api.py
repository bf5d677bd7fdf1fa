"""GET endpoints of agreement: a task's consensus, a project's agreement. Reviewers,
managers and ML engineers of the project (the permission table's "quality.view")."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.request import Request
from rest_framework.response import Response
from rest_framework.views import APIView

from ..auth import LeanTokenAuthentication
from ..models import AnnotationTask, Project
from ..permissions import get_object_for
from .selectors import project_agreement, task_consensus
from .serializers import ProjectAgreementSerializer, TaskConsensusSerializer


class TaskConsensusView(APIView):
    """Each annotator's submission, the merged consensus, and how well they agreed (per
    merged shape and track, per class and per joint)."""

    authentication_classes = [LeanTokenAuthentication, SessionAuthentication]

    @extend_schema(responses={200: TaskConsensusSerializer})
    def get(self, request: Request, pk: int) -> Response:
        task = get_object_for(request.user, "quality.view", AnnotationTask.objects, pk=pk)
        return Response(task_consensus(task))

    def http_method_not_allowed(self, request, *args, **kwargs):
        # A task the user cannot see is 404 for every method, also the ones this lacks.
        get_object_for(request.user, "task.view", AnnotationTask.objects, pk=kwargs["pk"])
        return super().http_method_not_allowed(request, *args, **kwargs)


class ProjectAgreementView(APIView):
    """Agreement per task, per annotator (against the consensus), per class and per joint."""

    authentication_classes = [LeanTokenAuthentication, SessionAuthentication]

    @extend_schema(responses={200: ProjectAgreementSerializer})
    def get(self, request: Request, pk: int) -> Response:
        project = get_object_for(request.user, "quality.view", Project.objects, pk=pk)
        return Response(project_agreement(project))

    def http_method_not_allowed(self, request, *args, **kwargs):
        # Another project is 404 for every method, also the ones this endpoint lacks.
        get_object_for(request.user, "project.view", Project.objects, pk=kwargs["pk"])
        return super().http_method_not_allowed(request, *args, **kwargs)
