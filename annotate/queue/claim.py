"""Claiming the next task: the one path from "give me work" to a lease.

Locks are always taken in the same order, so two services never wait on each other in a
circle: the task row first, then its lease rows, then the project's BudgetLedger row. A claim
takes the best free task with SELECT ... FOR UPDATE SKIP LOCKED, so concurrent annotators
never queue behind one another; the ledger row, shared by every claim of a project with a
limit, is touched last so it stays locked only from there to the commit.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotate.models import AnnotationTask, Project, TaskLease
from annotate.services.errors import ServiceError

from . import sql
from .expiry import leases_expire
from .ledger import ledger_reserve

MAX_LEASES_PER_USER = 2  # the task being labeled plus one prefetched by the page
CLAIM_ROUNDS = 5

State = AnnotationTask.State
Lease = TaskLease.State


class TooManyLeases(ServiceError):
    """The user already holds the most tasks a user may hold in one project."""

    status = 409
    code = "too_many_leases"


def task_claim_next(
    *, user: AbstractBaseUser, project: Project, exclude: Iterable[int] = ()
) -> TaskLease | None:
    """The user's next task, as their lease (lease.task is loaded), or None when the project
    has no task left for them.

    Order: a task the user already holds here (not in `exclude`, which lets the page prefetch);
    then a rejected task the user labeled; then the highest-priority pending task with a free
    slot. Raises TooManyLeases, or BudgetExhausted when what is left of the budget cannot pay
    for the task that would be leased."""
    exclude = {int(pk) for pk in exclude}
    context = sql.claim_context(project_id=project.pk, user_id=user.pk, now=timezone.now())
    if context.expired_leases:
        leases_expire()
        context = sql.claim_context(project_id=project.pk, user_id=user.pk, now=timezone.now())
    if context.held:
        held = sql.held_leases(user_id=user.pk, project_id=project.pk)
        for lease in held:
            if lease.task.pk not in exclude:
                return lease
        if len(held) >= MAX_LEASES_PER_USER:
            raise TooManyLeases(
                f"You already hold {len(held)} tasks in this project: "
                "submit or skip one before taking another."
            )
    states = [State.REJECTED, State.PENDING] if context.has_rework else [State.PENDING]
    with transaction.atomic():
        for from_state in states:
            lease = _claim_first(
                project_id=project.pk,
                from_state=from_state,
                user=user,
                exclude=exclude,
                context=context,
            )
            if lease is not None:
                return lease
    return None


def _claim_first(
    *, project_id: int, from_state: str, user, exclude, context: sql.ClaimContext
) -> TaskLease | None:
    k = context.annotators_per_task
    find = {
        "project_id": project_id,
        "state": from_state,
        "user_id": user.pk,
        "exclude": exclude,
        "exclude_mine": k > 1 and from_state == State.PENDING,
    }
    for _ in range(CLAIM_ROUNDS):
        task = sql.candidates(**find, lock="skip")
        if task is None and k > 1:
            # With k slots a task locked by another claim may still have a slot free
            # for us once that claim commits: wait for it rather than skip it.
            task = sql.candidates(**find, lock="wait")
        if task is None:
            return None
        lease = _lease_task(task, from_state=from_state, user=user, context=context)
        if lease is not None:
            return lease
    return None


def _lease_task(
    task: AnnotationTask, *, from_state: str, user, context: sql.ClaimContext
) -> TaskLease | None:
    """Give the user a slot of `task`, or None when someone else was faster or the task has
    no free slot. The caller holds the task's row lock."""
    k = context.annotators_per_task
    budget = context.budget
    now = timezone.now()
    expires_at = now + dt.timedelta(minutes=context.lease_minutes)
    previous = None
    if from_state == State.REJECTED:
        previous = TaskLease.objects.filter(task=task, user=user).first()
    if previous is not None and previous.state in (Lease.SUBMITTED, Lease.ACTIVE):
        slot, fills_task = previous.slot, True  # rework keeps the slot it already had
    elif k == 1:
        slot, fills_task = 0, True
    else:
        taken = set(
            TaskLease.objects.filter(
                task=task, state__in=[Lease.ACTIVE, Lease.SUBMITTED]
            ).values_list("slot", flat=True)
        )
        free = [s for s in range(k) if s not in taken]
        if not free:
            sql.task_move(
                task_id=task.pk,
                from_state=State.PENDING,
                changes={"state": State.IN_PROGRESS, "updated_at": now},
            )
            return None
        slot, fills_task = free[0], len(free) == 1

    # Compare-and-set: the task moves only if it is still where we found it.
    changes: dict = {"updated_at": now}
    if fills_task:
        changes["state"] = State.IN_PROGRESS
    if k == 1:
        # The one holder, copied onto the task for the task list and the admin; who may
        # label it is read from the lease rows (annotate.permissions).
        changes.update(lease_user_id=user.pk, lease_expires_at=expires_at)
    if not sql.task_move(task_id=task.pk, from_state=from_state, changes=changes):
        return None

    already_paid = previous is not None and previous.submitted_at is not None
    charged = Decimal(0)
    if not already_paid and budget is not None:
        charged = budget.task_cost(task)

    if already_paid:
        previous.slot, previous.state, previous.expires_at = slot, Lease.ACTIVE, expires_at
        previous.save(update_fields=["slot", "state", "expires_at"])
        lease = previous
    else:
        lease = TaskLease(
            task=task,
            user=user,
            slot=slot,
            state=Lease.ACTIVE,
            expires_at=expires_at,
            charged=charged,
            claimed_at=now,
        )
        lease.pk = sql.lease_upsert(
            task_id=task.pk,
            user_id=user.pk,
            slot=slot,
            expires_at=expires_at,
            charged=charged,
            now=now,
        )
        # Last, so the ledger row (shared by every claim of the project) is locked only
        # from here to the commit.
        ledger_reserve(task.project_id, charged, budget, ledger_exists=context.ledger_exists)
    for field, value in changes.items():
        setattr(task, field, value)
    lease.task = task
    return lease
