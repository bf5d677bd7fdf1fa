"""The learning curve as JSON, for the project page's plot and for scripts. Access: "queue.view"
(project managers and ML engineers); other projects are 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.scoring.curve import learning_curve
from annotate.models import Project
from annotate.permissions import get_object_for


class LearningCurve(APIView):
    @extend_schema(
        responses={200: dict},
        description="Each measured model version: labels spent at training and its metric "
        "(accuracy, mAP or OKS) on the validation slice, ordered by labels.",
    )
    def get(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "queue.view", Project.objects, pk=pk)
        return Response(learning_curve(project=project))
