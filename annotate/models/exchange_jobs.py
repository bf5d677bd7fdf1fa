"""Export and import jobs: what was asked, how far it got, and where the file is.

They belong to the annotate app and are imported by annotate/models/__init__.py. Their state,
progress, timestamps, error and attempts come from the one job model (annotate.models.jobs).
"""

from __future__ import annotations

import uuid

from django.conf import settings
from django.db import models
from django.db.models import Q

from annotate.models.jobs import Job, JobState

__all__ = ["ExchangeFormat", "ExportJob", "ImportJob", "JobState"]


def export_upload_to(instance: ExportJob, filename: str) -> str:
    return f"projects/{instance.project_id}/exports/{uuid.uuid4().hex}-{filename}"


def import_upload_to(instance: ImportJob, filename: str) -> str:
    # The user's file name never reaches the file system; only its suffix is kept.
    suffix = "." + filename.rsplit(".", 1)[-1].lower() if "." in filename else ""
    if not suffix[1:].isalnum() or len(suffix) > 6:
        suffix = ""
    return f"projects/{instance.project_id}/imports/{uuid.uuid4().hex}{suffix}"


class ExchangeFormat(models.TextChoices):
    COCO = "coco", "COCO JSON"
    YOLO = "yolo", "YOLO (detection and pose)"
    MOT = "mot", "MOTChallenge gt.txt"
    CVAT = "cvat", "CVAT for video 1.1"
    LABELSTUDIO = "labelstudio", "Label Studio JSON"
    CVAT_IMAGES = "cvat_images", "CVAT for images 1.1"


class ExportJob(Job):
    """One export of a project's annotations, run by a Celery worker."""

    task_name = "annotate.exchange.export_run"
    kind_name = "export"
    # Running it again writes a new file over the old one's place: harmless.
    max_attempts = 3
    restart_fields = {"tasks_done": 0}

    class StateFilter(models.TextChoices):
        ACCEPTED = "accepted", "Accepted only"
        SUBMITTED = "submitted", "All submitted (submitted, in review, accepted)"

    class Phase(models.TextChoices):
        LABEL = "label", "Labeled (dates apply to submission)"
        REVIEW = "review", "Reviewed (dates apply to the review)"

    class Skeletons(models.TextChoices):
        # How the CVAT formats write skeletons, for tools that cannot read CVAT's <skeleton>.
        SKELETON = "skeleton", "As CVAT skeletons"
        POINTS = "points", "As points, one per keypoint (for tools without skeletons)"
        OMIT = "omit", "Left out (boxes only)"

    project = models.ForeignKey(
        "annotate.Project", on_delete=models.CASCADE, related_name="export_jobs"
    )
    format = models.CharField(max_length=16, choices=ExchangeFormat.choices)
    state_filter = models.CharField(
        max_length=10, choices=StateFilter.choices, default=StateFilter.ACCEPTED
    )
    phase = models.CharField(max_length=8, choices=Phase.choices, default=Phase.LABEL)
    date_from = models.DateField(null=True, blank=True)
    date_to = models.DateField(null=True, blank=True, help_text="Inclusive.")
    include_images = models.BooleanField(
        default=False,
        help_text="YOLO and CVAT for images: the archive carries the images beside the labels.",
    )
    skeletons = models.CharField(
        max_length=8,
        choices=Skeletons.choices,
        default=Skeletons.SKELETON,
        help_text="CVAT formats only: skeletons as <skeleton>, as <points> per keypoint, or none.",
    )
    summary = models.JSONField(
        default=list,
        blank=True,
        help_text='What the export left out, by kind: [{"kind", "count", "message"}].',
    )
    tasks_total = models.PositiveIntegerField(default=0)
    tasks_done = models.PositiveIntegerField(default=0)
    shapes_written = models.PositiveIntegerField(default=0)
    file = models.FileField(upload_to=export_upload_to, max_length=255, blank=True)
    download_name = models.CharField(max_length=200, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(Job.Meta):
        app_label = "annotate"
        ordering = ["-created_at", "-id"]
        constraints = [
            *Job.Meta.constraints,
            models.CheckConstraint(
                condition=Q(date_from__isnull=True)
                | Q(date_to__isnull=True)
                | Q(date_from__lte=models.F("date_to")),
                name="exportjob_dates_ordered",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} export of {self.project} ({self.state})"


class ImportJob(Job):
    """One uploaded file imported as ground truth or as a model's predictions."""

    task_name = "annotate.exchange.import_run"
    kind_name = "import"
    # Not run again by the sweep: a worker that died just after the import's transaction
    # committed would import the file twice. Its reason tells the user to check and retry.
    max_attempts = 1

    class Mode(models.TextChoices):
        GROUND_TRUTH = "ground_truth", "Ground truth"
        PREDICTIONS = "predictions", "Model predictions"

    project = models.ForeignKey(
        "annotate.Project", on_delete=models.CASCADE, related_name="import_jobs"
    )
    format = models.CharField(max_length=16, choices=ExchangeFormat.choices)
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
    records_total = models.PositiveIntegerField(default=0)
    records_imported = models.PositiveIntegerField(default=0)
    records_failed = models.PositiveIntegerField(default=0)
    tasks_written = models.PositiveIntegerField(default=0)
    errors = models.JSONField(
        default=list, blank=True, help_text='[{"record": "...", "message": "..."}], first 1000.'
    )
    warnings = models.JSONField(
        default=list,
        blank=True,
        help_text="Records imported without part of what the file gave (same form), first 1000.",
    )
    summary = models.JSONField(
        default=list,
        blank=True,
        help_text='What was not imported, by kind: [{"kind", "count", "message"}].',
    )
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )

    class Meta(Job.Meta):
        app_label = "annotate"
        ordering = ["-created_at", "-id"]
        constraints = [
            *Job.Meta.constraints,
            models.CheckConstraint(
                condition=~Q(mode="predictions") | ~Q(model_version_name=""),
                name="importjob_predictions_named",
            ),
        ]

    def __str__(self) -> str:
        return f"{self.get_format_display()} import into {self.project} ({self.state})"
