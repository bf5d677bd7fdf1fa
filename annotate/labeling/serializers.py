"""Input and output shapes of the labeling page's endpoints. The answers are built by
annotate.selectors_labeling (one dict the page's script reads); these serializers describe
them for the OpenAPI schema, and tests check real answers against it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..api.serializers import AnnotationKindField, AttributeSchemaField
from ..models import Annotation, AnnotationTask, Review


class DraftSaveInput(serializers.Serializer):
    """For the API docs; the view checks the body itself to answer with field paths."""

    base_version = serializers.IntegerField(allow_null=True, help_text="null: never saved")
    force = serializers.BooleanField(required=False, default=False)
    payload = serializers.DictField(
        help_text='{"tracks": [...], "boxes": [...], "keypoints": [...]}, each shape as in '
        "the task payload's annotation (a track's shapes are its keyframes; `outside` true: "
        "the object is gone from that frame until the track's next keyframe)."
    )


class ReviewInput(serializers.Serializer):
    decision = serializers.ChoiceField(choices=["accept", "reject"])
    comment = serializers.CharField(required=False, allow_blank=True)


# --- a version's shapes, in the save format -----------------------------------------------------

OUTSIDE_HELP = (
    "A track's keyframe saying the object is gone from this frame until the track's next "
    "keyframe (its geometry: where it was last seen). Only on a tracked keyframe."
)


OCCLUDED_HELP = "Partly hidden (CVAT's occluded flag)."
ATTRIBUTES_HELP = (
    "Attribute name -> value, per the class's attribute schema (left out: its default). "
    "A mutable attribute may change along a track, keyframe by keyframe."
)


@extend_schema_field(
    {
        "type": "object",
        "additionalProperties": {
            "oneOf": [{"type": "boolean"}, {"type": "number"}, {"type": "string"}]
        },
    }
)
class AttributeValuesField(serializers.JSONField):
    pass


class TrackShape(serializers.Serializer):
    number = serializers.IntegerField()
    label = serializers.CharField()


class BoxShape(serializers.Serializer):
    frame = serializers.IntegerField(allow_null=True, help_text="null on an image task.")
    label = serializers.CharField()
    x = serializers.FloatField()
    y = serializers.FloatField()
    w = serializers.FloatField()
    h = serializers.FloatField()
    track = serializers.IntegerField(allow_null=True)
    keyframe = serializers.BooleanField()
    outside = serializers.BooleanField(help_text=OUTSIDE_HELP)
    source = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    occluded = serializers.BooleanField(help_text=OCCLUDED_HELP)
    attributes = AttributeValuesField(help_text=ATTRIBUTES_HELP)


class KeypointShape(serializers.Serializer):
    frame = serializers.IntegerField(allow_null=True, help_text="null on an image task.")
    label = serializers.CharField()
    track = serializers.IntegerField(allow_null=True)
    keyframe = serializers.BooleanField()
    outside = serializers.BooleanField(help_text=OUTSIDE_HELP)
    source = serializers.CharField()
    confidence = serializers.FloatField(allow_null=True)
    occluded = serializers.BooleanField(help_text=OCCLUDED_HELP)
    attributes = AttributeValuesField(help_text=ATTRIBUTES_HELP)
    points = serializers.DictField(
        child=serializers.ListField(child=serializers.FloatField()),
        help_text="Keypoint name -> [x, y, visibility].",
    )


class ShapesPayload(serializers.Serializer):
    tracks = TrackShape(many=True)
    boxes = BoxShape(many=True)
    keypoints = KeypointShape(many=True)


class AnnotationData(serializers.Serializer):
    """The latest version (all null and empty shapes when the task was never saved)."""

    version = serializers.IntegerField(allow_null=True)
    kind = AnnotationKindField(choices=Annotation.Kind.choices, allow_null=True)
    author = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField(allow_null=True)
    payload = ShapesPayload()


class ReviewData(serializers.Serializer):
    decision = serializers.ChoiceField(choices=Review.Decision.choices)
    comment = serializers.CharField(allow_blank=True)
    reviewer = serializers.CharField(allow_null=True)
    created_at = serializers.DateTimeField()
    version = serializers.IntegerField(allow_null=True, help_text="The version reviewed.")


# --- the task payload -------------------------------------------------------------------------


class PayloadTask(serializers.Serializer):
    id = serializers.IntegerField()
    project = serializers.IntegerField()
    kind = serializers.ChoiceField(choices=AnnotationTask.Kind.choices)
    state = serializers.ChoiceField(choices=AnnotationTask.State.choices)
    asset = serializers.IntegerField()
    asset_name = serializers.CharField(allow_blank=True)
    frame_start = serializers.IntegerField(allow_null=True)
    frame_end = serializers.IntegerField(allow_null=True)
    annotator = serializers.CharField(allow_null=True)
    lease_expires_at = serializers.DateTimeField(allow_null=True)
    editable = serializers.BooleanField(help_text="Whether this user may save a draft now.")
    leased_to_me = serializers.BooleanField(help_text="Whether this user holds the lease.")
    reviewable = serializers.BooleanField(help_text="Whether this user may review it now.")


class SchemaClass(serializers.Serializer):
    name = serializers.CharField()
    color = serializers.CharField()
    hotkey = serializers.CharField(allow_blank=True)
    attributes = AttributeSchemaField()


class SchemaKeypoint(serializers.Serializer):
    name = serializers.CharField()
    side = serializers.ChoiceField(choices=["left", "right", "center"])


class SchemaSkeleton(serializers.Serializer):
    keypoints = SchemaKeypoint(many=True)
    edges = serializers.ListField(
        child=serializers.ListField(child=serializers.CharField(), min_length=2, max_length=2),
        help_text="Pairs of keypoint names.",
    )


class LabelSchemaData(serializers.Serializer):
    boxes = serializers.BooleanField()
    keypoints = serializers.BooleanField()
    tracks = serializers.BooleanField()
    classes = SchemaClass(many=True)
    skeleton = SchemaSkeleton()


class MediaFrame(serializers.Serializer):
    id = serializers.IntegerField(allow_null=True, help_text="null: the image itself.")
    index = serializers.IntegerField()
    url = serializers.CharField()
    width = serializers.IntegerField(allow_null=True)
    height = serializers.IntegerField(allow_null=True)


class MediaData(serializers.Serializer):
    kind = serializers.ChoiceField(choices=["image", "video"])
    fps = serializers.FloatField(required=False, allow_null=True, help_text="Video only.")
    frames = MediaFrame(many=True)


class TaskPayloadSerializer(serializers.Serializer):
    """Everything the labeling page needs to show one task."""

    task = PayloadTask()
    schema = LabelSchemaData()
    media = MediaData()
    annotation = AnnotationData()
    review = ReviewData(allow_null=True)


# --- answers to writes ------------------------------------------------------------------------


class DraftSaved(serializers.Serializer):
    version = serializers.IntegerField()
    kind = AnnotationKindField(choices=Annotation.Kind.choices)
    created_at = serializers.DateTimeField()


class ReviewAnswer(serializers.Serializer):
    state = serializers.ChoiceField(choices=AnnotationTask.State.choices)
    review = ReviewData()
