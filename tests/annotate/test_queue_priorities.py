"""Bulk priority writes: a statement per chunk, never a query per row; they go to the queue's
own table, never to the task rows."""

from __future__ import annotations

import math

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotate.models import QueueEntry
from annotate.queue.claim import task_claim_next
from annotate.queue.priorities import priorities_set, priorities_write_bulk

from .queue_fixtures import make_tasks


def test_a_thousand_priorities_take_one_statement_per_chunk(project, django_assert_max_num_queries):
    tasks = make_tasks(project, 1000, priorities=[0.0] * 1000)
    # Per chunk its transaction (a savepoint here, inside the test's), the shared lock that
    # keeps out a full re-rank, the generation's number and the UPDATE; then one read of the
    # log of changes claims could not write meanwhile (run at the commit).
    with django_assert_max_num_queries(5 * 3 + 1):
        changed = priorities_write_bulk(
            project=project,
            priorities=[(task.pk, i / 1000) for i, task in enumerate(tasks)],
            chunk_size=400,
        )
    assert changed == 999  # the first task's priority was already 0.0
    stored = dict(QueueEntry.objects.values_list("task_id", "priority"))
    assert all(stored[task.pk] == i / 1000 for i, task in enumerate(tasks))


def test_the_default_chunk_writes_a_thousand_rows_in_one_statement(
    project, django_assert_max_num_queries
):
    tasks = make_tasks(project, 1000)
    with django_assert_max_num_queries(6):  # savepoint, lock, generation, UPDATE, release, log
        priorities_write_bulk(project=project, priorities=[(t.pk, 5.0) for t in tasks])


def test_unchanged_priorities_are_not_rewritten(project):
    tasks = make_tasks(project, 10)
    current = [(task.pk, task.priority) for task in tasks]
    assert priorities_write_bulk(project=project, priorities=current) == 0


def test_tasks_of_another_project_are_left_alone(project, other_project):
    (mine,) = make_tasks(project, 1, priorities=[1.0])
    (theirs,) = make_tasks(other_project, 1, priorities=[1.0])
    changed = priorities_write_bulk(project=project, priorities=[(mine.pk, 7), (theirs.pk, 7)])
    assert changed == 1
    assert QueueEntry.objects.get(task_id=theirs.pk).priority == 1.0


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_priorities_are_refused(project, bad):
    (task,) = make_tasks(project, 1, priorities=[1.0])
    with pytest.raises(ValueError, match="finite"):
        priorities_write_bulk(project=project, priorities=[(task.pk, bad)])
    assert QueueEntry.objects.get(task_id=task.pk).priority == 1.0


def test_the_queue_follows_new_priorities(project, alice):
    first, second = make_tasks(project, 2, priorities=[2.0, 1.0])
    priorities_write_bulk(project=project, priorities=[(first.pk, 0.5), (second.pk, 3.0)])
    assert task_claim_next(user=alice, project=project).task.pk == second.pk


def test_each_chunk_is_one_update_in_the_query_log(project):
    """The UPDATE binds its arrays on the server (binary) but goes through Django's cursor
    wrapper like every other statement: logged, and one per chunk."""
    tasks = make_tasks(project, 900, priorities=[0.0] * 900)
    with CaptureQueriesContext(connection) as queries:
        changed = priorities_write_bulk(
            project=project,
            priorities=[(t.pk, 1.0 + i) for i, t in enumerate(tasks)],
            chunk_size=400,
        )
    assert changed == 900
    updates = [q["sql"] for q in queries if q["sql"].startswith("UPDATE annotate_queue_g")]
    assert len(updates) == 3
    stored = dict(QueueEntry.objects.values_list("task_id", "priority"))
    assert [stored[t.pk] for t in tasks] == [1.0 + i for i in range(900)]


def test_a_float_task_id_is_refused_not_rounded(project):
    (task,) = make_tasks(project, 1, priorities=[1.0])
    with connection.cursor() as cursor, pytest.raises(TypeError):
        priorities_set(cursor, project_id=project.pk, ids=[task.pk + 0.4], values=[2.0])
    assert QueueEntry.objects.get(task_id=task.pk).priority == 1.0
