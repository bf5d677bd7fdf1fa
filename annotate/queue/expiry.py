"""Lease expiry: tasks whose holder went quiet go back to the queue.

Called by a claim that finds an expired lease (a partial index holds only active leases, so
the check is cheap), so no cron is needed. One claim sweeps at a time: after a mass expiry
(a team's leases all run out overnight) the others take their task without waiting for the
sweep, and the expired tasks come back a batch per sweeping claim.
"""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from decimal import Decimal
from functools import reduce
from operator import or_

from django.db import connection, transaction
from django.db.models import Q
from django.utils import timezone

from annotate.models import AnnotationTask, TaskLease

from .ledger import ledger_refund

SWEEP_BATCH = 500
# pg_try_advisory_xact_lock(SWEEP_LOCK_CLASS, 0): held by the claim that sweeps.
SWEEP_LOCK_CLASS = 0x6C656173  # "leas"

State = AnnotationTask.State
Lease = TaskLease.State


def leases_expire(*, project_id: int | None = None, now: dt.datetime | None = None) -> int:
    """Return the tasks of expired leases to the queue (a rejected task being reworked goes
    back to its annotator), the SWEEP_BATCH that expired first. Returns leases ended: 0 also
    when another sweep is running (it holds the sweep's lock)."""
    now = now or timezone.now()
    due = TaskLease.objects.filter(state=Lease.ACTIVE, expires_at__lt=now)
    if project_id is not None:
        due = due.filter(task__project_id=project_id)
    with transaction.atomic():
        with connection.cursor() as cursor:
            cursor.execute("SELECT pg_try_advisory_xact_lock(%s, 0)", [SWEEP_LOCK_CLASS])
            if not cursor.fetchone()[0]:
                return 0
        task_ids = list(due.order_by("expires_at").values_list("task_id", flat=True)[:SWEEP_BATCH])
        if not task_ids:
            return 0
        tasks = AnnotationTask.objects.filter(pk__in=task_ids).only("id", "project_id")
        tasks = tasks.select_for_update(skip_locked=True)  # a busy task waits for later
        project_of = {task.pk: task.project_id for task in tasks}
        leases = list(
            TaskLease.objects.filter(
                task_id__in=list(project_of), state=Lease.ACTIVE, expires_at__lt=now
            ).select_for_update()
        )
        if not leases:
            return 0
        fresh = [lease for lease in leases if lease.submitted_at is None]
        rework = [lease for lease in leases if lease.submitted_at is not None]
        TaskLease.objects.filter(pk__in=[lease.pk for lease in fresh]).update(
            state=Lease.EXPIRED, charged=0
        )
        TaskLease.objects.filter(pk__in=[lease.pk for lease in rework]).update(
            state=Lease.SUBMITTED
        )
        rework_tasks = {lease.task_id for lease in rework}
        fresh_tasks = {lease.task_id for lease in fresh} - rework_tasks
        AnnotationTask.objects.filter(
            pk__in=fresh_tasks, state__in=[State.IN_PROGRESS, State.PENDING]
        ).update(state=State.PENDING, updated_at=now)
        AnnotationTask.objects.filter(pk__in=rework_tasks, state=State.IN_PROGRESS).update(
            state=State.REJECTED, updated_at=now
        )
        holders = reduce(
            or_, (Q(pk=lease.task_id, lease_user_id=lease.user_id) for lease in leases)
        )
        AnnotationTask.objects.filter(holders).update(lease_user=None, lease_expires_at=None)
        refunds: dict[int, tuple[int, Decimal]] = defaultdict(lambda: (0, Decimal(0)))
        for lease in fresh:
            units, money = refunds[project_of[lease.task_id]]
            refunds[project_of[lease.task_id]] = (units + 1, money + lease.charged)
        ledger_refund(refunds)
    return len(leases)
