"""Export and import jobs: create them (validated, queued after commit), run them (in a worker).

Runs are idempotent: a job is claimed with a conditional update, so a redelivered message finds
it done; a run interrupted by a lost worker left nothing committed and is claimed again once
the Celery time limit has passed.
"""

from __future__ import annotations

import datetime as dt
import logging
import re
import tempfile
from collections.abc import Callable
from functools import partial
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.uploadedfile import UploadedFile
from django.db import transaction
from django.db.models import Q
from django.utils import timezone

from annotate.jobs import enqueue_on_commit
from annotate.models import Project
from annotate.models.exchange_jobs import ExchangeFormat, ExportJob, ImportJob, JobState
from annotate.services.errors import ServiceError

from .importing import ImportRefused, import_file
from .selectors import STATES_BY_FILTER, ExportFilter, exported_annotations, video_assets
from .writers import FILE_TYPES, WRITERS
from .writers.common import ExportError

logger = logging.getLogger(__name__)

IMPORT_FORMATS = ("coco", "yolo", "mot", "cvat")
PROGRESS_EVERY = 200  # tasks between progress updates: a few writes per export, not one per task
MAX_STORED_ERRORS = 1000


class QueueUnavailable(ServiceError):
    status = 503
    code = "queue_unavailable"


def _claim(model, job_id: int) -> bool:
    """Move a queued job (or one whose worker died past the time limit) to running."""
    stale = timezone.now() - dt.timedelta(seconds=settings.CELERY_TASK_TIME_LIMIT)
    claimable = Q(state=JobState.QUEUED) | Q(state=JobState.RUNNING, started_at__lt=stale)
    return bool(
        model.objects.filter(claimable, pk=job_id).update(
            state=JobState.RUNNING, started_at=timezone.now(), progress=0.0, error=""
        )
    )


def _enqueue(task_name: str, model, job_id: int) -> None:
    enqueue_on_commit(task_name, job_id, on_failure=partial(_not_sent, model, job_id))


def _not_sent(model, job_id: int, error: Exception) -> None:
    model.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.FAILED,
        error=f"The job queue is unreachable ({error}); nothing was run. Try again later.",
        finished_at=timezone.now(),
    )


# --- export ---------------------------------------------------------------------------------


def export_create(
    *,
    project: Project,
    user,
    format: str,
    state_filter: str = "accepted",
    phase: str = "label",
    date_from: dt.date | None = None,
    date_to: dt.date | None = None,
) -> ExportJob:
    errors: dict[str, list[str]] = {}
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
        )
        _enqueue("annotate.exchange.export_run", ExportJob, job.pk)
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
) -> int:
    """Write one export to a binary stream; the real path of jobs and the benchmark.
    Returns the number of tasks written."""
    annotations = exported_annotations(project=project, export_filter=export_filter)
    kwargs = {"chunk_size": chunk_size} if chunk_size else {}
    every = 1 if format == "cvat" else PROGRESS_EVERY  # CVAT counts videos, not tasks
    done = 0
    for done in WRITERS[format](out, project=project, annotations=annotations, **kwargs):
        if on_progress and done % every == 0:
            on_progress(done)
    return done


def export_run(*, job_id: int) -> ExportJob:
    """Write the export file of a queued job, reporting progress as it goes."""
    if not _claim(ExportJob, job_id):
        return ExportJob.objects.get(pk=job_id)
    job = ExportJob.objects.select_related("project").get(pk=job_id)
    export_filter = export_filter_of(job)
    annotations = exported_annotations(project=job.project, export_filter=export_filter)
    total = len(video_assets(annotations)) if job.format == "cvat" else annotations.count()
    ExportJob.objects.filter(pk=job.pk).update(tasks_total=total)

    def progress(done: int) -> None:
        ExportJob.objects.filter(pk=job.pk, state=JobState.RUNNING).update(
            tasks_done=done, progress=min(done / total, 0.99) if total else 0.0
        )

    try:
        with tempfile.TemporaryFile() as out:
            done = export_write(
                project=job.project,
                format=job.format,
                export_filter=export_filter,
                out=out,
                on_progress=progress,
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
    ExportJob.objects.filter(pk=job.pk).update(
        state=JobState.DONE,
        progress=1.0,
        tasks_done=done,
        file=job.file.name,
        download_name=name,
        finished_at=timezone.now(),
    )
    return ExportJob.objects.get(pk=job.pk)


def _fail(model, job_id: int, message: str, **fields):
    model.objects.filter(pk=job_id).update(
        state=JobState.FAILED, error=message, finished_at=timezone.now(), **fields
    )
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
        _enqueue("annotate.exchange.import_run", ImportJob, job.pk)
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
    if not _claim(ImportJob, job_id):
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
        ImportJob.objects.filter(pk=job.pk, state=JobState.RUNNING).update(
            progress=min(max(fraction, 0.0), 0.99)
        )

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
            records_total=refused.records_total,
            records_failed=len(refused.errors),
        )
    except Exception as error:
        logger.exception("import %s failed", job.pk)
        return _fail(ImportJob, job.pk, f"The import failed: {error}")
    ImportJob.objects.filter(pk=job.pk).update(
        state=JobState.DONE,
        progress=1.0,
        records_total=result.records_total,
        records_imported=result.records_imported,
        records_failed=len(result.errors),
        tasks_written=result.tasks_written,
        errors=result.errors[:MAX_STORED_ERRORS],
        finished_at=timezone.now(),
    )
    return ImportJob.objects.get(pk=job.pk)
