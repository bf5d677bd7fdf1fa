"""Claiming the next task: the one path from "give me work" to a lease.

Locks are always taken in the same order, so two services never wait on each other in a
circle: the task row first, then its lease rows, then the project's BudgetLedger row. A claim
takes the best free task with SELECT ... FOR UPDATE SKIP LOCKED, so concurrent annotators
never queue behind one another; the ledger row, shared by every claim of a project with a
limit, is touched last so it stays locked only from there to the commit.
"""

from __future__ import annotations

import random
from collections.abc import Iterable
from functools import partial

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.utils import timezone

from annotate.models import AnnotationTask, Project, TaskLease
from annotate.services.errors import ServiceError

from . import sql
from .expiry import leases_expire
from .gold import gold_copy_for
from .ledger import ledger_reserve

MAX_LEASES_PER_USER = 2  # the task being labeled plus one prefetched by the page
CLAIM_ROUNDS = 5

State = AnnotationTask.State
Lease = TaskLease.State


def audit_draw() -> float:
    """This claim's uniform number in [0, 1): under the project's audit share, the claim
    takes an audit task first (annotate.queue.audit). Its own function so that tests can
    decide it."""
    return random.random()


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
    slot; with the project's audit share of claims (one draw per call), an audit task in the
    audit's random order instead (annotate.queue.audit); and with the project's gold share of
    the user's claims, a copy of a gold task (annotate.queue.gold). Raises TooManyLeases, or
    BudgetExhausted when what is left of the budget cannot pay for the task that would be
    leased."""
    exclude = {int(pk) for pk in exclude}
    claim = partial(
        sql.claim,
        project_id=project.pk,
        user_id=user.pk,
        exclude=exclude,
        audit_draw=audit_draw(),
    )
    # The statement reads what it must know and, when nothing stands in the way (the common
    # case: see ClaimContext.plain) and the project serves no gold, takes the task too: one
    # round trip, its own transaction.
    first = claim(state=State.PENDING, now=timezone.now(), plain_only=True, gold_checked=False)
    if first.context.expired_leases:
        # One batch swept (or none, while another claim sweeps); the leases left expired
        # are no reason to wait: from here on the claim goes ahead as if none were.
        leases_expire()
        claim = partial(claim, expiry_checked=True)
        first = claim(state=State.PENDING, now=timezone.now(), plain_only=True, gold_checked=False)
    if first.context.gold_share:
        # Gold first, when due for the user; else the same statement, gold now checked.
        gold = _claim_gold(
            user=user, project=project, share=first.context.gold_share, exclude=exclude
        )
        if gold is not None:
            return gold
        first = claim(state=State.PENDING, now=timezone.now(), plain_only=True)
    context = first.context
    if context.plain:
        if first.lease is not None:
            first.lease.user = user
        return first.lease
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
    # The same statement again, within a transaction: the ledger takes the charge after it
    # (BudgetExhausted undoes the lease), and with k > 1 the task is locked first.
    with transaction.atomic():
        for from_state in states:
            lease = _claim_first(claim, from_state=from_state, user=user, context=context)
            if lease is not None:
                return lease
    return None


def _claim_first(claim, *, from_state: str, user, context: sql.ClaimContext) -> TaskLease | None:
    """The user's lease of the best task in `from_state` with a free slot, or None."""
    k = context.annotators_per_task
    for _ in range(CLAIM_ROUNDS):
        taken = _take_one(claim, state=from_state, context=context, lock="skip")
        if taken is None and k > 1:
            # With k slots a task locked by another claim may still have a slot free
            # for us once that claim commits: wait for it rather than skip it.
            taken = _take_one(claim, state=from_state, context=context, lock="wait")
        if taken is None:
            return None
        if taken.lease is None:
            continue  # its last slot was taken meanwhile: the task is full now
        if not taken.paid_before:
            # Last, so the ledger row (shared by every claim of the project) is locked only
            # from here to the commit.
            ledger_reserve(
                taken.task.project_id,
                taken.lease.charged,
                context.budget,
                ledger_exists=context.ledger_exists,
            )
        taken.lease.user = user
        return taken.lease
    return None


def _take_one(claim, *, state: str, context: sql.ClaimContext, lock: str) -> sql.Claimed | None:
    """One task taken by the claim statement, or None when there was none. With one slot
    per task the statement picks the task itself: the compare-and-set on its state turns
    away a claim that lost the race. With k > 1 the task is locked by a statement of its
    own first, so that the statement that counts its free slots starts after, and sees,
    every lease committed before the lock."""
    task_id = None
    if context.annotators_per_task > 1:
        params = claim.keywords
        task_id = sql.lock_best(
            lock=lock,
            project=params["project_id"],
            state=state,
            user=params["user_id"],
            exclude=sorted(params["exclude"]),
            exclude_mine=state == State.PENDING,
            audit_first=params["audit_draw"] < context.audit_share,
        )
        if task_id is None:
            return None
    taken = claim(state=state, now=timezone.now(), plain_only=False, task_id=task_id, lock=lock)
    return None if taken.task is None else taken


def _claim_gold(*, user, project: Project, share: float, exclude: set[int]) -> TaskLease | None:
    """The user's lease of a gold copy when gold is due for them (annotate.queue.gold),
    taken by the same claim statement as any task and charged the same way; else None.
    Asked only in projects with a gold share (`share`, read by the claim statement)."""
    with transaction.atomic():
        copy = gold_copy_for(user=user, project_id=project.pk, share=share, exclude=exclude)
        if copy is None:
            return None
        taken = sql.claim(
            project_id=project.pk,
            user_id=user.pk,
            exclude=exclude,
            audit_draw=1.0,
            state=State.PENDING,
            now=timezone.now(),
            plain_only=False,
            task_id=copy.pk,
        )
        if taken.lease is None:
            return None
        if not taken.paid_before:
            ledger_reserve(
                project.pk,
                taken.lease.charged,
                taken.context.budget,
                ledger_exists=taken.context.ledger_exists,
            )
        taken.lease.user = user
        return taken.lease
