"""Propagation jobs: carrying a video task's shapes along its frames by optical flow, in a
Celery worker (annotate.propagation.services). Imported by annotate/models/__init__.py.

The job's state, progress, timestamps, error and attempts come from the one job model
(annotate.models.jobs). What it wrote is one new annotation version per task it touched
(`versions`), so that undoing it is restoring each task's version before it.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotate.models.choices import PropagationBelow
from annotate.models.jobs import Job, JobState

__all__ = ["JobState", "PropagationJob"]


class PropagationJob(Job):
    """One propagation of some (or all) tracks of a video task from one frame, forward or
    backward, to the end of the task's segment or of the video."""

    task_name = "annotate.propagation_run"
    kind_name = "propagation"
    # Running it again is harmless: its versions are written in one transaction with the
    # job's end, so a worker that died before that wrote nothing, and one that died after it
    # left a finished job that a second run leaves alone.
    max_attempts = 3
    restart_fields = {"frames_done": 0}

    class Direction(models.TextChoices):
        FORWARD = "forward", "Forward"
        BACKWARD = "backward", "Backward"

    class Until(models.TextChoices):
        SEGMENT = "segment", "End of the segment"
        VIDEO = "video", "End of the video"

    task = models.ForeignKey(
        "annotate.AnnotationTask", on_delete=models.CASCADE, related_name="propagation_jobs"
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    start_frame = models.ForeignKey(
        "annotate.Frame", on_delete=models.CASCADE, related_name="+", help_text="Carried from."
    )
    direction = models.CharField(max_length=8, choices=Direction.choices, default=Direction.FORWARD)
    until = models.CharField(max_length=8, choices=Until.choices, default=Until.SEGMENT)
    tracks = models.JSONField(
        null=True, blank=True, help_text="Track numbers to carry; empty: every track on the frame."
    )
    base_version = models.PositiveIntegerField(
        null=True, blank=True, help_text="The task's version it starts from."
    )
    # The project's threshold when the job was made, so a run again decides alike.
    min_confidence = models.FloatField(default=0.5)
    below_threshold = models.CharField(
        max_length=4, choices=PropagationBelow.choices, default=PropagationBelow.FLAG
    )
    frames_total = models.PositiveIntegerField(default=0)
    frames_done = models.PositiveIntegerField(default=0)
    # Results.
    versions = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"task": id, "base_version": n | null, "version": m}] written by the job.',
    )
    shapes_written = models.PositiveIntegerField(default=0)
    flagged = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"track": n, "frames": [index, ...]}]: shapes left for a human to check.',
    )
    stops = models.JSONField(
        default=list,
        blank=True,
        help_text='[{"track": n, "frame": index | null, "reason": "..."}]: where tracks ended.',
    )
    undone_at = models.DateTimeField(null=True, blank=True)
    undo_versions = models.JSONField(
        default=list, blank=True, help_text="The versions the undo wrote, like `versions`."
    )

    class Meta(Job.Meta):
        app_label = "annotate"
        ordering = ["-created_at", "-id"]
        constraints = [
            *Job.Meta.constraints,
            models.CheckConstraint(
                condition=Q(min_confidence__gte=0) & Q(min_confidence__lte=1),
                name="propagationjob_threshold_range",
            ),
            models.CheckConstraint(
                condition=Q(below_threshold__in=["stop", "flag"]),
                name="propagationjob_below_choice",
            ),
        ]
        indexes = [
            *Job.Meta.indexes,
            models.Index(fields=["task", "-created_at"], name="propagationjob_task_idx"),
        ]

    def __str__(self) -> str:
        return f"propagation {self.direction} on {self.task} ({self.state})"
