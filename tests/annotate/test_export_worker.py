"""Export and import jobs on a real Celery worker: queued by the API after commit, run by the
worker with progress on the job row, and a redelivered message changes nothing.

Needs annotate/tasks.py to import annotate.exchange.tasks, so the worker registers them."""

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
