"""The learning curve as JSON, for the project page's plot and for scripts. Access: "queue.view"
(project managers and ML engineers); other projects are 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.models import ModelVersion
from activelearn.scoring.curve import learning_curve
from annotate.models import Project
from annotate.permissions import get_object_for


class CurvePoint(serializers.Serializer):
    version = serializers.IntegerField()
    name = serializers.CharField()
    kind = serializers.ChoiceField(choices=ModelVersion.Kind.choices)
    labels = serializers.IntegerField(help_text="Labels the version was trained on.")
    metric = serializers.CharField(help_text="accuracy, mAP or OKS.")
    value = serializers.FloatField()
    validation_examples = serializers.IntegerField(allow_null=True)
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class LearningCurveSerializer(serializers.Serializer):
    project = serializers.IntegerField()
    metric = serializers.CharField(
        allow_null=True, help_text="The metric most points share (the axis label)."
    )
    points = CurvePoint(many=True)


class LearningCurve(APIView):
    @extend_schema(
        responses={200: LearningCurveSerializer},
        description="Each measured model version: labels spent at training and its metric "
        "(accuracy, mAP or OKS) on the validation slice, ordered by labels.",
    )
    def get(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "queue.view", Project.objects, pk=pk)
        return Response(learning_curve(project=project))
