"""Pre-annotation over the API: the active model's prediction for a task as shapes accepted
without a human and suggestions to review. Anyone who may see the task may read them
("task.view" through annotate.permissions); other projects' tasks are 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.predictions.suggestions import task_suggestions
from annotate.auth import LeanTokenAuthentication
from annotate.models import AnnotationTask
from annotate.permissions import get_object_for


class TaskSuggestions(APIView):
    """GET {"model_version", "accepted": [shape], "suggestions": [shape]}; shapes are in the
    save format of /api/tasks/<id>/annotation/ plus "type" ("box" | "kp")."""

    authentication_classes = [LeanTokenAuthentication, SessionAuthentication]

    @extend_schema(responses={200: dict})
    def get(self, request, pk: int) -> Response:
        queryset = AnnotationTask.objects.select_related("project", "asset")
        task = get_object_for(request.user, "task.view", queryset, pk=pk)
        return Response(task_suggestions(task=task))
