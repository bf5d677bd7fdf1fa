"""Propagation through a real Celery worker: queued by the API after commit, run by the
worker with progress on the job row, and a redelivered message writes nothing twice."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from rest_framework.test import APIClient

from annotate.models import Annotation, Box
from annotate.models.propagation_jobs import PropagationJob
from config.celery import app
from tests.annotate.propagation_media import (
    SPRITES,
    box_shape,
    frame_ids,
    hold,
    save,
    video_project_task,
)

pytestmark = [pytest.mark.worker]


@pytest.fixture
def shared_media(settings, project):
    """The worker reads the default MEDIA_ROOT; remove this project's files afterwards."""
    yield Path(settings.MEDIA_ROOT)
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "projects" / str(project.pk), ignore_errors=True)


def wait_for(job_id: int, seconds: float = 90) -> PropagationJob:
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        job = PropagationJob.objects.get(pk=job_id)
        if not job.is_live:
            return job
        time.sleep(0.2)
    raise AssertionError(f"propagation {job_id} still {job.state}")


def test_the_worker_propagates_to_the_end_of_the_video_and_a_redelivery_changes_nothing(
    transactional_db, celery_worker, project, alice, tmp_path, monkeypatch, shared_media
):
    tasks = video_project_task(project, tmp_path, monkeypatch)
    for task in tasks:
        hold(task, alice)
    ids = frame_ids(tasks[0])
    save(tasks[0], alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))])
    client = APIClient()
    client.force_authenticate(alice)

    answer = client.post(
        f"/api/tasks/{tasks[0].pk}/propagations/",
        {"frame": ids[0], "tracks": "all", "until": "video", "base_version": 1},
        format="json",
    )
    assert answer.status_code == 202, answer.json()
    job = wait_for(answer.json()["id"])

    assert (job.state, job.progress, job.frames_done, job.attempts) == ("done", 1.0, 19, 1)
    assert [v["version"] for v in job.versions] == [2, 1]
    assert Box.objects.filter(annotation__task__in=tasks, source="propagation").count() == 19

    app.send_task("annotate.propagation_run", args=[job.pk]).get(timeout=30)
    assert Annotation.objects.filter(task__in=tasks).count() == 3
    assert PropagationJob.objects.get(pk=job.pk).versions == job.versions
