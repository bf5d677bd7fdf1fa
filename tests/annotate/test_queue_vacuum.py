"""Claimed tasks leave dead entries at the head of the queue's index, which every later claim
steps over until a VACUUM: the periodic queue_vacuum (annotate.queue.upkeep) vacuums a
generation once enough of its rows are dead."""

from __future__ import annotations

import pytest
from django.db import connection

from annotate.models import AnnotationTask
from annotate.queue.upkeep import queue_vacuum

from .queue_fixtures import make_tasks, stats_flushed

pytestmark = pytest.mark.django_db(transaction=True)


def _stats(table: str) -> tuple[int, int]:
    """(dead rows, vacuums so far) of a queue generation, by PostgreSQL's statistics."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_clear_snapshot()")
        cursor.execute(
            "SELECT n_dead_tup, vacuum_count FROM pg_stat_user_tables WHERE relname = %s",
            [table],
        )
        return cursor.fetchone()


def _claimed(project, count: int) -> None:
    """`count` of the project's best tasks taken: their queue rows leave the queued index."""
    ids = list(
        AnnotationTask.objects.filter(project=project)
        .order_by("id")
        .values_list("id", flat=True)[:count]
    )
    for pk in ids:  # one row trigger each, as claims do
        AnnotationTask.objects.filter(pk=pk).update(state=AnnotationTask.State.IN_PROGRESS)


def test_a_generation_with_enough_dead_rows_is_vacuumed(project):
    make_tasks(project, 40)
    _claimed(project, 30)
    stats_flushed()
    dead, vacuums = _stats("annotate_queue_g0")
    assert dead >= 30

    assert queue_vacuum(min_dead=30) == ["annotate_queue_g0"]

    dead_after, vacuums_after = _stats("annotate_queue_g0")
    assert vacuums_after == vacuums + 1
    assert dead_after < 30


def test_a_generation_with_few_dead_rows_is_left_alone(project):
    make_tasks(project, 10)
    _claimed(project, 3)
    stats_flushed()
    _, vacuums = _stats("annotate_queue_g0")

    assert queue_vacuum(min_dead=1_000_000) == []
    assert _stats("annotate_queue_g0")[1] == vacuums


def test_claims_still_take_the_best_task_after_a_vacuum(project):
    from annotate.queue.claim import task_claim_next

    from .queue_fixtures import make_annotators

    tasks = make_tasks(project, 20)  # the first has the highest priority
    _claimed(project, 10)
    stats_flushed()
    queue_vacuum(min_dead=1)
    (user,) = make_annotators(project, 1)

    lease = task_claim_next(user=user, project=project)

    assert lease.task.pk == tasks[10].pk
