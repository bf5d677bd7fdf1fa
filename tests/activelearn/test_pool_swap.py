"""The pool pass of a large run writes the queue as a fresh generation, swapped in
(annotate.queue.priorities.priorities_replace), not in place; a run superseded while its
pool was scored swaps nothing, and a run that supersedes it during the swap writes after
it. Real transactions (the swap commits its own steps), the model run in-process."""

from __future__ import annotations

import threading

import pytest
from django.db import connections

from activelearn.models import LearningSettings, ModelVersion, ScoringRun, TaskScore
from activelearn.scoring import runs
from activelearn.scoring.runs import (
    score_chunk,
    scoring_run_finish,
    scoring_run_split,
    scoring_run_start,
)
from annotate.models import QueueEntry, QueueGeneration
from tests.activelearn.scoring_helpers import (
    colour_classifier_onnx,
    image_spec,
    image_task_create,
    version_register,
)
from tests.annotate.queue_fixtures import queue_tables

pytestmark = pytest.mark.django_db(transaction=True)

COLOURS = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (128, 128, 128), (200, 120, 60)]


@pytest.fixture(autouse=True)
def runs_in_process(monkeypatch):
    """These runs are driven here, step by step: their jobs are not sent, or a real worker of
    the session (tests/conftest.py) could take one first, its rows being committed."""
    monkeypatch.setattr(runs, "job_enqueue", lambda job: None)


@pytest.fixture
def classifier(project) -> ModelVersion:
    return version_register(project, colour_classifier_onnx(), spec=image_spec(32))


@pytest.fixture
def pool(project, classifier) -> list[int]:
    """Five pending tasks, scored in chunks of two (so the pool pass runs: the default
    strategy reads the whole pool)."""
    LearningSettings.objects.create(project=project, scoring_chunk_size=2, rescore_every_labels=2)
    return [image_task_create(project, colour, features=True).pk for colour in COLOURS]


def _chunks_done(project) -> ScoringRun:
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    for chunk in scoring_run_split(run_id=run.pk):
        score_chunk(run_id=run.pk, task_ids=chunk)
    return run


def _priorities(project) -> dict[int, float]:
    return dict(QueueEntry.objects.filter(project=project).values_list("task_id", "priority"))


@pytest.mark.parametrize("swapped", [True, False], ids=["swapped in", "in place"])
def test_the_pool_pass_orders_the_queue_by_its_scores_swapped_in_when_large(
    project, classifier, pool, settings, swapped
):
    settings.SCORING_POOL_SWAP_MIN = 3 if swapped else 6
    run = _chunks_done(project)
    tables = queue_tables()  # other tests' generations may be left: compared with these
    assert scoring_run_finish(run_id=run.pk)
    run.refresh_from_db()
    assert run.state == ScoringRun.State.DONE
    scores = dict(
        TaskScore.objects.filter(model_version=classifier).values_list("task_id", "score")
    )
    assert set(scores) == set(pool)
    # The pool pass's scores (chunks of two saw part of the pool), audit tasks parked.
    parked = set(
        QueueEntry.objects.filter(project=project, audit=True).values_list("task_id", flat=True)
    )
    stored = _priorities(project)
    assert {t: stored[t] for t in pool if t not in parked} == {
        t: scores[t] for t in pool if t not in parked
    }
    gen = QueueGeneration.objects.filter(project=project).values_list("gen", flat=True).first()
    if swapped:
        assert gen and queue_tables() == tables | {f"annotate_queue_g{gen}"}
    else:
        assert not gen and queue_tables() == tables


def test_a_run_superseded_while_its_pool_was_scored_swaps_nothing(
    project, classifier, pool, monkeypatch, settings
):
    settings.SCORING_POOL_SWAP_MIN = 3
    run = _chunks_done(project)
    before, tables = _priorities(project), queue_tables()
    real = runs.priorities_replace

    def superseded_first(**kwargs):
        # A new model's activation, say, while the pool was scored.
        scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
        return real(**kwargs)

    monkeypatch.setattr(runs, "priorities_replace", superseded_first)
    assert scoring_run_finish(run_id=run.pk) is False
    run.refresh_from_db()
    assert run.state == ScoringRun.State.SUPERSEDED
    pointer = QueueGeneration.objects.get(project=project)
    assert (pointer.gen, pointer.building) == (0, False)
    assert queue_tables() == tables  # the built generation dropped
    assert _priorities(project) == before


def test_a_run_that_supersedes_during_the_swap_waits_for_it(
    project, classifier, pool, monkeypatch, settings
):
    settings.SCORING_POOL_SWAP_MIN = 3
    run = _chunks_done(project)
    real = runs.priorities_replace
    started, newer = threading.Event(), []

    def start_newer() -> None:
        try:
            started.set()
            newer.append(scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL))
        finally:
            connections.close_all()

    thread = threading.Thread(target=start_newer)

    def pause(step: str) -> None:
        if step == "swap":  # the run's row locked, the new generation attached, not committed
            thread.start()
            assert started.wait(10)
            thread.join(1.0)
            assert thread.is_alive(), "the newer run did not wait for the swap"

    monkeypatch.setattr(runs, "priorities_replace", lambda **kw: real(**kw, pause=pause))
    # The swap went in; the run, superseded before it could close, does not close.
    assert scoring_run_finish(run_id=run.pk) is False
    thread.join(30)
    assert not thread.is_alive() and newer
    run.refresh_from_db()
    assert run.state == ScoringRun.State.SUPERSEDED
    assert QueueGeneration.objects.get(project=project).gen > 0
