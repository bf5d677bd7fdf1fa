"""The lease table only grows (a lease per claim, kept as history), and every web server's
connection keeps its plan of the claim statement: a plan made while the table was small
reads it whole on each claim. The periodic queue_vacuum job also analyzes the table once it
has outgrown its statistics (annotate.queue.upkeep.lease_analyze), which replaces those
plans."""

from __future__ import annotations

import pytest
from django.db import connection
from django.utils import timezone

from annotate.models import TaskLease
from annotate.queue.upkeep import lease_analyze
from annotate.tasks import queue_vacuum

from .queue_fixtures import make_annotators, make_tasks, stats_flushed

LEASE = TaskLease._meta.db_table

pytestmark = pytest.mark.django_db(transaction=True)


def _analyzes() -> tuple[int, float]:
    """(ANALYZE runs so far, rows the last one counted) of the lease table."""
    stats_flushed()
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.analyze_count, c.reltuples FROM pg_stat_user_tables s"
            " JOIN pg_class c ON c.oid = s.relid WHERE s.relid = %s::regclass",
            [LEASE],
        )
        return cursor.fetchone()


def _leases(tasks, user) -> None:
    now = timezone.now()
    TaskLease.objects.bulk_create(
        TaskLease(
            task=task,
            user=user,
            state=TaskLease.State.RELEASED,
            expires_at=now,
            claimed_at=now,
        )
        for task in tasks
    )
    _analyzes()  # the inserts counted where lease_analyze reads them


@pytest.fixture
def analyzed():
    """The lease table as an ANALYZE left it with nothing in it."""
    with connection.cursor() as cursor:
        cursor.execute(f"ANALYZE {LEASE}")
    return _analyzes()


def test_a_table_that_outgrew_its_statistics_is_analyzed(project, analyzed):
    tasks = make_tasks(project, 1_500)
    (user,) = make_annotators(project, 1)
    _leases(tasks[:1_200], user)
    runs, rows = _analyzes()
    assert rows == 0

    assert lease_analyze(min_changes=1_000) is True

    runs_after, rows = _analyzes()
    assert runs_after == runs + 1
    assert rows == 1_200
    # The statistics now count the table: the same changes do not ask again.
    assert lease_analyze(min_changes=1_000) is False


def test_a_table_that_grew_by_less_than_it_holds_is_left_alone(project, analyzed):
    tasks = make_tasks(project, 2_400)
    users = make_annotators(project, 2)
    _leases(tasks[:1_200], users[0])
    assert lease_analyze(min_changes=1_000) is True
    runs, _ = _analyzes()

    _leases(tasks[1_200:2_300], users[1])  # 1,100 more: past the floor, not past 1,200

    assert lease_analyze(min_changes=1_000) is False
    assert _analyzes()[0] == runs


def test_few_changes_are_left_to_autovacuum(project, analyzed):
    tasks = make_tasks(project, 300)
    (user,) = make_annotators(project, 1)
    _leases(tasks, user)  # 300 changes against none counted, under the floor

    assert lease_analyze(min_changes=1_000) is False


def test_the_periodic_job_analyzes_a_grown_table(project, analyzed):
    tasks = make_tasks(project, 1_100)
    (user,) = make_annotators(project, 1)
    _leases(tasks, user)
    runs, _ = _analyzes()

    queue_vacuum()

    assert _analyzes() == (runs + 1, 1_100)
