"""Scoring runs started at the same moment from two connections (an upload's "new tasks" and a
push's activation, say) neither deadlock nor leave two live runs; and an activation never
blocks a scoring worker writing scores that refer to a version. CI once saw a push answer
503 on "deadlock detected ... while updating tuple in relation activelearn_scoringrun"."""

from __future__ import annotations

import threading

import pytest
from django.db import connection, connections, transaction

from activelearn.models import ScoringRun, TaskScore
from activelearn.scoring.runs import scoring_run_start
from activelearn.versions.services import _lock_versions
from tests.activelearn.scoring_helpers import (
    colour_classifier_onnx,
    image_spec,
    image_task_create,
    version_register,
)

pytestmark = pytest.mark.django_db(transaction=True)


def _in_thread(function) -> tuple[threading.Thread, dict]:
    outcome: dict = {}

    def run() -> None:
        try:
            outcome["value"] = function()
        except Exception as error:  # surfaced by the test's assertions
            outcome["error"] = error
        finally:
            connections.close_all()

    thread = threading.Thread(target=run)
    thread.start()
    return thread, outcome


def test_two_starts_at_once_leave_one_live_run(project, no_job_messages):
    # no_job_messages: a worker another test left running would take the queued run.
    version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    image_task_create(project, (200, 10, 10))
    first_started, release = threading.Event(), threading.Event()

    def first() -> int:
        with transaction.atomic():
            run = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
            first_started.set()
            release.wait(10)  # the second start comes while this one is not committed
        return run.pk

    thread_one, one = _in_thread(first)
    assert first_started.wait(10)
    thread_two, two = _in_thread(
        lambda: scoring_run_start(project=project, reason=ScoringRun.Reason.ACTIVATION).pk
    )
    thread_two.join(1.0)
    # The second start waits for the first to end instead of reading a pool of runs that
    # does not hold the first's new run yet.
    assert thread_two.is_alive()
    release.set()
    thread_one.join(10)
    thread_two.join(10)
    assert "error" not in one and "error" not in two, (one, two)

    states = dict(ScoringRun.objects.filter(project=project).values_list("pk", "state"))
    assert states == {one["value"]: "superseded", two["value"]: "queued"}


def test_an_activation_does_not_block_a_worker_writing_scores_of_a_version(project):
    version = version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    task = image_task_create(project, (200, 10, 10))
    locked, release = threading.Event(), threading.Event()

    def activation_holding_its_lock() -> None:
        with transaction.atomic():
            _lock_versions(project.pk)
            locked.set()
            release.wait(10)

    holder, held = _in_thread(activation_holding_its_lock)
    assert locked.wait(10)
    try:
        with transaction.atomic():
            with connection.cursor() as cursor:
                cursor.execute("SET LOCAL lock_timeout = '2s'")
            # The foreign key check of this insert takes a key share lock on the version.
            TaskScore.objects.create(task=task, model_version=version, score=0.5)
    finally:
        release.set()
        holder.join(10)
    assert "error" not in held, held
    assert TaskScore.objects.filter(task=task, model_version=version).count() == 1
