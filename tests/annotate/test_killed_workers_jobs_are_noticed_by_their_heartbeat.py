"""A job a worker runs is kept alive by a heartbeat thread in its process (annotate.jobs
JobHolds): its deadline stays JOB_DEAD_AFTER_S ahead while the process lives, however long a
step takes, and stops moving when the process is killed, so the jobs sweep runs the job again
within that window. It used to wait for Celery's time limit plus two minutes (over an hour)."""

from __future__ import annotations

import os
import signal
from datetime import timedelta

import pytest
from django.utils import timezone

from annotate.exchange.services import export_create
from annotate.jobs import jobs_sweep
from annotate.models import ExportJob

from .exchange_builders import labeled_project
from .worker_faults import DEAD_AFTER_S, paused_worker_running, wait_until

pytestmark = pytest.mark.worker


@pytest.fixture
def paused_worker(tmp_path, transactional_db, monkeypatch):
    yield from paused_worker_running(tmp_path, monkeypatch)


def _job(job_id: int) -> ExportJob:
    return ExportJob.objects.get(pk=job_id)


def test_a_running_jobs_deadline_is_kept_ahead_by_its_heartbeat_while_the_worker_lives(
    paused_worker, project, pat
):
    labeled_project(project)
    job = export_create(project=project, user=pat, format="coco")
    paused_worker.paused_pid()  # the export waits: it reports no progress meanwhile
    claimed = _job(job.pk)
    assert claimed.state == "running"
    assert claimed.deadline_at == claimed.started_at + timedelta(seconds=DEAD_AFTER_S)

    beaten = wait_until(
        lambda: _job(job.pk).deadline_at > claimed.deadline_at + timedelta(seconds=DEAD_AFTER_S),
        "the deadline moving on past the first one",
    )
    assert beaten
    assert jobs_sweep().total == 0  # alive: nothing to do

    paused_worker.go()
    done = wait_until(lambda: _job(job.pk).state == "done" and _job(job.pk), "the export")
    assert (done.attempts, done.deadline_at) == (1, None)


def test_a_job_whose_worker_process_was_killed_runs_again_once_its_heartbeat_stops(
    paused_worker, project, pat
):
    labeled_project(project)
    job = export_create(project=project, user=pat, format="coco")
    os.kill(paused_worker.paused_pid(), signal.SIGKILL)
    # Celery hands the message back when a pool process dies; its redelivery finds the job
    # running and leaves it. Nothing beats for the job any more:
    wait_until(lambda: _job(job.pk).deadline_at < timezone.now(), "the deadline passing")
    assert _job(job.pk).state == "running"
    assert _job(job.pk).deadline_at < _job(job.pk).started_at + timedelta(
        seconds=ExportJob.run_deadline_s()
    )

    paused_worker.go()
    report = jobs_sweep()

    assert report.restarted == {"annotate.ExportJob": [job.pk]}
    done = wait_until(lambda: _job(job.pk).state == "done" and _job(job.pk), "the export")
    assert (done.attempts, done.tasks_done, done.error) == (2, 3, "")
