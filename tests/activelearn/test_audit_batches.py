"""Every scoring run is a batch that draws its random audit share as it closes; the ranked
queue says which tasks are audit ones; the built-in baseline never trains on them."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from activelearn.models import (
    LearningSettings,
    ModelVersion,
    RetrainingRound,
    ScoringRun,
    TaskScore,
)
from activelearn.retraining.rounds import retraining_round_run
from activelearn.scoring.coldstart import coldstart_order
from activelearn.scoring.runs import (
    score_chunk,
    scoring_run_finish,
    scoring_run_split,
    scoring_run_start,
)
from annotate.models import AnnotationTask, QueueEntry
from annotate.queue.priorities import priorities_write_bulk
from tests.activelearn.scoring_helpers import (
    colour_classifier_onnx,
    image_spec,
    image_task_create,
    version_register,
)
from tests.activelearn.test_retraining import _in_slice, _labeled_project

pytestmark = pytest.mark.django_db


def _audit(project) -> list[AnnotationTask]:
    return list(AnnotationTask.objects.filter(project=project, audit_drawn_at__isnull=False))


def _run_all(run: ScoringRun) -> ScoringRun:
    for chunk in scoring_run_split(run_id=run.pk):
        score_chunk(run_id=run.pk, task_ids=chunk)
    scoring_run_finish(run_id=run.pk)
    run.refresh_from_db()
    return run


def test_a_finished_scoring_run_draws_the_audit_share_of_its_batch(project, media_root):
    version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    LearningSettings.objects.create(project=project, audit_share=0.25, scoring_chunk_size=3)
    for index in range(8):
        image_task_create(project, (index * 30, 100, 250 - index * 30))
    first = _run_all(scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL))
    assert first.state == "done"
    drawn = _audit(project)
    assert len(drawn) == 2 and len({task.audit_drawn_at for task in drawn}) == 1
    assert sorted(task.audit_order for task in drawn) == [1, 2]

    second = _run_all(scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL))
    assert second.state == "done"
    again = _audit(project)
    assert len(again) == 2
    assert {task.audit_drawn_at for task in again} != {task.audit_drawn_at for task in drawn}
    # The first batch's audit tasks went back to the ranked queue at their new scores.
    for task in drawn:
        if task.pk not in {t.pk for t in again}:
            back = QueueEntry.objects.get(task_id=task.pk)
            score = TaskScore.objects.get(task=task, model_version__isnull=False).score
            assert back.priority == pytest.approx(score)


def test_a_superseded_run_draws_nothing(project, media_root):
    version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    LearningSettings.objects.create(project=project, audit_share=0.5)
    for index in range(4):
        image_task_create(project, (index * 60, 100, 30))
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    (chunk,) = scoring_run_split(run_id=run.pk)
    score_chunk(run_id=run.pk, task_ids=chunk)
    scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)  # takes over
    assert scoring_run_finish(run_id=run.pk) is False
    assert not _audit(project)


def test_a_cold_start_run_draws_its_audit_share_too(project, media_root):
    LearningSettings.objects.create(project=project, audit_share=0.2)
    for index in range(10):
        image_task_create(project, (index * 25, 30, 90), features=True)
    run = ScoringRun.objects.create(project=project, reason=ScoringRun.Reason.COLD_START)
    assert coldstart_order(project=project, run_id=run.pk) == 10
    assert len(_audit(project)) == 2


def test_the_ranked_queue_says_which_tasks_are_audit_ones(project, pat):
    first = image_task_create(project, (200, 10, 10))
    second = image_task_create(project, (10, 200, 10))
    priorities_write_bulk(project=project, priorities=[(first.pk, 2.0), (second.pk, 1.0)])
    AnnotationTask.objects.filter(pk=second.pk).update(
        audit_drawn_at="2026-01-01T00:00:00Z", audit_order=1
    )
    client = APIClient()
    client.force_authenticate(pat)
    rows = client.get(f"/api/projects/{project.pk}/queue/").json()["results"]
    assert [(row["id"], row["audit"]) for row in rows] == [(first.pk, False), (second.pk, True)]


def test_the_baseline_never_trains_on_audit_tasks(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    tasks = _labeled_project(project, alice, count=20)
    AnnotationTask.objects.filter(pk__in=[t.pk for t in tasks]).update(state="accepted")
    outside = [task for task in tasks if not _in_slice(task)]
    audit = outside[:4]
    for order, task in enumerate(audit, start=1):
        AnnotationTask.objects.filter(pk=task.pk).update(
            audit_drawn_at="2026-01-01T00:00:00Z", audit_order=order
        )
    round_ = RetrainingRound.objects.create(project=project, accepted_count=len(tasks))
    with django_capture_on_commit_callbacks(execute=False):
        assert retraining_round_run(round_id=round_.pk) == "done"
    metrics = ModelVersion.objects.get(project=project).metrics
    assert metrics["training_tasks"] == len(outside) - len(audit)
    assert metrics["audit_tasks_left_out"] == len(audit)
