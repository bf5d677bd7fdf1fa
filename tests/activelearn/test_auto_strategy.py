"""The adaptive strategy in the product: a new project scores with `auto` (in a real worker),
its picks and credits are stored per project from real label events, existing projects keep
their strategy, and `auto` is not blended."""

from __future__ import annotations

import importlib
import time

import pytest
from django.apps import apps
from rest_framework.test import APIClient

from activelearn.learning_settings import LearningSettingsInvalid, learning_settings_update
from activelearn.models import (
    AutoStrategyPick,
    AutoStrategyState,
    LearningSettings,
    ModelVersion,
    Prediction,
    ScoringRun,
    TaskScore,
)
from activelearn.scoring.auto import auto_credits_of, auto_picks_record
from activelearn.scoring.runs import (
    score_chunk,
    scoring_run_finish,
    scoring_run_split,
    scoring_run_start,
)
from activelearn.strategies import DEFAULT_STRATEGY, auto
from annotate.models import AnnotationTask
from annotate.queue.selectors import with_priority
from tests.activelearn.scoring_helpers import (
    colour_classifier_onnx,
    image_spec,
    image_task_create,
    version_register,
)
from tests.conftest import make_project

COLOURS = [(240, 10, 10), (10, 240, 10), (128, 128, 128), (10, 10, 240), (200, 200, 30)]


def _run_all(run: ScoringRun) -> ScoringRun:
    for chunk in scoring_run_split(run_id=run.pk):
        score_chunk(run_id=run.pk, task_ids=chunk)
    scoring_run_finish(run_id=run.pk)
    run.refresh_from_db()
    return run


@pytest.mark.django_db
def test_a_new_project_uses_auto_and_existing_ones_keep_their_strategy(project):
    assert DEFAULT_STRATEGY == "auto"
    assert LearningSettings.for_project(project).strategy == "auto"
    assert LearningSettings.objects.create(project=make_project("Fresh")).strategy == "auto"
    # The migration that made auto the default gave every project without settings a row
    # saying "default", which still means the picks by outputs (diverse margin on classes).
    migration = importlib.import_module("activelearn.migrations.0011_auto_strategy")
    migration._keep_existing_projects_on_default(apps, None)
    assert LearningSettings.objects.get(project=project).strategy == "default"
    assert LearningSettings.objects.filter(strategy="auto").count() == 1


@pytest.mark.django_db
def test_auto_cannot_be_part_of_a_blend(project):
    with pytest.raises(LearningSettingsInvalid) as refused:
        learning_settings_update(
            project=project, changes={"strategy": "blend", "blend": {"auto": 1.0, "margin": 1.0}}
        )
    assert "mixes the other strategies itself" in str(refused.value.errors["blend"])


def _push(project, name: str, probs: list[float], *, before: ModelVersion | None = None):
    """A pushed classifier that predicts `probs` for every pending task, activated and
    scored with auto (the rescoring a push starts)."""
    if before is not None:
        ModelVersion.objects.filter(pk=before.pk).update(is_active=False)
    version = version_register(
        project, None, name=name, kind=ModelVersion.Kind.PUSHED, task_type="classification"
    )
    pending = AnnotationTask.objects.filter(project=project, state=AnnotationTask.State.PENDING)
    Prediction.objects.bulk_create(
        [Prediction(task=task, model_version=version, data={"probs": probs}) for task in pending]
    )
    assert (
        _run_all(scoring_run_start(project=project, reason=ScoringRun.Reason.PUSH)).state == "done"
    )
    return version


def _label_next(api: APIClient, project, capture) -> int:
    """Alice takes the head of the queue and boxes a person in it: the real claim and
    submit, whose LABELS_SUBMITTED event runs after the commit."""
    claimed = api.post(f"/api/projects/{project.pk}/tasks/next/", {}, format="json")
    assert claimed.status_code == 200, claimed.content
    task_id = claimed.json()["task"]["id"]
    box = {"frame": None, "label": "person", "x": 5, "y": 5, "w": 30, "h": 20}
    with capture(execute=True):
        submitted = api.post(
            f"/api/tasks/{task_id}/submit/",
            {"base_version": None, "payload": {"boxes": [box]}},
            format="json",
        )
    assert submitted.status_code == 200, submitted.content
    return task_id


@pytest.mark.django_db
def test_label_events_record_the_picks_and_update_what_auto_learned(
    project, alice, django_capture_on_commit_callbacks
):
    LearningSettings.objects.create(project=project, rescore_every_labels=2)
    for index in range(12):
        image_task_create(project, COLOURS[index % len(COLOURS)], features=True, salt=str(index))
    api = APIClient()
    api.force_authenticate(alice)

    # v1 says bicycle everywhere, v2 and v3 say person: alice's labels are persons.
    v1 = _push(project, "v1", [0.4, 0.6])
    first = [_label_next(api, project, django_capture_on_commit_callbacks) for _ in range(2)]
    v2 = _push(project, "v2", [0.8, 0.2], before=v1)
    second = [_label_next(api, project, django_capture_on_commit_callbacks) for _ in range(2)]
    v3 = _push(project, "v3", [0.7, 0.3], before=v2)
    third = [_label_next(api, project, django_capture_on_commit_callbacks) for _ in range(2)]

    picks = {pick.task_id: pick for pick in AutoStrategyPick.objects.filter(project=project)}
    assert set(picks) == set(first + second + third)
    for task_id in first:  # nothing before v1 predicted them: no reward, only the pick
        assert (picks[task_id].model_version, picks[task_id].correct) == (v1, 0.0)
        assert picks[task_id].previous_correct is None
    for task_id in second:  # v2 right where v1 was wrong: a gain of 1
        pick = picks[task_id]
        assert (pick.model_version, pick.correct, pick.previous_version) == (v2, 1.0, v1)
        assert pick.previous_correct == 0.0
    for task_id in third:  # v3 as right as v2: no gain
        pick = picks[task_id]
        assert (pick.model_version, pick.previous_version) == (v3, v2)
        assert (pick.correct, pick.previous_correct) == (1.0, 1.0)
    for pick in picks.values():  # the record the scoring pass wrote when the task was picked
        record = TaskScore.objects.get(task_id=pick.task_id, model_version=pick.model_version)
        assert record.breakdown["auto_pick"]["q"] == pytest.approx(pick.q)
        assert (pick.batch, pick.pool) == (2, record.breakdown["auto_pick"]["pool"])

    state = AutoStrategyState.objects.get(project=project)
    assert (state.picks_counted, state.rewarded_picks) == (6, 4)
    expected = auto.credits_from_picks(
        [
            auto.Pick(
                p.model_version_id,
                p.q,
                tuple(p.advised),
                p.pool,
                p.batch,
                p.correct,
                p.previous_version_id,
                p.previous_correct,
            )
            for p in picks.values()
        ]
    )
    assert state.credits == pytest.approx(expected, abs=1e-8)  # stored to 9 decimals
    assert any(abs(value) > 0 for value in state.credits.values())
    # The next scoring pass mixes by these credits; recording again changes nothing.
    assert auto_credits_of(project) == state.credits
    assert auto_picks_record(project_id=project.pk) == 0
    assert AutoStrategyState.objects.get(project=project).credits == state.credits


def _wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        if predicate():
            return
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_a_new_project_is_scored_with_auto_by_a_real_worker(project, celery_worker):
    assert not LearningSettings.objects.filter(project=project).exists()  # never configured
    version = version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    tasks = [
        image_task_create(project, colour, fmt="JPEG", salt=str(index))
        for index, colour in enumerate(COLOURS * 2)
    ]
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.ACTIVATION)

    _wait_for(lambda: ScoringRun.objects.get(pk=run.pk).state == "done", timeout=60, what="run")

    rows = list(TaskScore.objects.filter(model_version=version))
    assert len(rows) == len(tasks)
    for row in rows:
        assert {"diverse_margin", "margin", "k_center", "auto_pick"} <= set(row.breakdown)
        assert row.breakdown["auto_pick"]["pool"] == len(tasks)
        assert row.breakdown["auto"] == pytest.approx(row.score)
    assert sum(row.breakdown["auto_pick"]["q"] for row in rows) == pytest.approx(1.0)
    # The default audit share draws a tenth of the pool, parked below every ranked task.
    tasks_of = with_priority(AnnotationTask.objects.filter(project=project))
    audit = list(tasks_of.filter(audit_drawn_at__isnull=False).values_list("priority", flat=True))
    ranked = sorted(tasks_of.filter(audit_drawn_at__isnull=True).values_list("priority", flat=True))
    assert len(audit) == 1 and max(audit) < min(ranked)
    expected = [(i + 1) / len(tasks) for i in range(len(tasks))]
    assert len(set(ranked)) == len(ranked) == len(tasks) - 1
    assert all(any(p == pytest.approx(e) for e in expected) for p in ranked)
