"""Export and import jobs: what was asked, how far it got, and where the file is.

They belong to the annotate app and are imported by annotate/models/__init__.py.
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q


def export_upload_to(instance: ExportJob, filename: str) -> str:
    return f"projects/{instance.project_id}/exports/{uuid.uuid4().hex}-{filename}"


def import_upload_to(instance: ImportJob, filename: str) -> str:
    # The user's file name never reaches the file system; only its suffix is kept.
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if not suffix[1:].isalnum() or len(suffix) > 6:
        suffix = ""
    return f"projects/{instance.project_id}/imports/{uuid.uuid4().hex}{suffix}"


class JobState(models.TextChoices):
    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"


class ExchangeFormat(models.TextChoices):
    COCO = "coco", "COCO JSON"
    YOLO = "yolo", "YOLO (detection and pose)"
    MOT = "mot", "MOTChallenge gt.txt"
    CVAT = "cvat", "CVAT for video 1.1"


class ExportJob(models.Model):
    """One export of a project's annotations, run by a Celery worker."""

    class StateFilter(models.TextChoices):
        ACCEPTED = "accepted", "Accepted only"
        SUBMITTED = "submitted", "All submitted (submitted, in review, accepted)"

    class Phase(models.TextChoices):
        LABEL = "label", "Labeled (dates apply to submission)"
        REVIEW = "review", "Reviewed (dates apply to the review)"

    project = models.ForeignKey(
        "annotate.Project", on_delete=models.CASCADE, related_name="export_jobs"
    )
    format = models.CharField(max_length=8, choices=ExchangeFormat.choices)
    state_filter = models.CharField(
        max_length=10, choices=StateFilter.choices, default=StateFilter.ACCEPTED
    )
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.LABEL)
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True, help_text="Inclusive.")
    state = models.CharField(max_length=8, choices=JobState.choices, default=JobState.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0 to 1.")
    tasks_total = models.PositiveIntegerField(default=0)
    tasks_done = models.PositiveIntegerField(default=0)
    shapes_written = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=export_upload_to, max_length=255, blank=True)
    download_name = models.CharField(max_length=200, blank=True)
    error = models.TextField(blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "annotate"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="exportjob_progress_range"
            ),
            models.CheckConstraint(
                condition=Q(date_from__isnull=True)
                | Q(date_to__isnull=True)
                | Q(date_from__lte=models.F("date_to")),
                name="exportjob_dates_ordered",
            ),
            models.CheckConstraint(
                condition=~Q(state="failed") | ~Q(error=""), name="exportjob_failure_has_error"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} export of {self.project} ({self.state})"


class ImportJob(models.Model):
    """One uploaded file imported as ground truth or as a model's predictions."""

    class Mode(models.TextChoices):
        GROUND_TRUTH = "ground_truth", "Ground truth"
        PREDICTIONS = "predictions", "Model predictions"

    project = models.ForeignKey(
        "annotate.Project", on_delete=models.CASCADE, related_name="import_jobs"
    )
    format = models.CharField(max_length=8, choices=ExchangeFormat.choices)
    mode = models.CharField(max_length=12, choices=Mode.choices, default=Mode.GROUND_TRUTH)
    model_version_name = models.CharField(
        max_length=100, blank=True, help_text="For predictions: the version they are stored under."
    )
    skip_invalid = models.BooleanField(
        default=False,
        help_text="Import the valid records and report the others; off: any error stops it all.",
    )
    file = models.FileField(upload_to=import_upload_to, max_length=255)
    original_name = models.CharField(max_length=255, blank=True)
    state = models.CharField(max_length=8, choices=JobState.choices, default=JobState.QUEUED)
    progress = models.FloatField(default=0.0)
    records_total = models.PositiveIntegerField(default=0)
    records_imported = models.PositiveIntegerField(default=0)
    records_failed = models.PositiveIntegerField(default=0)
    tasks_written = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text='[{"record": "...", "message": "..."}], first 1000.'
    )
    error = models.TextField(blank=True, help_text="Why the whole file was refused.")
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        app_label = "annotate"
        ordering = ["-created_at", "-id"]
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1), name="importjob_progress_range"
            ),
            models.CheckConstraint(
                condition=~Q(mode="predictions") | ~Q(model_version_name=""),
                name="importjob_predictions_named",
            ),
            models.CheckConstraint(
                condition=~Q(state="failed") | ~Q(error=""), name="importjob_failure_has_error"
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} import into {self.project} ({self.state})"
