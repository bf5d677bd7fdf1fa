"""Cold start: with no model the queue is ordered for coverage, not by upload order."""

from __future__ import annotations

import pytest

from activelearn.models import LearningSettings, ScoringRun, TaskScore
from activelearn.scoring.coldstart import coldstart_order
from activelearn.scoring.runs import scoring_run_start
from annotate.models import AnnotationTask, Asset
from annotate.queue.selectors import with_priority
from tests.activelearn.scoring_helpers import image_task_create

pytestmark = pytest.mark.django_db


def _queue(project) -> list[int]:
    return list(
        with_priority(AnnotationTask.objects.filter(project=project, state="pending"))
        .order_by("-priority", "pk")
        .values_list("pk", flat=True)
    )


def test_cold_start_puts_the_few_distinct_pictures_before_the_many_near_identical_ones(project):
    LearningSettings.objects.create(project=project, audit_share=0.0)  # the ranking alone
    # Uploaded first: twelve almost identical greys; last: three clearly different pictures.
    greys = [
        image_task_create(project, (100 + i, 100 + i, 100 + i), features=True) for i in range(12)
    ]
    distinct = [
        image_task_create(project, colour, features=True)
        for colour in [(230, 20, 20), (20, 200, 40), (30, 30, 220)]
    ]
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.COLD_START)
    assert run.model_version is None

    scored = coldstart_order(project=project, run_id=run.pk)

    assert scored == 15
    head = _queue(project)[:4]
    assert {task.pk for task in distinct} <= set(head)
    assert len({task.pk for task in greys} & set(head)) == 1  # one grey stands for them all
    run.refresh_from_db()
    assert (run.state, run.chunks_done, run.chunks_total, run.tasks_scored) == ("done", 1, 1, 15)
    assert TaskScore.objects.filter(model_version=None).count() == 15


def test_cold_start_makes_missing_features_from_the_picture_itself(project):
    tasks = [
        image_task_create(project, colour, features=False)
        for colour in [(128, 128, 128), (129, 128, 128), (10, 240, 10)]
    ]
    coldstart_order(project=project)
    assert all(Asset.objects.get(pk=task.asset_id).features["color_histogram"] for task in tasks)
    assert tasks[2].pk in _queue(project)[:2]


def test_cold_start_twice_writes_the_same_scores(project):
    for i in range(6):
        image_task_create(project, (40 * i, 200 - 30 * i, 90), features=True)
    coldstart_order(project=project)
    first = list(TaskScore.objects.order_by("task_id").values_list("task_id", "score"))
    coldstart_order(project=project)
    assert list(TaskScore.objects.order_by("task_id").values_list("task_id", "score")) == first
    assert TaskScore.objects.count() == 6


def test_labeled_pictures_count_as_covered(project):
    labeled = image_task_create(project, (230, 20, 20), features=True)
    AnnotationTask.objects.filter(pk=labeled.pk).update(state="accepted")
    like_labeled = image_task_create(project, (228, 22, 20), features=True, salt="b")
    unlike = image_task_create(project, (20, 20, 230), features=True)
    coldstart_order(project=project)
    assert _queue(project) == [unlike.pk, like_labeled.pk]
