"""Joint mastery as JSON: each keypoint's OKS, PCK and error by model version on the
validation slice, and whether it is mastered, for the Model & queue page and for scripts.
Access: "queue.view" (project managers and ML engineers); other projects are 404."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema
from rest_framework import serializers
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.selectors import joint_mastery_report
from annotate.models import Project
from annotate.permissions import get_object_for


class JointVersionFigure(serializers.Serializer):
    version = serializers.IntegerField(help_text="Model version id (see `versions`).")
    oks = serializers.FloatField(
        allow_null=True, help_text="Mean OKS of the keypoint, 0 to 1; null: not measured."
    )
    pck = serializers.FloatField(
        allow_null=True, help_text="Share of points within a tenth of the box's longer side."
    )
    error = serializers.FloatField(allow_null=True, help_text="1 - oks: what mastery compares.")
    points = serializers.IntegerField(help_text="Labeled points measured.")


class JointMasteryRow(serializers.Serializer):
    keypoint = serializers.CharField()
    sigma = serializers.FloatField(help_text="The skeleton's OKS sigma of this keypoint.")
    mastered = serializers.BooleanField(
        help_text="Error under the threshold in each of the last `versions_required` versions."
    )
    weight = serializers.FloatField(
        help_text="Its share of the keypoint strategy's score now (0 once mastered)."
    )
    by_version = JointVersionFigure(many=True)


class JointVersion(serializers.Serializer):
    id = serializers.IntegerField()
    name = serializers.CharField()
    is_active = serializers.BooleanField()
    created_at = serializers.DateTimeField()


class JointMasterySerializer(serializers.Serializer):
    project = serializers.IntegerField()
    threshold = serializers.FloatField(help_text="The project's mastery_error_threshold.")
    versions_required = serializers.IntegerField(help_text="The project's mastery_versions.")
    mastered = serializers.ListField(child=serializers.CharField())
    versions = JointVersion(many=True, help_text="Measured versions, oldest first.")
    joints = JointMasteryRow(many=True, help_text="One per skeleton keypoint, in skeleton order.")


class JointMastery(APIView):
    @extend_schema(
        responses={200: JointMasterySerializer},
        summary="Per-keypoint OKS, PCK and mastery by model version",
        description="Each skeleton keypoint's mean OKS (COCO's formula with the skeleton's "
        "sigma), PCK and error in every model version measured on the validation slice, "
        "oldest first; a keypoint is mastered when its error stayed under the project's "
        "threshold for its last versions (then pre-filled and no longer asked).",
    )
    def get(self, request, pk: int) -> Response:
        project = get_object_for(request.user, "queue.view", Project.objects, pk=pk)
        report = joint_mastery_report(project=project)
        return Response(JointMasterySerializer(report).data)
