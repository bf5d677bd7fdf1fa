"""annotate's events reach the loop through signals; a receiver that fails is logged, never
turned into the user's error, and what it missed is caught up by the periodic sweep."""

from __future__ import annotations

import logging

import pytest
from django.utils import timezone

from activelearn.models import LearningSettings, ScoringRun
from activelearn.receivers import loop_catch_up
from annotate import events
from annotate.models import AnnotationTask
from tests.annotate.queue_fixtures import make_tasks

pytestmark = pytest.mark.django_db


def test_a_failing_receiver_is_logged_and_does_not_fail_the_sender(
    project, caplog, django_capture_on_commit_callbacks
):
    def broken(sender, **kwargs):
        raise RuntimeError("the loop is away")

    events.TASKS_ADDED.connect(broken, dispatch_uid="test-broken")
    try:
        with caplog.at_level(logging.ERROR), django_capture_on_commit_callbacks(execute=True):
            events.tasks_added(project_id=project.pk)  # raises nothing
    finally:
        events.TASKS_ADDED.disconnect(dispatch_uid="test-broken")
    assert "the periodic sweep catches up" in caplog.text
    assert "the loop is away" in caplog.text


def test_labels_submitted_while_the_receiver_was_down_are_rescored_by_the_catch_up(project):
    """Submissions whose LABELS_SUBMITTED receiver failed: the sweep starts the rescoring."""
    LearningSettings.objects.create(project=project, rescore_every_labels=2)
    tasks = make_tasks(project, 2)
    AnnotationTask.objects.filter(pk__in=[t.pk for t in tasks]).update(
        state=AnnotationTask.State.SUBMITTED, submitted_at=timezone.now()
    )
    assert not ScoringRun.objects.exists()  # no event was sent

    assert loop_catch_up() == 1
    # No model yet, so the rescoring the labels call for is the cold-start order again.
    assert ScoringRun.objects.filter(project=project).count() == 1
    loop_catch_up()  # idempotent: nothing new since that run
    assert ScoringRun.objects.filter(project=project).count() == 1


def test_new_tasks_no_run_has_seen_get_their_place_from_the_catch_up(project):
    make_tasks(project, 3)
    assert loop_catch_up() == 1
    # No model yet: their place is the cold-start (coverage) order.
    assert ScoringRun.objects.filter(project=project, reason="cold_start").count() == 1
    loop_catch_up()
    assert ScoringRun.objects.filter(project=project).count() == 1
