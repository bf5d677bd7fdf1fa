"""Export and import jobs on a real Celery worker: queued by the API after commit, run by the
worker with progress on the job row, and a redelivered message changes nothing."""

from __future__ import annotations

import time

import pytest
from django.urls import include, path
from rest_framework.test import APIClient

from annotate.models.exchange_jobs import ExportJob, ImportJob
from config.celery import app

from .exchange_builders import fresh_copy, labeled_project

urlpatterns = [path("api/", include("annotate.exchange.api_urls"))]
pytestmark = [pytest.mark.urls(__name__), pytest.mark.worker]


def wait_for(model, job_id: int, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = model.objects.get(pk=job_id)
        if job.state in ("done", "failed"):
            return job
        time.sleep(0.2)
    raise AssertionError(f"{model.__name__} {job_id} still {job.state}")


def test_worker_runs_an_export_then_an_import_of_it(
    celery_worker, transactional_db, project, other_project, pat
):
    from annotate.models import Membership

    labeled_project(project)
    fresh_copy(other_project)
    Membership.objects.create(project=other_project, user=pat, role="manager")
    client = APIClient()
    client.force_authenticate(pat)

    answer = client.post(f"/api/projects/{project.pk}/exports/", {"format": "coco"})
    assert answer.status_code == 202
    export = wait_for(ExportJob, answer.json()["id"])
    assert (export.state, export.progress, export.tasks_done) == ("done", 1.0, 3)
    download = client.get(f"/api/exports/{export.pk}/download/")
    content = b"".join(download.streaming_content)

    # A redelivered message finds the job done and leaves its file alone.
    app.send_task("annotate.exchange.export_run", args=[export.pk]).get(timeout=30)
    assert ExportJob.objects.get(pk=export.pk).file.name == export.file.name

    upload = client.post(
        f"/api/projects/{other_project.pk}/imports/",
        {"file": _named(content), "format": "coco", "as": "ground_truth"},
        format="multipart",
    )
    assert upload.status_code == 202, upload.json()
    imported = wait_for(ImportJob, upload.json()["id"])
    assert (imported.state, imported.records_imported, imported.tasks_written) == ("done", 8, 3)


def _named(content: bytes):
    from django.core.files.uploadedfile import SimpleUploadedFile

    return SimpleUploadedFile("labels.json", content, content_type="application/json")


def _big_labeled_project(project, images: int) -> None:
    """`images` accepted image tasks of five boxes each, inserted in bulk: an export of it
    takes seconds, long enough to kill its worker in the middle."""
    from annotate.models import Annotation, AnnotationTask, Asset, Box

    person = project.label_classes.get(name="person")
    assets = Asset.objects.bulk_create(
        Asset(
            project=project,
            kind="image",
            file=f"big/{i}.jpg",
            original_name=f"img_{i:07d}.jpg",
            sha256=f"{project.pk:08d}{i:056d}",
            content_type="image/jpeg",
            width=1280,
            height=720,
            state="ready",
        )
        for i in range(images)
    )
    tasks = AnnotationTask.objects.bulk_create(
        AnnotationTask(project=project, asset=a, kind="image", state="accepted") for a in assets
    )
    versions = Annotation.objects.bulk_create(
        Annotation(task=t, version=1, kind="submission") for t in tasks
    )
    Box.objects.bulk_create(
        (
            Box(annotation=v, label_class=person, x=10 + 40 * j, y=20, w=30, h=60)
            for v in versions
            for j in range(5)
        ),
        batch_size=5000,
    )


def _wait_for_state(model, job_id: int, state: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = model.objects.get(pk=job_id)
        if job.state == state:
            return job
        time.sleep(0.05)
    raise AssertionError(f"{model.__name__} {job_id} never {state} (still {job.state})")


def test_an_export_whose_worker_was_killed_does_not_stay_running(
    celery_worker, transactional_db, project, pat
):
    """A killed worker's export used to stay "running" forever: its message is not handed
    back until the broker's visibility timeout, and a redelivery returned at once."""
    import os
    import signal
    from datetime import timedelta

    from django.utils import timezone

    from annotate.exchange.services import export_create
    from annotate.jobs import jobs_sweep

    _big_labeled_project(project, images=8000)
    job = export_create(project=project, user=pat, format="coco")
    _wait_for_state(ExportJob, job.pk, "running")
    os.killpg(celery_worker.process.pid, signal.SIGKILL)
    celery_worker.process.wait()
    job.refresh_from_db()
    assert (job.state, job.attempts) == ("running", 1), "the kill came too late"
    assert job.progress < 1

    celery_worker.restart()
    assert jobs_sweep().total == 0  # within its deadline the job may still be alive
    later = timezone.now() + timedelta(seconds=ExportJob.run_deadline_s() + 1)
    report = jobs_sweep(now=later)
    assert report.restarted == {"annotate.ExportJob": [job.pk]}

    job = wait_for(ExportJob, job.pk, seconds=120)
    assert (job.state, job.attempts, job.progress, job.tasks_done) == ("done", 2, 1.0, 8000)
    assert job.file and job.error == ""


def test_an_export_made_while_the_broker_is_down_is_sent_by_the_sweep_later(
    celery_worker, transactional_db, project, pat, monkeypatch
):
    from datetime import timedelta

    from django.utils import timezone
    from kombu.exceptions import OperationalError

    from annotate.exchange.services import export_create
    from annotate.jobs import jobs_sweep
    from annotate.models.jobs import RESEND_AFTER_S

    labeled_project(project)

    def refuse(name, args):
        raise OperationalError("connection refused")

    monkeypatch.setattr("annotate.jobs.job_send", refuse)
    job = export_create(project=project, user=pat, format="coco")
    job.refresh_from_db()
    assert job.state == "queued" and "unreachable" in job.error
    monkeypatch.undo()  # the broker is back

    jobs_sweep(now=timezone.now() + timedelta(seconds=RESEND_AFTER_S + 1))

    job = wait_for(ExportJob, job.pk)
    assert (job.state, job.tasks_done, job.attempts) == ("done", 3, 1)
