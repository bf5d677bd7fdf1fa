"""Input and output shapes of the bucket source endpoints (annotate.buckets.api). The
credentials are input only: no answer carries them, only `has_credentials`."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from annotate.models import BucketRegistration, BucketSource
from annotate.models.buckets import BUCKET_NAME
from annotate.models.jobs import JobState


class BucketSourceInput(serializers.Serializer):
    endpoint_url = serializers.URLField(
        max_length=500,
        required=False,
        allow_blank=True,
        default="",
        help_text="An S3-compatible endpoint (https://...); empty for AWS S3. It must resolve "
        "to globally routable addresses only.",
    )
    region = serializers.CharField(max_length=50, required=False, allow_blank=True, default="")
    bucket = serializers.CharField(max_length=63, validators=[BUCKET_NAME])
    prefix = serializers.CharField(
        max_length=1024, required=False, allow_blank=True, default="", trim_whitespace=False
    )
    access_key_id = serializers.CharField(
        max_length=128, required=False, allow_blank=True, default="", write_only=True
    )
    secret_access_key = serializers.CharField(
        max_length=256,
        required=False,
        allow_blank=True,
        default="",
        write_only=True,
        help_text="Kept to read the bucket; never shown again. Without credentials the "
        "bucket is read anonymously.",
    )


def _absolute(serializer: serializers.Serializer, name: str, pk: int) -> str:
    return serializer.context["request"].build_absolute_uri(reverse(name, args=[pk]))


class BucketRegistrationSerializer(serializers.Serializer):
    """One listing of a source: how far it got. Needs the request in its context."""

    id = serializers.IntegerField()
    source = serializers.IntegerField(source="source_id")
    state = serializers.ChoiceField(choices=JobState.choices)
    progress = serializers.SerializerMethodField(help_text="0 to 1 (1 once listed).")
    pages_listed = serializers.IntegerField()
    objects_listed = serializers.IntegerField()
    assets_created = serializers.IntegerField()
    tasks_created = serializers.IntegerField()
    objects_skipped = serializers.IntegerField(
        help_text="Not an image or a video by its name, or registered already."
    )
    skipped_examples = serializers.ListField(child=serializers.DictField())
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    started_at = serializers.DateTimeField(allow_null=True)
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()

    def get_progress(self, job: BucketRegistration) -> float:
        return round(job.progress, 4)

    def get_url(self, job: BucketRegistration) -> str:
        return _absolute(self, "api-bucket-registration-detail", job.pk)


class BucketAssetCounts(serializers.Serializer):
    total = serializers.IntegerField()
    ready = serializers.IntegerField(help_text="Decoded: size, thumbnail and features known.")
    pending = serializers.IntegerField(help_text="Registered, waiting for a worker to decode.")
    processing = serializers.IntegerField()
    failed = serializers.IntegerField()


class BucketSourceSerializer(serializers.Serializer):
    """A bucket source, its assets by state and its latest registration (`asset_counts`
    and `latest_registration` come from the selector). Never its credentials."""

    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    endpoint_url = serializers.CharField(allow_blank=True)
    region = serializers.CharField(allow_blank=True)
    bucket = serializers.CharField()
    prefix = serializers.CharField(allow_blank=True)
    has_credentials = serializers.SerializerMethodField()
    created_at = serializers.DateTimeField()
    assets = BucketAssetCounts(source="asset_counts")
    latest_registration = BucketRegistrationSerializer(allow_null=True)
    url = serializers.SerializerMethodField()

    def get_has_credentials(self, source: BucketSource) -> bool:
        return bool(source.access_key_id and source.secret_access_key)

    def get_url(self, source: BucketSource) -> str:
        return _absolute(self, "api-bucket-source-detail", source.pk)
