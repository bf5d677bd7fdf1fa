"""Input and output shapes of the export and import endpoints (annotate.exchange.api)."""

from __future__ import annotations

from django.urls import reverse
from rest_framework import serializers

from annotate.models.exchange_jobs import ExchangeFormat, ExportJob, ImportJob, JobState

from .selectors import STATES_BY_FILTER
from .services import IMPORT_FORMATS


class ExportInput(serializers.Serializer):
    format = serializers.ChoiceField(choices=ExchangeFormat.values)
    state = serializers.ChoiceField(
        choices=list(STATES_BY_FILTER),
        default="accepted",
        help_text="accepted: accepted tasks only; submitted: every labeled task.",
    )
    phase = serializers.ChoiceField(choices=ExportJob.Phase.values, default="label")
    date_from = serializers.DateField(required=False, allow_null=True, default=None)
    date_to = serializers.DateField(required=False, allow_null=True, default=None)
    include_images = serializers.BooleanField(
        required=False,
        default=False,
        help_text="YOLO and CVAT for images: put the images in the archive.",
    )
    skeletons = serializers.ChoiceField(
        choices=ExportJob.Skeletons.values,
        default="skeleton",
        help_text="CVAT formats only, for tools that cannot read CVAT skeletons: skeleton "
        "(CVAT <skeleton>), points (a <points> shape or track per keypoint, labeled "
        "\"<class>_<keypoint>\", in the object's group) or omit (boxes only; the job's "
        "summary counts what was left out).",
    )


class ImportInput(serializers.Serializer):
    file = serializers.FileField()
    format = serializers.ChoiceField(choices=list(IMPORT_FORMATS))
    # "as" is a Python keyword, so the field is declared below under its wire name.
    model_version = serializers.CharField(required=False, allow_blank=True, default="")
    skip_invalid = serializers.BooleanField(required=False, default=False)

    def get_fields(self):
        fields = super().get_fields()
        fields["as"] = serializers.ChoiceField(
            choices=ImportJob.Mode.values, default="ground_truth"
        )
        return fields


class CocoFileSerializer(serializers.Serializer):
    """A COCO export as downloaded (annotate.exchange.writers.coco): its top-level lists."""

    info = serializers.DictField()
    licenses = serializers.ListField(child=serializers.DictField())
    categories = serializers.ListField(child=serializers.DictField())
    images = serializers.ListField(child=serializers.DictField())
    annotations = serializers.ListField(child=serializers.DictField())
    videos = serializers.ListField(child=serializers.DictField())


class LabelStudioTaskSerializer(serializers.Serializer):
    """One task of a Label Studio export (annotate.exchange.writers.labelstudio)."""

    id = serializers.IntegerField()
    data = serializers.DictField(help_text="{'image': name} or {'video': name}.")
    annotations = serializers.ListField(
        child=serializers.DictField(), help_text="One annotation: {'id', 'result': [regions]}."
    )


class ExportSummaryLine(serializers.Serializer):
    kind = serializers.CharField(help_text='"skeleton", "skeleton_track", ...')
    count = serializers.IntegerField()
    message = serializers.CharField()


def _absolute(serializer: serializers.Serializer, name: str, pk: int) -> str:
    return serializer.context["request"].build_absolute_uri(reverse(name, args=[pk]))


class ExportJobSerializer(serializers.Serializer):
    """An export job with its progress; `download_url` once it is done. Needs the request in
    its context for the absolute URLs."""

    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    format = serializers.ChoiceField(choices=ExchangeFormat.values)
    state_filter = serializers.ChoiceField(choices=list(STATES_BY_FILTER))
    phase = serializers.ChoiceField(choices=ExportJob.Phase.choices)
    date_from = serializers.DateField(allow_null=True)
    date_to = serializers.DateField(allow_null=True, help_text="Inclusive.")
    include_images = serializers.BooleanField()
    skeletons = serializers.ChoiceField(choices=ExportJob.Skeletons.choices)
    summary = ExportSummaryLine(
        many=True, help_text="What the export left out, or wrote in part, by kind."
    )
    state = serializers.ChoiceField(choices=JobState.choices)
    progress = serializers.SerializerMethodField(help_text="0 to 1.")
    tasks_total = serializers.IntegerField()
    tasks_done = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True)
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()
    download_url = serializers.SerializerMethodField()

    def get_progress(self, job: ExportJob) -> float:
        return round(job.progress, 4)

    def get_url(self, job: ExportJob) -> str:
        return _absolute(self, "api-export-detail", job.pk)

    def get_download_url(self, job: ExportJob) -> str | None:
        if job.state == JobState.DONE and job.file:
            return _absolute(self, "api-export-download", job.pk)
        return None


class ImportRecordError(serializers.Serializer):
    record = serializers.CharField(help_text="Which record of the file, in its own terms.")
    message = serializers.CharField()
    kind = serializers.CharField(
        required=False,
        help_text='What kind of problem: "polygon", "rle", "attribute", "frame", "invalid", ...',
    )


class ImportSummaryLine(serializers.Serializer):
    kind = serializers.CharField()
    count = serializers.IntegerField()
    message = serializers.CharField()


class ImportJobSerializer(serializers.Serializer):
    """An import job with its progress and per-record errors (the first 1000). Needs the
    request in its context for the absolute URL."""

    id = serializers.IntegerField()
    project = serializers.IntegerField(source="project_id")
    format = serializers.ChoiceField(choices=ExchangeFormat.values)
    # "as" (the mode) is added in get_fields: a Python keyword cannot be declared here.
    model_version = serializers.CharField(source="model_version_name", allow_blank=True)
    skip_invalid = serializers.BooleanField()
    state = serializers.ChoiceField(choices=JobState.choices)
    progress = serializers.SerializerMethodField(help_text="0 to 1.")
    records_total = serializers.IntegerField()
    records_imported = serializers.IntegerField()
    records_failed = serializers.IntegerField()
    tasks_written = serializers.IntegerField()
    error = serializers.CharField(allow_blank=True, help_text="Why the whole file was refused.")
    errors = ImportRecordError(many=True)
    warnings = ImportRecordError(
        many=True,
        help_text="Records imported without part of what the file gave them (the first 1000).",
    )
    summary = ImportSummaryLine(
        many=True, help_text="What was not imported, or imported only in part, by kind."
    )
    created_at = serializers.DateTimeField()
    finished_at = serializers.DateTimeField(allow_null=True)
    url = serializers.SerializerMethodField()

    def get_fields(self):
        fields = super().get_fields()
        ordered = {}
        for name, field in fields.items():
            ordered[name] = field
            if name == "format":
                ordered["as"] = serializers.ChoiceField(
                    source="mode", choices=ImportJob.Mode.choices
                )
        return ordered

    def get_progress(self, job: ImportJob) -> float:
        return round(job.progress, 4)

    def get_url(self, job: ImportJob) -> str:
        return _absolute(self, "api-import-detail", job.pk)
