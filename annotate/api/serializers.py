"""Shapes of the REST API: what each endpoint reads and which fields it accepts.

Serializers validate input field by field (400 with a message per field); writes go through
annotate.services.projects.
"""

from __future__ import annotations

from decimal import Decimal

from django.contrib.auth import get_user_model
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from ..attributes import INPUTS as ATTRIBUTE_INPUTS
from ..attributes import schema_problems
from ..hotkeys import hotkey_problem
from ..models import (
    Annotation,
    AnnotationTask,
    Asset,
    Box,
    Budget,
    Frame,
    KeypointInstance,
    LabelClass,
    Project,
    Track,
)
from ..permissions import role_in
from ..schema import skeleton_errors
from ..selectors import tracks_of

User = get_user_model()


class SkeletonField(serializers.JSONField):
    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        errors = skeleton_errors(value)
        if errors:
            raise serializers.ValidationError(errors)
        return value or {}


class ProjectSerializer(serializers.ModelSerializer):
    skeleton = SkeletonField(required=False)
    mastered_keypoints = serializers.ListField(
        child=serializers.CharField(),
        read_only=True,
        help_text="Keypoints the model has mastered (error under the project's threshold for "
        "its last versions): pre-filled and no longer asked. Set by the loop.",
    )
    role = serializers.SerializerMethodField()
    tasks_pending = serializers.IntegerField(read_only=True, default=0)
    tasks_done = serializers.IntegerField(read_only=True, default=0)

    class Meta:
        model = Project
        fields = [
            "id",
            "name",
            "description",
            "skeleton",
            "box_enabled",
            "keypoints_enabled",
            "tracks_enabled",
            "frame_stride",
            "segment_length",
            "propagation_min_confidence",
            "propagation_below",
            "mastered_keypoints",
            "created_at",
            "role",
            "tasks_pending",
            "tasks_done",
        ]
        read_only_fields = ["id", "mastered_keypoints", "created_at"]

    def get_role(self, project: Project) -> str | None:
        """Your role in the project (null for a superuser who is not a member)."""
        return role_in(self.context["request"].user, project.id)

    def validate(self, attrs: dict) -> dict:
        def current(name):
            if name in attrs:
                return attrs[name]
            return getattr(self.instance, name) if self.instance else None

        if current("keypoints_enabled") and not (current("skeleton") or {}).get("keypoints"):
            raise serializers.ValidationError(
                {"skeleton": ["Keypoints are on: choose or define a skeleton."]}
            )
        return attrs


ATTRIBUTE_SPEC_SCHEMA = {
    "type": "object",
    "required": ["name", "input"],
    "properties": {
        "name": {"type": "string"},
        "input": {"type": "string", "enum": list(ATTRIBUTE_INPUTS)},
        "mutable": {
            "type": "boolean",
            "description": "May change along a track (keyframed); else one value per track.",
        },
        "default": {"oneOf": [{"type": "boolean"}, {"type": "number"}, {"type": "string"}]},
        "values": {"type": "array", "items": {"type": "string"}, "description": "select"},
        "min": {"type": "number"},
        "max": {"type": "number"},
        "step": {"type": "number"},
    },
}


@extend_schema_field({"type": "array", "items": ATTRIBUTE_SPEC_SCHEMA})
class AttributeSchemaField(serializers.JSONField):
    """A class's attribute schema (annotate.attributes), checked as a whole."""

    def to_internal_value(self, data):
        value = super().to_internal_value(data)
        problems = schema_problems(value)
        if problems:
            raise serializers.ValidationError(problems)
        return value


class LabelClassSerializer(serializers.ModelSerializer):
    attributes = AttributeSchemaField(
        required=False,
        help_text="Attributes of this class's shapes: checkbox, select, number or text.",
    )

    class Meta:
        model = LabelClass
        fields = ["id", "project", "name", "color", "hotkey", "order", "is_active", "attributes"]
        read_only_fields = ["id", "project"]

    def _project_id(self) -> int:
        return self.instance.project_id if self.instance else self.context["project"].id

    def _taken(self, **lookup) -> bool:
        others = LabelClass.objects.filter(project_id=self._project_id(), **lookup)
        if self.instance:
            others = others.exclude(pk=self.instance.pk)
        return others.exists()

    def validate_name(self, value: str) -> str:
        value = value.strip()
        if not value:
            raise serializers.ValidationError("A class needs a name.")
        if self._taken(name=value):
            raise serializers.ValidationError("This project already has a class of that name.")
        return value

    def validate_hotkey(self, value: str) -> str:
        problem = hotkey_problem(value)
        if problem:
            raise serializers.ValidationError(problem)
        if value and self._taken(hotkey=value):
            raise serializers.ValidationError("Another class of this project uses that hotkey.")
        return value


class BudgetSerializer(serializers.ModelSerializer):
    class Meta:
        model = Budget
        fields = [
            "currency",
            "money_limit",
            "task_limit",
            "cost_per_image",
            "cost_per_video_frame",
            "cost_per_point",
            "cost_per_box",
            "label_share",
            "review_share",
            "review_cost_factor",
        ]
        extra_kwargs = {
            name: {"min_value": Decimal("0")}
            for name in [
                "money_limit",
                "cost_per_image",
                "cost_per_video_frame",
                "cost_per_point",
                "cost_per_box",
                "label_share",
                "review_share",
                "review_cost_factor",
            ]
        }

    def validate_label_share(self, value: Decimal) -> Decimal:
        if value > 1:
            raise serializers.ValidationError("A share is between 0 and 1.")
        return value

    validate_review_share = validate_label_share

    def validate(self, attrs: dict) -> dict:
        label = attrs.get("label_share", getattr(self.instance, "label_share", Decimal("0.8")))
        review = attrs.get("review_share", getattr(self.instance, "review_share", Decimal("0.2")))
        if label + review > 1:
            raise serializers.ValidationError(
                {"review_share": ["The label and review shares add up to more than 1."]}
            )
        return attrs


class PhaseSpendSerializer(serializers.Serializer):
    tasks = serializers.IntegerField()
    money = serializers.DecimalField(max_digits=18, decimal_places=4)
    money_limit = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True)


class BudgetSpendSerializer(serializers.Serializer):
    label = PhaseSpendSerializer()
    review = PhaseSpendSerializer()
    money_spent = serializers.DecimalField(max_digits=18, decimal_places=4)
    money_limit = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True)
    money_left = serializers.DecimalField(max_digits=18, decimal_places=4, allow_null=True)
    tasks_spent = serializers.IntegerField()
    task_limit = serializers.IntegerField(allow_null=True)
    tasks_left = serializers.IntegerField(allow_null=True)
    over_budget = serializers.BooleanField()
    points_by_hand = serializers.IntegerField(help_text="Keypoints a person placed.")
    points_prefilled = serializers.IntegerField(
        help_text="Keypoints pre-filled by the model or propagation and kept."
    )
    boxes_by_hand = serializers.IntegerField()
    boxes_prefilled = serializers.IntegerField()
    money_saved = serializers.DecimalField(
        max_digits=18,
        decimal_places=4,
        help_text="What the pre-filled points and boxes would have cost at the budget's "
        "price per point and per box: the saving of partial labeling.",
    )


class BudgetWithSpendSerializer(serializers.Serializer):
    """Read shape of a project's budget: its settings and what is spent so far."""

    project = serializers.IntegerField()
    budget = BudgetSerializer()
    spent = BudgetSpendSerializer()


class AssetSerializer(serializers.ModelSerializer):
    thumbnail_url = serializers.SerializerMethodField()
    original_url = serializers.SerializerMethodField()

    class Meta:
        model = Asset
        fields = [
            "id",
            "project",
            "kind",
            "original_name",
            "content_type",
            "size_bytes",
            "sha256",
            "width",
            "height",
            "fps",
            "frame_count",
            "duration",
            "state",
            "failure_reason",
            "progress",
            "created_at",
            "thumbnail_url",
            "original_url",
        ]
        read_only_fields = fields

    def get_thumbnail_url(self, asset: Asset) -> str | None:
        return f"/media/assets/{asset.id}/thumbnail/" if asset.thumbnail else None

    def get_original_url(self, asset: Asset) -> str:
        return f"/media/assets/{asset.id}/original/"


class FrameSerializer(serializers.ModelSerializer):
    image_url = serializers.SerializerMethodField()

    class Meta:
        model = Frame
        fields = ["id", "asset", "index", "timestamp", "width", "height", "image_url"]
        read_only_fields = fields

    def get_image_url(self, frame: Frame) -> str:
        return f"/media/frames/{frame.id}/"


class TaskSerializer(serializers.ModelSerializer):
    lease_user = serializers.SlugRelatedField(
        slug_field="username", read_only=True, allow_null=True
    )
    annotator = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    asset_name = serializers.CharField(source="asset.original_name", read_only=True)
    latest_version = serializers.IntegerField(read_only=True, allow_null=True, default=None)
    priority = serializers.FloatField(
        read_only=True, default=0.0, help_text="Its place in the queue: higher first."
    )

    class Meta:
        model = AnnotationTask
        fields = [
            "id",
            "project",
            "asset",
            "asset_name",
            "kind",
            "frame_start",
            "frame_end",
            "frame_count",
            "state",
            "priority",
            "lease_user",
            "lease_expires_at",
            "annotator",
            "skip_reason",
            "submitted_at",
            "reviewed_at",
            "created_at",
            "updated_at",
            "latest_version",
        ]
        read_only_fields = fields


@extend_schema_field(
    {"type": "string", "enum": Annotation.Kind.values}, component_name="AnnotationKindEnum"
)
class AnnotationKindField(serializers.ChoiceField):
    """Named in the schema: left to the generator, an enum named after the field "kind"
    collides with the image/video kinds of assets and tasks."""


class AnnotationVersionSerializer(serializers.ModelSerializer):
    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    kind = AnnotationKindField(choices=Annotation.Kind.choices, read_only=True)
    box_count = serializers.IntegerField(read_only=True)
    keypoint_count = serializers.IntegerField(read_only=True)

    class Meta:
        model = Annotation
        fields = [
            "id",
            "task",
            "version",
            "base_version",
            "kind",
            "author",
            "created_at",
            "box_count",
            "keypoint_count",
        ]
        read_only_fields = fields


class BoxSerializer(serializers.ModelSerializer):
    frame_index = serializers.IntegerField(source="frame.index", read_only=True, allow_null=True)

    class Meta:
        model = Box
        fields = [
            "id",
            "frame",
            "frame_index",
            "label_class",
            "track",
            "x",
            "y",
            "w",
            "h",
            "keyframe",
            "outside",
            "source",
            "confidence",
            "occluded",
            "attributes",
        ]
        read_only_fields = fields


@extend_schema_field(
    {
        "type": "object",
        "description": "keypoint name -> [x, y, visibility] (COCO: 0 unlabeled, "
        "1 occluded, 2 visible)",
        "additionalProperties": {"type": "array", "items": {"type": "number"}},
    }
)
class KeypointPointsField(serializers.JSONField):
    pass


class KeypointInstanceSerializer(serializers.ModelSerializer):
    frame_index = serializers.IntegerField(source="frame.index", read_only=True, allow_null=True)
    points = KeypointPointsField(read_only=True)

    class Meta:
        model = KeypointInstance
        fields = [
            "id",
            "frame",
            "frame_index",
            "label_class",
            "track",
            "points",
            "keyframe",
            "outside",
            "source",
            "confidence",
            "point_sources",
            "point_confidence",
            "occluded",
            "attributes",
        ]
        read_only_fields = fields


class TrackSerializer(serializers.ModelSerializer):
    class Meta:
        model = Track
        fields = ["id", "asset", "number", "label_class"]
        read_only_fields = fields


class AnnotationSerializer(serializers.ModelSerializer):
    """One version with its shapes; `tracks` lists the tracks its shapes belong to."""

    author = serializers.SlugRelatedField(slug_field="username", read_only=True, allow_null=True)
    kind = AnnotationKindField(choices=Annotation.Kind.choices, read_only=True)
    boxes = BoxSerializer(many=True, read_only=True)
    keypoints = KeypointInstanceSerializer(source="keypoint_instances", many=True, read_only=True)
    tracks = serializers.SerializerMethodField()

    class Meta:
        model = Annotation
        fields = [
            "id",
            "task",
            "version",
            "base_version",
            "kind",
            "author",
            "created_at",
            "boxes",
            "keypoints",
            "tracks",
        ]
        read_only_fields = fields

    @extend_schema_field(TrackSerializer(many=True))
    def get_tracks(self, annotation: Annotation) -> list[dict]:
        return TrackSerializer(tracks_of(annotation), many=True).data


class TokenRequestSerializer(serializers.Serializer):
    username = serializers.CharField()
    password = serializers.CharField(style={"input_type": "password"}, trim_whitespace=False)


class TokenSerializer(serializers.Serializer):
    token = serializers.CharField()
