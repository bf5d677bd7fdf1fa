"""The propagation endpoints: who may start, watch and undo one (the labeling API's rules:
changing a task is "task.label", watching it "task.view"), what a bad request gets, and the
answers (checked against the OpenAPI schema by tests/conftest.py)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from annotate.models.propagation_jobs import PropagationJob
from annotate.propagation.services import propagation_run
from tests.annotate.propagation_media import (
    SPRITES,
    box_shape,
    frame_ids,
    hold,
    save,
    video_project_task,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(project, alice, media_root, tmp_path, monkeypatch):
    first = video_project_task(project, tmp_path, monkeypatch, frames=10)[0]
    hold(first, alice)
    save(first, alice, boxes=[box_shape(frame_ids(first)[0], SPRITES[0].box(0))])
    return first


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def start_body(task, **extra) -> dict:
    return {"frame": frame_ids(task)[0], "tracks": [1], "base_version": 1, **extra}


def test_the_holder_starts_a_propagation_and_sees_its_progress_and_result(task, alice):
    client = client_for(alice)

    answer = client.post(f"/api/tasks/{task.pk}/propagations/", start_body(task), format="json")

    assert answer.status_code == 202, answer.json()
    job = answer.json()
    assert (job["state"], job["frames_total"], job["frames_done"], job["version"]) == (
        "queued", 9, 0, None,
    )  # fmt: skip
    propagation_run(job_id=job["id"])  # what the worker does
    done = client.get(job["url"]).json()
    assert (done["state"], done["progress"], done["frames_done"], done["version"]) == (
        "done", 1.0, 9, 2,
    )  # fmt: skip
    assert done["shapes_written"] == 9
    listed = client.get(f"/api/tasks/{task.pk}/propagations/").json()
    assert [j["id"] for j in listed] == [job["id"]]

    undone = client.post(done["undo_url"], format="json")
    assert undone.status_code == 200
    assert undone.json()["undo_versions"] == [{"task": task.pk, "base_version": 2, "version": 3}]
    again = client.post(done["undo_url"], format="json")
    assert (again.status_code, again.json()["code"]) == (409, "propagation_not_undoable")


@pytest.mark.parametrize(
    ("who", "start", "watch"),
    [
        ("alice", 202, 200),  # annotator holding the task
        ("bob", 404, 404),  # annotator of the project, not holding it
        ("rita", 403, 200),  # reviewer: sees tasks, labels none
        ("pat", 403, 200),  # manager not holding it: labels only what they hold
        ("eve", 403, 200),  # ML engineer
        ("carol", 404, 404),  # another project's annotator
    ],
)
def test_who_may_start_watch_and_undo_follows_the_labeling_rules(
    request, task, alice, who, start, watch
):
    user = request.getfixturevalue(who)
    answer = client_for(user).post(
        f"/api/tasks/{task.pk}/propagations/", start_body(task), format="json"
    )
    assert answer.status_code == start

    job = PropagationJob.objects.filter(task=task).first() or _started_by(alice, task)
    propagation_run(job_id=job.pk)
    assert client_for(user).get(f"/api/propagations/{job.pk}/").status_code == watch
    undo = client_for(user).post(f"/api/propagations/{job.pk}/undo/", format="json")
    assert undo.status_code == (
        200 if who == "alice" else min(start, watch) if watch == 404 else 403
    )


def _started_by(user, task) -> PropagationJob:
    answer = client_for(user).post(
        f"/api/tasks/{task.pk}/propagations/", start_body(task), format="json"
    )
    return PropagationJob.objects.get(pk=answer.json()["id"])


def test_a_bad_request_is_a_400_field_by_field(task, alice):
    answer = client_for(alice).post(
        f"/api/tasks/{task.pk}/propagations/",
        {"frame": "first", "tracks": "some", "direction": "up", "until": 3},
        format="json",
    )

    assert answer.status_code == 400
    assert set(answer.json()) == {"frame", "tracks", "direction", "until"}


def test_a_stale_version_and_a_second_start_are_409s(task, alice):
    client = client_for(alice)
    url = f"/api/tasks/{task.pk}/propagations/"

    stale = client.post(url, start_body(task, base_version=None), format="json")
    assert (stale.status_code, stale.json()["code"], stale.json()["latest_version"]) == (
        409, "version_conflict", 1,
    )  # fmt: skip
    assert client.post(url, start_body(task), format="json").status_code == 202
    twice = client.post(url, start_body(task), format="json")
    assert (twice.status_code, twice.json()["code"]) == (409, "propagation_running")


def test_a_down_queue_leaves_the_job_waiting_with_the_reason_on_it(
    task, alice, monkeypatch, django_capture_on_commit_callbacks
):
    def unreachable(*args, **kwargs):
        raise ConnectionError("Redis is down")

    monkeypatch.setattr("annotate.jobs.job_send", unreachable)
    with django_capture_on_commit_callbacks(execute=True):
        answer = client_for(alice).post(
            f"/api/tasks/{task.pk}/propagations/", start_body(task), format="json"
        )
    # Here the send runs after the answer (the test's transaction commits last); served, it
    # runs at the service's commit and the answer is a 503 with this reason.
    assert answer.status_code == 202
    job = PropagationJob.objects.get(pk=answer.json()["id"])
    assert job.state == "queued" and "unreachable" in job.error
    assert client_for(alice).get(f"/api/propagations/{job.pk}/").json()["error"] == job.error


def test_the_project_threshold_is_a_setting_managers_change(project, pat, alice):
    client = client_for(pat)
    url = f"/api/projects/{project.pk}/"

    changed = client.patch(
        url, {"propagation_min_confidence": 0.7, "propagation_below": "stop"}, format="json"
    )
    assert changed.status_code == 200
    assert (changed.json()["propagation_min_confidence"], changed.json()["propagation_below"]) == (
        0.7, "stop",
    )  # fmt: skip
    wrong = client.patch(url, {"propagation_min_confidence": 1.5}, format="json")
    assert wrong.status_code == 400 and "propagation_min_confidence" in wrong.json()
    assert (
        client_for(alice).patch(url, {"propagation_below": "flag"}, format="json").status_code
        == 403
    )
