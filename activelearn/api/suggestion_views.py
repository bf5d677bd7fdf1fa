"""Pre-annotation over the API: the active model's prediction for a task as shapes accepted
without a human and suggestions to review. Anyone who may see the task may read them
("task.view" through annotate.permissions); other projects' tasks are 404."""

from __future__ import annotations

from drf_spectacular.utils import PolymorphicProxySerializer, extend_schema
from rest_framework import serializers
from rest_framework.authentication import SessionAuthentication
from rest_framework.response import Response
from rest_framework.views import APIView

from activelearn.predictions.suggestions import task_suggestions
from annotate.auth import LeanTokenAuthentication
from annotate.models import AnnotationTask
from annotate.permissions import get_object_for


def _point() -> serializers.ListField:
    return serializers.ListField(child=serializers.FloatField(), help_text="[x, y, visibility]")


class SuggestedBox(serializers.Serializer):
    type = serializers.ChoiceField(choices=["box"])
    frame = serializers.IntegerField(allow_null=True, help_text="null on an image task.")
    label = serializers.CharField()
    x = serializers.FloatField()
    y = serializers.FloatField()
    w = serializers.FloatField()
    h = serializers.FloatField()
    source = serializers.CharField(help_text='Always "model".')
    confidence = serializers.FloatField()
    track = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="On a video with tracks on: the track of the shape (listed in `tracks`); "
        "null: a shape of no track.",
    )


class SuggestedKeypoints(serializers.Serializer):
    type = serializers.ChoiceField(choices=["kp"])
    frame = serializers.IntegerField(allow_null=True, help_text="null on an image task.")
    label = serializers.CharField()
    points = serializers.DictField(child=_point(), help_text="Keypoint name -> [x, y, visibility].")
    source = serializers.CharField(help_text='Always "model".')
    confidence = serializers.FloatField()
    point_confidence = serializers.DictField(
        child=serializers.FloatField(),
        help_text="Keypoint name -> the model's confidence in that point (0..1), for every "
        "predicted point, placed or not.",
    )
    # On accepted instances: the pre-filled points' source, those pre-filled because the
    # model mastered their joint, and the points below their threshold, left out of `points`.
    point_sources = serializers.DictField(
        child=serializers.CharField(), required=False, help_text='Pre-filled name -> "model".'
    )
    mastered = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Pre-filled though below the threshold: the model mastered these joints.",
    )
    uncertain = serializers.ListField(child=serializers.CharField(), required=False)
    uncertain_points = serializers.DictField(child=_point(), required=False)
    track = serializers.IntegerField(
        required=False,
        allow_null=True,
        help_text="On a video with tracks on: the track of the shape (listed in `tracks`); "
        "null: a shape of no track.",
    )


def _shapes(help_text: str) -> PolymorphicProxySerializer:
    return PolymorphicProxySerializer(
        component_name="SuggestedShape",
        serializers={"box": SuggestedBox, "kp": SuggestedKeypoints},
        resource_type_field_name="type",
        many=True,
        help_text=help_text,
    )


class SuggestedTrack(serializers.Serializer):
    number = serializers.IntegerField(help_text="Unique in the task, from 1.")
    label = serializers.CharField(help_text="The class of every shape of the track.")


class TaskSuggestionsSerializer(serializers.Serializer):
    model_version = serializers.CharField(
        allow_null=True, help_text="The active version; null: none, so nothing to suggest."
    )
    accepted = _shapes("Confident enough to be placed without a human.")
    suggestions = _shapes("For a human to review.")
    tracks = SuggestedTrack(
        many=True,
        help_text="The tracks the shapes belong to (a video with tracks on; else empty): "
        "the detections joined across frames, one object's box and skeleton in one track.",
    )


class TaskSuggestions(APIView):
    """GET {"model_version", "accepted": [shape], "suggestions": [shape], "tracks": [track]};
    shapes are in the save format of /api/tasks/<id>/annotation/ plus "type" ("box" |
    "kp"); on a video, a shape's "track" is one of `tracks`."""

    authentication_classes = [LeanTokenAuthentication, SessionAuthentication]

    @extend_schema(responses={200: TaskSuggestionsSerializer})
    def get(self, request, pk: int) -> Response:
        queryset = AnnotationTask.objects.select_related("project", "asset")
        task = get_object_for(request.user, "task.view", queryset, pk=pk)
        return Response(task_suggestions(task=task))
