"""The ranked queue: the project's tasks in the order they are handed out, with each one's
score. Claiming, heartbeats, skips and submissions are annotate's (annotate.queue.api)."""

from __future__ import annotations

from drf_spectacular.utils import OpenApiParameter, extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.api.serializers import QueueTaskSerializer, RankedQueuePage
from activelearn.models import ModelVersion
from annotate.api.pagination import BoundedCountPagination
from annotate.permissions import project_for
from annotate.queue.selectors import budget_remaining

from .. import selectors


class QueuePagination(BoundedCountPagination):
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
        project = project_for(request.user, pk, "queue.view")
        version = ModelVersion.objects.active_for(project)
        paginator = QueuePagination()
        page = paginator.paginate_queryset(
            selectors.RankedQueuePages(project=project, model_version=version), request, view=self
        )
        first_rank = (paginator.page.number - 1) * paginator.get_page_size(request) + 1
        for offset, task in enumerate(page):
            task.rank = first_rank + offset
        response = paginator.get_paginated_response(QueueTaskSerializer(page, many=True).data)
        response.data["model_version"] = version.name if version else None
        response.data["budget"] = budget_remaining(project=project)
        return response
