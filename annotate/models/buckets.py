"""Media that already lives in object storage: a project's bucket sources (an S3-compatible
bucket and prefix, with the credentials to read it) and the jobs that register their objects
as assets and tasks without copying them (annotate.buckets).

Imported by annotate/models/__init__.py. A registered asset keeps `source` and `object_key`
and no file of its own; workers read the object when they decode it.
"""

from __future__ import annotations

from django.conf import settings
from django.core.validators import RegexValidator
from django.db import models
from django.db.models import Q

from annotate.models.jobs import Job, JobState

__all__ = ["BucketRegistration", "BucketSource"]

# S3's rules for a bucket name: 3 to 63 lower-case letters, digits, dots and hyphens.
BUCKET_NAME = RegexValidator(
    r"^[a-z0-9][a-z0-9.-]{1,61}[a-z0-9]$",
    "3 to 63 lower-case letters, digits, dots and hyphens, starting and ending with a "
    "letter or digit.",
)


class BucketSource(models.Model):
    """A bucket and prefix whose objects a project's assets are. The credentials are kept
    to read it; they are never shown again (the API says only whether there are some)."""

    project = models.ForeignKey(
        "annotate.Project", on_delete=models.CASCADE, related_name="bucket_sources"
    )
    endpoint_url = models.CharField(
        max_length=500,
        blank=True,
        help_text="An S3-compatible endpoint, https://...; empty for AWS S3 itself.",
    )
    region = models.CharField(max_length=50, blank=True)
    bucket = models.CharField(max_length=63, validators=[BUCKET_NAME])
    prefix = models.CharField(max_length=1024, blank=True, help_text="Only keys under this.")
    access_key_id = models.CharField(max_length=128, blank=True)
    secret_access_key = models.CharField(max_length=256, blank=True)
    created_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    created_at = models.DateTimeField(auto_now_add=True)

    class Meta:
        ordering = ["project", "id"]
        constraints = [
            models.UniqueConstraint(
                fields=["project", "endpoint_url", "bucket", "prefix"],
                name="bucket_source_unique_place",
            ),
        ]

    def __str__(self) -> str:
        return f"s3://{self.bucket}/{self.prefix}"


class BucketRegistration(Job):
    """One listing of a bucket source: every object under the prefix that is an image or a
    video becomes an asset (an image also its task) unless it is registered already; the
    others are counted as skipped, with examples. Running it again registers only what is
    new, so a run whose worker died is simply run again."""

    task_name = "annotate.bucket_register"
    kind_name = "bucket registration"
    max_attempts = 3

    source = models.ForeignKey(BucketSource, on_delete=models.CASCADE, related_name="registrations")
    requested_by = models.ForeignKey(
        settings.AUTH_USER_MODEL, null=True, blank=True, on_delete=models.SET_NULL, related_name="+"
    )
    pages_listed = models.PositiveIntegerField(default=0)
    objects_listed = models.PositiveIntegerField(default=0)
    assets_created = models.PositiveIntegerField(default=0)
    tasks_created = models.PositiveIntegerField(default=0)
    objects_skipped = models.PositiveIntegerField(
        default=0, help_text="Not an image or video by its name, or already registered."
    )
    skipped_examples = models.JSONField(
        default=list, blank=True, help_text="The first skipped keys, each with the reason."
    )

    class Meta(Job.Meta):
        ordering = ["-created_at", "-id"]
        constraints = [
            *Job.Meta.constraints,
            # One listing of a source at a time: two would race on the same keys.
            models.UniqueConstraint(
                fields=["source"],
                condition=Q(state__in=[JobState.QUEUED, JobState.RUNNING]),
                name="bucket_registration_one_live_per_source",
            ),
        ]
