"""Export and import jobs: create them (validated, queued after commit), run them (in a worker).

Both are jobs of the one job model (annotate.models.jobs, annotate.jobs): claimed with a
compare-and-set, so a redelivered message finds the job taken or done; progress reports keep
the job's deadline moving; a job whose worker died is run again (exports) or failed with the
reason (imports) by the periodic sweep.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tempfile
from collections import Counter
from collections.abc import Callable
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction

from annotate.jobs import job_claim, job_enqueue, job_fail, job_finish, job_heartbeat
from annotate.models import Project
from annotate.models.exchange_jobs import ExchangeFormat, ExportJob, ImportJob
from annotate.services.errors import ServiceError

from .importing import ImportRefused, import_file
from .selectors import STATES_BY_FILTER, ExportFilter, exported_annotations, video_assets
from .writers import FILE_TYPES, WRITERS
from .writers.common import ExportError

logger = logging.getLogger(__name__)

IMPORT_FORMATS = ("coco", "yolo", "mot", "cvat", "labelstudio", "cvat_images")
PROGRESS_EVERY = 200  # tasks between progress updates: a few writes per export, not one per task
MAX_STORED_ERRORS = 1000


class QueueUnavailable(ServiceError):
    status = 503
    code = "queue_unavailable"


# --- export ---------------------------------------------------------------------------------


# The formats whose archive can carry the images too.
IMAGE_FORMATS = ("yolo", "cvat_images")
# The formats that write CVAT skeletons, and so can write them another way.
SKELETON_FORMATS = ("cvat", "cvat_images")
# What an export left out, in words (annotate.exchange.writers count it by kind).
LEFT_OUT = {
    "skeleton": "{n} skeleton(s) left out (skeletons: omit); the boxes are written.",
    "skeleton_track": "{n} skeleton track(s) left out (skeletons: omit); the box tracks are "
    "written.",
    "skeleton_empty": "{n} skeleton(s) with no keypoint labeled have no points to write.",
    "skeleton_occluded": "{n} skeleton(s) or skeleton track(s) have the occluded flag of the "
    "whole skeleton, which the points form cannot carry; each point keeps its own.",
}


def export_create(
    *,
    project: Project,
    user,
    format: str,
    state_filter: str = "accepted",
    phase: str = "label",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
    include_images: bool = False,
    skeletons: str = "skeleton",
) -> ExportJob:
    errors: dict[str, list[str]] = {}
    if include_images and format not in IMAGE_FORMATS:
        errors["include_images"] = [f"Images are exported with: {', '.join(IMAGE_FORMATS)}."]
    if skeletons not in ExportJob.Skeletons.values:
        errors["skeletons"] = [f"Choose one of: {', '.join(ExportJob.Skeletons.values)}."]
    elif skeletons != "skeleton" and format not in SKELETON_FORMATS:
        errors["skeletons"] = [
            f"Skeletons are written another way in: {', '.join(SKELETON_FORMATS)}; "
            "the other formats have keypoints of their own."
        ]
    if format not in ExchangeFormat.values:
        errors["format"] = [f"Choose one of: {', '.join(ExchangeFormat.values)}."]
    if state_filter not in STATES_BY_FILTER:
        errors["state"] = [f"Choose one of: {', '.join(STATES_BY_FILTER)}."]
    if phase not in ExportJob.Phase.values:
        errors["phase"] = [f"Choose one of: {', '.join(ExportJob.Phase.values)}."]
    if date_from and date_to and date_from > date_to:
        errors["date_to"] = ["The end date is before the start date."]
    if errors:
        raise ServiceError("The export request is invalid.", detail={"errors": errors})
    with transaction.atomic():
        job = ExportJob.objects.create(
            project=project,
            created_by=user,
            format=format,
            state_filter=state_filter,
            phase=phase,
            date_from=date_from,
            date_to=date_to,
            include_images=include_images,
            skeletons=skeletons,
        )
        job_enqueue(job)
    return job


def _download_name(job: ExportJob) -> str:
    slug = re.sub(r"[^A-Za-z0-9]+", "-", job.project.name).strip("-").lower()[:60] or "project"
    return f"{slug}-{job.format}-{job.pk}{FILE_TYPES[job.format][0]}"


def export_filter_of(job: ExportJob) -> ExportFilter:
    return ExportFilter(
        state=job.state_filter, phase=job.phase, date_from=job.date_from, date_to=job.date_to
    )


def export_write(
    *,
    project: Project,
    format: str,
    export_filter: ExportFilter,
    out: BinaryIO,
    on_progress: Callable[[int], None] | None = None,
    chunk_size: int | None = None,
    include_images: bool = False,
    skeletons: str = "skeleton",
    summary: list | None = None,
) -> int:
    """Write one export to a binary stream; the real path of jobs and the benchmark.
    Returns the number of tasks written; what it left out goes into `summary` as
    {"kind", "count", "message"} lines."""
    annotations = exported_annotations(project=project, export_filter=export_filter)
    kwargs: dict = {"chunk_size": chunk_size} if chunk_size else {}
    if include_images:
        kwargs["include_images"] = True
    left_out: Counter = Counter()
    if format in SKELETON_FORMATS:
        kwargs.update(skeletons=skeletons, left_out=left_out)
    every = 1 if format == "cvat" else PROGRESS_EVERY  # CVAT counts videos, not tasks
    done = 0
    for done in WRITERS[format](out, project=project, annotations=annotations, **kwargs):
        if on_progress and done % every == 0:
            on_progress(done)
    if summary is not None:
        summary.extend(
            {"kind": kind, "count": n, "message": LEFT_OUT[kind].format(n=n)}
            for kind, n in sorted(left_out.items())
            if n
        )
    return done


def export_run(*, job_id: int) -> ExportJob:
    """Write the export file of a queued job, reporting progress as it goes."""
    if not job_claim(ExportJob, job_id, tasks_done=0):
        return ExportJob.objects.get(pk=job_id)
    job = ExportJob.objects.select_related("project").get(pk=job_id)
    export_filter = export_filter_of(job)
    annotations = exported_annotations(project=job.project, export_filter=export_filter)
    total = len(video_assets(annotations)) if job.format == "cvat" else annotations.count()
    ExportJob.objects.filter(pk=job.pk).update(tasks_total=total)

    def progress(done: int) -> None:
        job_heartbeat(
            ExportJob, job.pk, progress=min(done / total, 0.99) if total else 0.0, tasks_done=done
        )

    summary: list[dict] = []
    try:
        with tempfile.TemporaryFile() as out:
            done = export_write(
                project=job.project,
                format=job.format,
                export_filter=export_filter,
                out=out,
                on_progress=progress,
                include_images=job.include_images,
                skeletons=job.skeletons,
                summary=summary,
            )
            out.seek(0)
            old = job.file.name
            name = _download_name(job)
            job.file.save(name, File(out, name=name), save=False)
        if old and old != job.file.name:
            job.file.storage.delete(old)
    except ExportError as error:
        return _fail(ExportJob, job.pk, str(error))
    except Exception as error:
        logger.exception("export %s failed", job.pk)
        return _fail(ExportJob, job.pk, f"The export failed: {error}")
    job_finish(
        ExportJob,
        job.pk,
        tasks_done=done,
        file=job.file.name,
        download_name=name,
        summary=summary,
    )
    return ExportJob.objects.get(pk=job.pk)


def _fail(model, job_id: int, message: str, **fields):
    job_fail(model, job_id, message, **fields)
    return model.objects.get(pk=job_id)


# --- import ---------------------------------------------------------------------------------


def import_create(
    *,
    project: Project,
    user,
    format: str,
    upload: UploadedFile | None,
    mode: str = "ground_truth",
    model_version_name: str = "",
    skip_invalid: bool = False,
) -> ImportJob:
    errors: dict[str, list[str]] = {}
    if format not in IMPORT_FORMATS:
        errors["format"] = [f"Import reads: {', '.join(IMPORT_FORMATS)}."]
    if mode not in ImportJob.Mode.values:
        errors["as"] = [f"Choose one of: {', '.join(ImportJob.Mode.values)}."]
    model_version_name = (model_version_name or "").strip()
    if mode == ImportJob.Mode.PREDICTIONS and not model_version_name:
        errors["model_version"] = ["Predictions are stored under a model version name."]
    if len(model_version_name) > 100:
        errors["model_version"] = ["At most 100 characters."]
    if upload is None:
        errors["file"] = ["Attach the file to import."]
    elif upload.size > settings.MEDIA_MAX_UPLOAD_BYTES:
        errors["file"] = ["The file is larger than the upload limit."]
    if errors:
        raise ServiceError("The import request is invalid.", detail={"errors": errors})
    with transaction.atomic():
        job = ImportJob(
            project=project,
            created_by=user,
            format=format,
            mode=mode,
            model_version_name=model_version_name if mode == "predictions" else "",
            skip_invalid=skip_invalid,
            original_name=(upload.name or "")[:255],
        )
        job.file.save(upload.name or "upload", upload, save=False)
        job.save()
        job_enqueue(job)
    return job


PredictionsSink = Callable[..., int]


def predictions_sink() -> PredictionsSink | None:
    """The function that stores imported predictions (it lives in the learning app, which
    annotate does not import): settings.EXCHANGE_PREDICTIONS_SINK, a dotted path."""
    from django.utils.module_loading import import_string

    path = getattr(settings, "EXCHANGE_PREDICTIONS_SINK", "")
    return import_string(path) if path else None


def import_run(*, job_id: int, sink: PredictionsSink | None = None) -> ImportJob:
    """Read a queued import job's file, check every record, then write all of it (or, with
    skip_invalid, the valid records) in one transaction; errors are kept per record."""
    if not job_claim(ImportJob, job_id):
        return ImportJob.objects.get(pk=job_id)
    job = ImportJob.objects.select_related("project", "created_by").get(pk=job_id)
    if job.mode == ImportJob.Mode.PREDICTIONS:
        sink = sink or predictions_sink()
        if sink is None:
            return _fail(
                ImportJob,
                job.pk,
                "Prediction import is not configured (EXCHANGE_PREDICTIONS_SINK).",
            )

    def progress(fraction: float) -> None:
        job_heartbeat(ImportJob, job.pk, progress=min(max(fraction, 0.0), 0.99))

    try:
        with job.file.open("rb") as stream:
            result = import_file(
                stream,
                project=job.project,
                format=job.format,
                mode=job.mode,
                user=job.created_by,
                model_version_name=job.model_version_name,
                skip_invalid=job.skip_invalid,
                sink=sink,
                on_progress=progress,
            )
    except ImportRefused as refused:
        return _fail(
            ImportJob,
            job.pk,
            refused.message,
            errors=refused.errors[:MAX_STORED_ERRORS],
            warnings=refused.warnings[:MAX_STORED_ERRORS],
            summary=refused.summary,
            records_total=refused.records_total,
            records_failed=len(refused.errors),
        )
    except Exception as error:
        logger.exception("import %s failed", job.pk)
        return _fail(ImportJob, job.pk, f"The import failed: {error}")
    job_finish(
        ImportJob,
        job.pk,
        records_total=result.records_total,
        records_imported=result.records_imported,
        records_failed=len(result.errors),
        tasks_written=result.tasks_written,
        errors=result.errors[:MAX_STORED_ERRORS],
        warnings=result.warnings[:MAX_STORED_ERRORS],
        summary=result.summary,
    )
    return ImportJob.objects.get(pk=job.pk)
