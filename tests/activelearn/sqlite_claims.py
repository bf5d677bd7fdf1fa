"""Run by test_queue_sqlite in a fresh interpreter: claims on a temporary SQLite database,
from several processes at once, and a compare-and-set that loses. Prints JSON.

    DATABASE_URL=sqlite:////tmp/x.sqlite3 python -m tests.activelearn.sqlite_claims
"""

from __future__ import annotations

import json
import multiprocessing
import os
import sys

import django

PROCESSES = 6
USERS_PER_PROCESS = 4
TASKS = 60


def claim_for(user_ids: list[int]) -> list[int]:
    from django.contrib.auth.models import User
    from django.db import connections

    from activelearn.queue import task_claim_next
    from annotate.models import Project

    connections.close_all()
    project = Project.objects.get(name="sqlite")
    claimed = []
    for user in User.objects.filter(pk__in=user_ids):
        first = task_claim_next(user=user, project=project)
        second = task_claim_next(user=user, project=project, exclude=[first.task.pk])
        claimed += [first.task.pk, second.task.pk]
    connections.close_all()
    return claimed


def main() -> None:
    os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")
    django.setup()
    from django.contrib.auth.models import User
    from django.core.management import call_command
    from django.db import connection, connections

    from activelearn.models import LearningSettings, TaskLease
    from activelearn.queue import _lease_task
    from annotate.models import AnnotationTask, Asset, Membership, Project

    assert connection.vendor == "sqlite"
    call_command("migrate", verbosity=0)
    project = Project.objects.create(name="sqlite")
    assets = Asset.objects.bulk_create(
        Asset(project=project, kind="image", file=f"a{i}.jpg", sha256=f"{i:064x}",
              content_type="image/jpeg", width=10, height=10, state="ready")
        for i in range(TASKS + 1)
    )  # fmt: skip
    AnnotationTask.objects.bulk_create(
        AnnotationTask(project=project, asset=asset, kind="image", priority=float(i))
        for i, asset in enumerate(assets)
    )
    users = [User.objects.create(username=f"u{i}") for i in range(PROCESSES * USERS_PER_PROCESS)]
    for user in users:
        Membership.objects.create(project=project, user=user, role="annotator")

    # A compare-and-set that loses: two claims start from the same stale candidate row.
    stale = AnnotationTask.objects.get(asset=assets[-1])
    learning = LearningSettings(project=project)
    winner = _lease_task(stale, from_state="pending", user=users[0], learning=learning, budget=None)
    loser = _lease_task(stale, from_state="pending", user=users[1], learning=learning, budget=None)
    TaskLease.objects.filter(pk=winner.pk).delete()
    AnnotationTask.objects.filter(pk=stale.pk).update(state="skipped", lease_user=None,
                                                      lease_expires_at=None)  # fmt: skip

    connections.close_all()
    groups = [
        [user.pk for user in users[i * USERS_PER_PROCESS : (i + 1) * USERS_PER_PROCESS]]
        for i in range(PROCESSES)
    ]
    with multiprocessing.get_context("fork").Pool(PROCESSES) as pool:
        claimed = [task_id for part in pool.map(claim_for, groups) for task_id in part]
    active = list(TaskLease.objects.filter(state="active").values_list("task_id", flat=True))
    json.dump(
        {
            "cas_winner": winner is not None,
            "cas_loser": loser is not None,
            "claimed": claimed,
            "active_leases": active,
            "in_progress": AnnotationTask.objects.filter(state="in_progress").count(),
        },
        sys.stdout,
    )


if __name__ == "__main__":
    main()
