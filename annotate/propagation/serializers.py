"""Input and output shapes of the propagation endpoints (the answers the page reads, and
the OpenAPI schema that tests check every answer against)."""

from __future__ import annotations

from django.urls import reverse
from drf_spectacular.utils import extend_schema_field
from rest_framework import serializers

from annotate.models.choices import PropagationBelow
from annotate.models.propagation_jobs import JobState, PropagationJob


@extend_schema_field(
    {
        "oneOf": [
            {"type": "string", "enum": ["all"]},
            {"type": "array", "items": {"type": "integer", "minimum": 1}, "minItems": 1},
        ],
        "description": '"all": every track on the frame (and its shapes without a track, '
        "which become tracks); or the track numbers to carry.",
    }
)
class TracksField(serializers.JSONField):
    pass


class PropagationStartInput(serializers.Serializer):
    """For the API docs; the service checks the body itself and answers field by field."""

    frame = serializers.IntegerField(help_text="Id of the frame to carry the shapes from.")
    tracks = TracksField(required=False, default="all")
    direction = serializers.ChoiceField(
        choices=PropagationJob.Direction.choices, required=False, default="forward"
    )
    until = serializers.ChoiceField(
        choices=PropagationJob.Until.choices,
        required=False,
        default="segment",
        help_text="segment: to the end (or start) of this task's frames; video: on through "
        "the following (or preceding) segments you may change.",
    )
    base_version = serializers.IntegerField(
        allow_null=True, help_text="The task's version the page shows (null: never saved)."
    )


class VersionWritten(serializers.Serializer):
    task = serializers.IntegerField()
    base_version = serializers.IntegerField(allow_null=True)
    version = serializers.IntegerField()


class FlaggedTrack(serializers.Serializer):
    track = serializers.IntegerField()
    frames = serializers.ListField(
        child=serializers.IntegerField(), help_text="Source frame indexes to check."
    )


class TrackStop(serializers.Serializer):
    track = serializers.IntegerField(allow_null=True)
    frame = serializers.IntegerField(
        allow_null=True, help_text="Source frame index it did not reach; null: the end."
    )
    reason = serializers.CharField()


class PropagationJobSerializer(serializers.Serializer):
    """A propagation job with its progress and, once done, what it wrote: the versions (one
    per task), the shapes left for a human (`flagged`) and where each track ended."""

    id = serializers.IntegerField()
    task = serializers.IntegerField(source="task_id")
    start_frame = serializers.IntegerField(source="start_frame_id")
    direction = serializers.ChoiceField(choices=PropagationJob.Direction.choices)
    until = serializers.ChoiceField(choices=PropagationJob.Until.choices)
    tracks = serializers.ListField(
        child=serializers.IntegerField(), allow_null=True, help_text="null: all."
    )
    base_version = serializers.IntegerField(allow_null=True)
    min_confidence = serializers.FloatField()
    below_threshold = serializers.ChoiceField(choices=PropagationBelow.choices)
    state = serializers.ChoiceField(choices=JobState.choices)
    progress = serializers.SerializerMethodField(help_text="0 to 1.")
    frames_total = serializers.IntegerField()
    frames_done = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    versions = VersionWritten(many=True)
    version = serializers.SerializerMethodField(
        help_text="The new version of this task, once done (null: nothing written)."
    )
    shapes_written = serializers.IntegerField()
    flagged = FlaggedTrack(many=True)
    stops = TrackStop(many=True)
    undone_at = serializers.DateTimeField(allow_null=True)
    undo_versions = VersionWritten(many=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()
    undo_url = serializers.SerializerMethodField()

    def get_progress(self, job: PropagationJob) -> float:
        return round(job.progress, 4)

    @extend_schema_field(serializers.IntegerField(allow_null=True))
    def get_version(self, job: PropagationJob) -> int | None:
        mine = [v["version"] for v in job.versions if v["task"] == job.task_id]
        return mine[0] if mine else None

    def get_url(self, job: PropagationJob) -> str:
        return reverse("api-propagation-detail", args=[job.pk])

    def get_undo_url(self, job: PropagationJob) -> str:
        return reverse("api-propagation-undo", args=[job.pk])
