"""The demo closes the loop for a newcomer labeling alone: seed_demo (as `make run` runs it),
five submissions as `annotator` through the queue's API, and a real Celery worker retrains
the built-in baseline, activates it and rescores every pending task; the next tasks are
handed out in the new order and the project page says what happened."""

from __future__ import annotations

import os
import subprocess
import sys
import time
from datetime import timedelta

import pytest
from django.contrib.auth.models import Group, Permission, User
from django.db import connection
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from activelearn.demo import demo_learning_ensure
from activelearn.models import LearningSettings, RetrainingRound, ScoringRun, TaskScore
from activelearn.retraining.rounds import in_validation_slice, labels_accepted, labels_submitted
from activelearn.selectors import queue_ranked
from annotate.jobs import jobs_sweep
from annotate.management.commands.seed_demo import DEMO_PROJECT
from annotate.models import AnnotationTask, Project, QueueEntry
from annotate.models.jobs import RESEND_AFTER_S
from annotate.roles import sync_groups
from tests.conftest import ROOT, _database_url

FIRST_ROUND = 5


def _wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.3)
    raise AssertionError(f"timed out waiting for {what}")


def _seed_as_make_run_does() -> Project:
    # A transactional test's flush empties the tables the data migrations filled.
    sync_groups(Group, Permission)
    env = {**os.environ, "DEBUG": "1", "DATABASE_URL": _database_url(connection.settings_dict)}
    result = subprocess.run(
        [sys.executable, "manage.py", "seed_demo"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert result.returncode == 0, result.stderr
    return Project.objects.get(name=DEMO_PROJECT)


def _worth_labeling(task: dict, project: Project, taken: list[bool]) -> bool:
    """Whether a newcomer's next label keeps the first round trainable: image tasks only
    (the baseline learns from pictures), and among the five at least one in the validation
    slice (to measure the model) and two outside it (to train on two classes). Others are
    skipped, as a person would skip a picture with nothing of the classes in it."""
    if task["kind"] != AnnotationTask.Kind.IMAGE:
        return False
    in_slice = in_validation_slice(project_id=project.pk, task_id=task["id"])
    validating = sum(taken) + in_slice
    training = len(taken) - sum(taken) + (not in_slice)
    left = FIRST_ROUND - len(taken) - 1
    return max(0, 1 - validating) + max(0, 2 - training) <= left


def _label(task: dict, project: Project, taken: list[bool]) -> dict:
    in_slice = in_validation_slice(project_id=project.pk, task_id=task["id"])
    training_so_far = len(taken) - sum(taken)
    label = "person" if in_slice or training_so_far % 2 == 0 else "bicycle"
    box = {"frame": None, "label": label, "x": 10, "y": 10, "w": 80, "h": 60}
    return {"base_version": None, "payload": {"boxes": [box]}}


def _next(api: APIClient, project: Project) -> dict:
    response = api.post(f"/api/projects/{project.pk}/tasks/next/", {}, format="json")
    assert response.status_code == 200, response.content
    return response.json()["task"]


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_five_submissions_in_the_demo_train_a_model_that_reorders_the_queue(celery_worker):
    project = _seed_as_make_run_does()
    assert project.tasks.count() >= 40
    learning = LearningSettings.objects.get(project=project)
    assert (learning.retrain_every_accepted, learning.retrain_counts) == (5, "submitted")
    # seed_demo runs before `serve` starts Redis: its cold-start run waits for the periodic
    # jobs sweep, which this does now (as it would a few minutes later).
    (cold,) = ScoringRun.objects.filter(project=project)
    later = timezone.now() + timedelta(seconds=RESEND_AFTER_S + 1)
    assert jobs_sweep(now=later).sent == {"activelearn.ScoringRun": [cold.pk]}
    _wait_for(
        lambda: ScoringRun.objects.get(pk=cold.pk).state == "done", timeout=60, what="cold start"
    )

    annotator = User.objects.get(username="annotator")
    api = APIClient()
    api.force_authenticate(annotator)
    taken: list[bool] = []
    while len(taken) < FIRST_ROUND:
        task = _next(api, project)
        assert task is not None, "the demo ran out of tasks"
        if not _worth_labeling(task, project, taken):
            skipped = api.post(
                f"/api/tasks/{task['id']}/skip/", {"reason": "nothing to box"}, format="json"
            )
            assert skipped.status_code == 200
            continue
        assert not RetrainingRound.objects.filter(project=project).exists()
        submitted = api.post(
            f"/api/tasks/{task['id']}/submit/", _label(task, project, taken), format="json"
        )
        assert submitted.status_code == 200, submitted.content
        taken.append(in_validation_slice(project_id=project.pk, task_id=task["id"]))

    # No reviewer was needed: five submitted labels started the round.
    round_ = RetrainingRound.objects.get(project=project)
    assert round_.accepted_count == FIRST_ROUND
    _wait_for(
        lambda: RetrainingRound.objects.get(pk=round_.pk).state not in ("queued", "running"),
        timeout=120,
        what="the retraining round",
    )
    round_.refresh_from_db()
    assert (round_.state, round_.activated) == ("done", True), round_.note
    version = round_.model_version
    run = _wait_for(
        lambda: ScoringRun.objects.filter(
            model_version=version, reason="activation", state="done"
        ).first(),
        timeout=120,
        what="the activation's scoring run",
    )
    pending = AnnotationTask.objects.filter(project=project, state=AnnotationTask.State.PENDING)
    assert run.tasks_scored == pending.count() > 30
    assert TaskScore.objects.filter(model_version=version, task__in=pending).count() == (
        pending.count()
    )

    # The annotator gets the next tasks in the new order, highest priority first.
    ranked = [task.pk for task in queue_ranked(project=project, model_version=version)]
    handed_out = []
    for _ in range(3):
        task = _next(api, project)
        handed_out.append(task["id"])
        api.post(f"/api/tasks/{task['id']}/skip/", {"reason": "later"}, format="json")
    assert handed_out == ranked[:3]
    priority = dict(QueueEntry.objects.values_list("task_id", "priority"))
    priorities = [priority[pk] for pk in handed_out]
    assert priorities == sorted(priorities, reverse=True)

    status = api.get(f"/api/projects/{project.pk}/loop-status/").json()
    assert status["model_version"] == version.name
    assert (status["labels_at_training"], status["tasks_ranked"]) == (5, run.tasks_scored)
    assert status["next_retraining_at"] == 10
    page = _page_as(annotator, project)
    assert f"Model {version.name} trained on 5 labels: {run.tasks_scored} tasks re-ranked" in page

    manager = APIClient()
    manager.force_authenticate(User.objects.get(username="manager"))
    curve = manager.get(f"/api/projects/{project.pk}/learning-curve/").json()
    assert [point["labels"] for point in curve["points"]] == [5]


def _page_as(user, project) -> str:
    from django.test import Client

    client = Client()
    client.force_login(user)
    return client.get(reverse("project-detail", args=[project.pk])).text


@pytest.mark.django_db
def test_a_project_counting_submitted_labels_starts_rounds_on_submission_not_on_accept(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    from tests.activelearn.test_retraining import _submitted_task

    LearningSettings.objects.create(
        project=project, retrain_every_accepted=2, retrain_counts="submitted"
    )
    tasks = [_submitted_task(project, alice, index) for index in range(3)]
    with django_capture_on_commit_callbacks(execute=False):
        assert labels_submitted(project_id=project.pk) is not None  # 3 submitted >= 2
        AnnotationTask.objects.filter(pk=tasks[0].pk).update(state="accepted")
        assert labels_accepted(project_id=project.pk) is None  # the count did not change
    (round_,) = RetrainingRound.objects.filter(project=project)
    assert round_.accepted_count == 3
    assert round_.export_job.state_filter == "submitted"


@pytest.mark.django_db
def test_a_project_counting_accepted_labels_ignores_submissions(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    from tests.activelearn.test_retraining import _submitted_task

    LearningSettings.objects.create(project=project, retrain_every_accepted=1)
    _submitted_task(project, alice, 0)
    with django_capture_on_commit_callbacks(execute=False):
        assert labels_submitted(project_id=project.pk) is None
    assert not RetrainingRound.objects.exists()


@pytest.mark.django_db
def test_seeding_again_keeps_the_learning_settings_a_manager_saved(project):
    made = demo_learning_ensure(project_id=project.pk)
    assert (made.retrain_every_accepted, made.rescore_every_labels) == (5, 5)
    LearningSettings.objects.filter(pk=made.pk).update(retrain_every_accepted=50)
    assert demo_learning_ensure(project_id=project.pk).retrain_every_accepted == 50
    assert LearningSettings.objects.filter(project=project).count() == 1
