"""A worker's database connection ended mid-job (pg_terminate_backend from another
connection): an idempotent job's task hands its job back and is retried with backoff
(annotate.jobs JobTask) until it finishes; an import, which is not run twice, fails saying why.
Either way no job stays running."""

from __future__ import annotations

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotate.exchange.services import export_create, import_create
from annotate.models import ExportJob, ImportJob

from .database_faults import terminate_others_on_this_database
from .exchange_builders import labeled_project
from .worker_faults import paused_worker_running, wait_until

pytestmark = pytest.mark.worker


@pytest.fixture
def paused_worker(tmp_path, transactional_db, monkeypatch):
    yield from paused_worker_running(tmp_path, monkeypatch)


def _finished(model, job_id: int):
    job = model.objects.get(pk=job_id)
    return job if job.state in ("done", "failed") else None


def test_an_export_whose_connection_ends_mid_job_is_retried_and_finishes(
    paused_worker, project, pat
):
    labeled_project(project)
    job = export_create(project=project, user=pat, format="coco")
    paused_worker.paused_pid()

    assert terminate_others_on_this_database() >= 1  # the worker's
    paused_worker.go()

    job = wait_until(lambda: _finished(ExportJob, job.pk), "the export finishing")
    assert (job.state, job.tasks_done, job.error) == ("done", 3, "")
    assert job.attempts == 2  # the try that met the ended connection, and the retry
    assert "retry: Retry in" in paused_worker.log()


def test_an_import_whose_connection_ends_mid_job_fails_saying_why_and_is_not_run_twice(
    paused_worker, project, pat
):
    upload = SimpleUploadedFile(
        "labels.json",
        b'{"images": [], "annotations": [], "categories": []}',
        content_type="application/json",
    )
    job = import_create(project=project, user=pat, format="coco", upload=upload)
    paused_worker.paused_pid()

    assert terminate_others_on_this_database() >= 1
    paused_worker.go()

    job = wait_until(lambda: _finished(ImportJob, job.pk), "the import ending")
    assert (job.state, job.attempts) == ("failed", 1)
    assert "connection" in job.error.lower()


@pytest.mark.django_db(transaction=True)
def test_a_job_whose_service_catches_every_error_is_retried_when_its_connection_ends(
    project, pat, monkeypatch, no_job_messages
):
    """export_run (like a retraining round) fails its job on any error. A connection lost
    inside a transaction is closed by it, so failing the job worked on a new connection,
    and the lost connection became a failed job instead of a retry (found by
    benchmarks/load.py, on a retraining round). Run eagerly: the retry runs at once, here."""
    from django.db import connection, transaction

    from annotate.exchange import services
    from annotate.models import Annotation
    from annotate.tasks import export_run

    from .database_faults import terminate_this_connection

    labeled_project(project)
    job = export_create(project=project, user=pat, format="coco")
    write, calls = services.export_write, []

    def write_after_a_lost_transaction(*args, **kwargs):
        calls.append(1)
        if len(calls) == 1:
            with transaction.atomic():
                terminate_this_connection()
                Annotation.objects.count()  # fails; the atomic block closes the connection
        return write(*args, **kwargs)

    monkeypatch.setattr(services, "export_write", write_after_a_lost_transaction)

    export_run.apply(args=[job.pk])

    assert connection.is_usable()
    job.refresh_from_db()
    assert (job.state, job.attempts, job.tasks_done, job.error) == ("done", 2, 3, "")
    assert len(calls) == 2
