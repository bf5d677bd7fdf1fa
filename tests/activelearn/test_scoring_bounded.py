"""A run after new labels scores a bounded set (the previous top of the queue and a fresh
random sample of the pool), so the loop's cost per label does not grow with the pool."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from activelearn.models import ModelVersion, ScoringRun
from activelearn.scoring import runs
from activelearn.scoring.runs import bounded_candidates, scoring_run_split, scoring_run_start
from annotate.models import AnnotationTask
from tests.annotate.queue_fixtures import make_tasks

pytestmark = pytest.mark.django_db


@pytest.fixture
def version(project) -> ModelVersion:
    return ModelVersion.objects.create(
        project=project, name="pushed", kind=ModelVersion.Kind.PUSHED, is_active=True
    )


def test_the_bounded_set_is_the_top_of_the_queue_and_a_sample_of_the_rest(project):
    tasks = make_tasks(project, 300)  # the first has the highest priority
    AnnotationTask.objects.filter(pk=tasks[1].pk).update(state="submitted")
    AnnotationTask.objects.filter(pk=tasks[2].pk).update(
        audit_drawn_at="2026-01-01T00:00:00Z", audit_order=1
    )
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotate_annotationtask")
    chosen = bounded_candidates(project=project, seed=7, top=10, sample=40)
    pending_ranked = [t.pk for t in tasks if t.pk not in (tasks[1].pk, tasks[2].pk)]
    assert set(pending_ranked[:10]) <= set(chosen)
    assert tasks[1].pk not in chosen  # labeled: never scored again
    assert 10 < len(chosen) <= 50 and chosen == sorted(chosen)
    # Seeded by the run: the same run draws the same sample.
    assert bounded_candidates(project=project, seed=7, top=10, sample=40) == chosen


def test_a_pool_within_the_bound_is_scored_whole(project):
    make_tasks(project, 30)
    assert bounded_candidates(project=project, seed=1, top=20, sample=10) is None


def test_a_run_after_labels_splits_only_its_bounded_set(project, version, monkeypatch):
    monkeypatch.setattr(runs, "LABELS_RESCORE_TOP", 5)
    monkeypatch.setattr(runs, "LABELS_RESCORE_SAMPLE", 5)
    make_tasks(project, 100)
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.LABELS)
    chunks = scoring_run_split(run_id=run.pk)
    run.refresh_from_db()
    assert run.candidates is not None and 5 <= len(run.candidates) <= 10
    assert sorted(pk for chunk in chunks for pk in chunk) == run.candidates


def test_a_run_after_an_activation_still_scores_the_whole_pool(project, version, monkeypatch):
    monkeypatch.setattr(runs, "LABELS_RESCORE_TOP", 5)
    monkeypatch.setattr(runs, "LABELS_RESCORE_SAMPLE", 5)
    make_tasks(project, 100)
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.ACTIVATION)
    chunks = scoring_run_split(run_id=run.pk)
    run.refresh_from_db()
    assert run.candidates is None and sum(len(chunk) for chunk in chunks) == 100


def test_the_bounded_set_reads_no_more_rows_than_its_bound_whatever_the_pool(project):
    """Every statement is bounded by LIMIT or samples pages: none reads the whole pool."""
    make_tasks(project, 200)
    with CaptureQueriesContext(connection) as queries:
        bounded_candidates(project=project, seed=3, top=10, sample=10)
    statements = [
        q["sql"] for q in queries.captured_queries if "FROM annotate_annotationtask" in q["sql"]
    ]
    assert statements and all("LIMIT" in sql or "TABLESAMPLE" in sql for sql in statements)
