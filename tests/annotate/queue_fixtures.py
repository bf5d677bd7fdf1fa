"""Builders for the queue tests: image tasks with known priorities, and extra annotators."""

from __future__ import annotations

import itertools
import threading
import uuid
from collections.abc import Callable

from django.contrib.auth.models import User
from django.db import connection, connections
from rest_framework.test import APIClient

from annotate.models import AnnotationTask, Asset, Membership, Project
from annotate.queue.priorities import priorities_write_bulk

_numbers = itertools.count(1)


def make_tasks(project: Project, count: int, *, priorities: list[float] | None = None):
    """`count` pending image tasks; by default the first has the highest priority."""
    if priorities is None:
        priorities = [float(count - i) for i in range(count)]
    assets = Asset.objects.bulk_create(
        [
            Asset(
                project=project,
                kind="image",
                file=f"projects/{project.pk}/assets/q{next(_numbers)}.jpg",
                sha256=uuid.uuid4().hex * 2,
                content_type="image/jpeg",
                width=640,
                height=480,
                state="ready",
            )
            for _ in range(count)
        ]
    )
    tasks = AnnotationTask.objects.bulk_create(
        [AnnotationTask(project=project, asset=asset, kind="image") for asset in assets]
    )
    return with_priorities(tasks, priorities)


def with_priorities(tasks: list[AnnotationTask], priorities) -> list[AnnotationTask]:
    """Give the tasks these priorities in the queue (and as `priority` on the instances)."""
    priorities = [float(p) for p in priorities]
    if tasks and any(priorities):  # new tasks start at 0.0
        priorities_write_bulk(
            project=tasks[0].project_id,
            priorities=[(t.pk, p) for t, p in zip(tasks, priorities, strict=True)],
        )
    for task, priority in zip(tasks, priorities, strict=True):
        task.priority = priority
    return tasks


def make_annotators(project: Project, count: int, prefix: str = "annotator"):
    users = []
    for _ in range(count):
        # No password (hashing one takes half a second) and no group (transactional tests
        # flush the groups a data migration made): membership is what the queue checks.
        user = User.objects.create(username=f"{prefix}{next(_numbers)}")
        Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
        users.append(user)
    return users


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def run_in_threads(functions: list[Callable[[], object]]) -> list[object]:
    """Run each function in its own thread (so its own database connection), all released
    at once by a barrier; returns results or raised exceptions, in order."""
    barrier = threading.Barrier(len(functions))
    results: list[object] = [None] * len(functions)

    def run(i: int, function: Callable[[], object]) -> None:
        try:
            barrier.wait()
            results[i] = function()
        except BaseException as err:  # noqa: BLE001 - handed back to the test
            results[i] = err
        finally:
            connections.close_all()

    threads = [threading.Thread(target=run, args=(i, f)) for i, f in enumerate(functions)]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(timeout=120)
    return results


def stats_flushed() -> None:
    """This connection's table counts (rows changed, dead rows) sent to where every backend
    reads them, and this connection's snapshot of them dropped: PostgreSQL 15+ sends them
    at the end of a transaction at most once a second otherwise."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_stat_force_next_flush()")
        cursor.execute("SELECT pg_stat_clear_snapshot()")


def queue_tables() -> set[str]:
    """The queue generations' tables, attached or not (other tests' may be left over)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT relname FROM pg_class WHERE relname ~ '^annotate_queue_g[0-9]+$'")
        return {row[0] for row in cursor.fetchall()}
