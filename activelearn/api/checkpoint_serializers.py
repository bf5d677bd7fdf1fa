"""Input and output shapes of the checkpoint and prediction push endpoints, and the
checkpoint spec's JSON Schema (a component of the OpenAPI document). The spec itself is
checked by activelearn.versions.services.spec_normalise; these serializers describe it."""

from __future__ import annotations

from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from activelearn.inference.spec import OUTPUT_LAYOUTS
from activelearn.models import ModelVersion


class ModelVersionSerializer(serializers.ModelSerializer):
    uploaded_by = serializers.CharField(
        source="uploaded_by.username", default=None, allow_null=True
    )

    class Meta:
        model = ModelVersion
        fields = [
            "id",
            "name",
            "kind",
            "task_type",
            "sha256",
            "uploaded_by",
            "notes",
            "metrics",
            "spec",
            "is_active",
            "activated_at",
            "created_at",
        ]


# --- the checkpoint spec ----------------------------------------------------------------------


class CheckpointSpecInput(serializers.Serializer):
    """How images are fed to the model."""

    name = serializers.CharField(
        required=False, help_text="The ONNX input's name (default: the first input)."
    )
    size = serializers.ListField(
        child=serializers.IntegerField(min_value=1, max_value=8192),
        min_length=2,
        max_length=2,
        help_text="[height, width] in pixels (one integer means a square).",
    )
    layout = serializers.ChoiceField(choices=["NCHW", "NHWC"], required=False, default="NCHW")
    channel_order = serializers.ChoiceField(choices=["RGB", "BGR"], required=False, default="RGB")
    scale = serializers.FloatField(
        required=False, default=1 / 255, help_text="Pixel values (0..255) are multiplied by it."
    )
    mean = serializers.ListField(
        child=serializers.FloatField(),
        min_length=3,
        max_length=3,
        required=False,
        help_text="Subtracted per channel after scaling, in channel_order (default 0).",
    )
    std = serializers.ListField(
        child=serializers.FloatField(),
        min_length=3,
        max_length=3,
        required=False,
        help_text="Divided per channel after the mean, each > 0 (default 1).",
    )


class CheckpointSpecOutput(serializers.Serializer):
    """How the model's outputs are read."""

    layout = serializers.ChoiceField(
        choices=list(OUTPUT_LAYOUTS),
        help_text="probs/logits: [N, classes] (classification); embedding: [N, dims]; "
        "detection: boxes [N, B, 4], scores [N, B], class_probs [N, B, C]; yolo_detect and "
        "yolo_pose: an Ultralytics export's output0.",
    )
    name = serializers.CharField(
        required=False, help_text="The ONNX output's name (default: the first output)."
    )
    boxes = serializers.CharField(required=False, help_text="detection: the boxes output.")
    scores = serializers.CharField(required=False, help_text="detection: the scores output.")
    class_probs = serializers.CharField(
        required=False, help_text="detection: the per-box class probabilities output."
    )
    box_format = serializers.ChoiceField(
        choices=["xyxy", "xywh", "cxcywh"], required=False, default="xyxy"
    )
    normalized = serializers.BooleanField(
        required=False, default=False, help_text="Boxes in 0..1 instead of input pixels."
    )
    score_threshold = serializers.FloatField(required=False, default=0.25)
    iou_threshold = serializers.FloatField(required=False, default=0.45)
    max_detections = serializers.IntegerField(required=False, default=100, min_value=1)


class CheckpointSpec(serializers.Serializer):
    """What is uploaded with an ONNX file; see README.md, "Checkpoint spec"."""

    input = CheckpointSpecInput()
    output = CheckpointSpecOutput()
    task_type = serializers.ChoiceField(
        choices=ModelVersion.TaskType.values,
        required=False,
        help_text="Default: from the output layout.",
    )
    class_names = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Output columns in order (default: the project's classes).",
    )
    keypoint_names = serializers.ListField(
        child=serializers.CharField(),
        required=False,
        help_text="Pose keypoints in output order (default: the project's skeleton).",
    )
    embedding_output = serializers.CharField(
        required=False, help_text="An optional second output with one embedding per image."
    )
    batch_size = serializers.IntegerField(required=False, default=32, min_value=1)


@extend_schema_field(CheckpointSpec)
class CheckpointSpecField(serializers.JSONField):
    """The spec: a JSON object (a JSON string in a multipart form)."""


class CheckpointUploadInput(serializers.Serializer):
    name = serializers.CharField(max_length=100)
    file = serializers.FileField(allow_empty_file=True)
    spec = CheckpointSpecField(help_text="The spec as JSON (a string in a multipart form).")
    notes = serializers.CharField(required=False, allow_blank=True, default="")
    metrics = serializers.JSONField(required=False, default=dict)


# --- answers ----------------------------------------------------------------------------------


class ActivationAnswer(serializers.Serializer):
    version = ModelVersionSerializer()
    scoring_run = serializers.IntegerField()


class RollbackAnswer(serializers.Serializer):
    to = serializers.ChoiceField(
        choices=["previous", "baseline", "none"],
        help_text="previous: the version active before; baseline: the newest built-in "
        "baseline (none was active before); none: no model, the cold-start order.",
    )
    version = ModelVersionSerializer(allow_null=True)
    scoring_run = serializers.IntegerField()
    message = serializers.CharField()


class PushErrorRow(serializers.Serializer):
    row = serializers.IntegerField()
    error = serializers.CharField()
    # As the row gave them (possibly of the wrong type: that may be the error).
    asset = serializers.JSONField(required=False)
    asset_id = serializers.JSONField(required=False)
    external_key = serializers.JSONField(required=False)
    file_name = serializers.JSONField(required=False)


class PushedKeypoint(serializers.Serializer):
    """One predicted point; the row may give it as [x, y, confidence] instead."""

    x = serializers.FloatField(help_text="Pixels from the left edge.")
    y = serializers.FloatField(help_text="Pixels from the top edge.")
    confidence = serializers.FloatField(
        min_value=0,
        max_value=1,
        help_text="The model's confidence in this point, 0 to 1 (a row outside that range "
        "is refused). Points at or above the project's threshold are pre-filled.",
    )


class PushedKeypointInstance(serializers.Serializer):
    label = serializers.CharField(required=False, help_text="Class; default the first one.")
    score = serializers.FloatField(min_value=0, max_value=1, required=False)
    points = serializers.DictField(
        child=PushedKeypoint(),
        help_text='Keypoint name -> {"x", "y", "confidence"} or [x, y, confidence].',
    )
    track = serializers.IntegerField(min_value=1, required=False)


class PredictionPushRow(serializers.Serializer):
    """One asset's predictions (see activelearn.predictions.push for every field)."""

    asset = serializers.IntegerField(required=False)
    external_key = serializers.CharField(required=False)
    file_name = serializers.CharField(required=False)
    model_version = serializers.CharField(required=False)
    probs = serializers.ListField(child=serializers.FloatField(), required=False)
    boxes = serializers.ListField(child=serializers.DictField(), required=False)
    keypoints = PushedKeypointInstance(many=True, required=False)
    embedding = serializers.ListField(child=serializers.FloatField(), required=False)
    score = serializers.FloatField(required=False)
    frames = serializers.ListField(
        child=serializers.DictField(),
        required=False,
        help_text='A video: [{"frame": index, "boxes": [...], "keypoints": [...]}, ...].',
    )


class PredictionPushInput(serializers.Serializer):
    """application/json: this object or a bare list of rows; JSON Lines: one row a line."""

    predictions = PredictionPushRow(many=True)
    model_version = serializers.CharField(
        required=False, help_text="The version for rows that do not name one."
    )
    activate = serializers.BooleanField(
        required=False, default=False, help_text="Also make the version active (as ?activate=1)."
    )


class PredictionPushAnswer(serializers.Serializer):
    rows = serializers.IntegerField()
    stored = serializers.IntegerField()
    error_count = serializers.IntegerField()
    errors = PushErrorRow(many=True)
    model_versions = serializers.ListField(child=serializers.CharField())
    model_version_id = serializers.IntegerField(
        allow_null=True, help_text="The version pushed to (null when rows named several)."
    )
    version_active = serializers.BooleanField(
        allow_null=True, help_text="Whether that version now orders the queue."
    )
    activated = serializers.BooleanField(help_text="Whether this push made it active.")
    message = serializers.CharField()
    scoring_run = serializers.IntegerField(
        allow_null=True, help_text="The rescoring this push started, if any."
    )
