"""The task queue: claiming the next task under a lease, heartbeats, skips, submissions, lease
expiry, the budget reservation, and bulk priority writes.

Every lease is a TaskLease row (see its docstring). Locks are always taken in the same order,
so two services never wait on each other in a circle: the task row first, then its lease
rows, then the project's BudgetLedger row.

A claim takes the best free task with SELECT ... FOR UPDATE SKIP LOCKED, so concurrent
annotators never queue behind one another.
"""

from __future__ import annotations

import datetime as dt
import math
from collections import defaultdict
from collections.abc import Iterable
from decimal import Decimal
from functools import partial, reduce
from operator import or_

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import connection, transaction
from django.db.models import Count, F, Q, Sum
from django.utils import timezone

from activelearn import queue_sql as sql
from activelearn.models import BudgetLedger, LearningSettings, TaskLease
from annotate.models import Annotation, AnnotationTask, Budget, Project
from annotate.services.annotations import annotation_save
from annotate.services.errors import BudgetExhausted, LeaseLost, ServiceError

MAX_LEASES_PER_USER = 2  # the task being labeled plus one prefetched by the page
SWEEP_BATCH = 500
CLAIM_ROUNDS = 5
# Big chunks: each UPDATE touches pages all over the two priority-ordered indexes, so fewer,
# larger statements dirty them fewer times (benchmarks/README.md); a chunk's rows stay
# locked for its few seconds, which claims skip and heartbeats wait out.
PRIORITY_CHUNK = 50_000

State = AnnotationTask.State
Lease = TaskLease.State


class TooManyLeases(ServiceError):
    """The user already holds the most tasks a user may hold in one project."""

    status = 409
    code = "too_many_leases"


class InvalidQueueInput(ServiceError):
    status = 400
    code = "invalid"


def learning_settings_for(project_id: int) -> LearningSettings:
    """The project's settings; a project without a row uses the defaults (not saved)."""
    found = LearningSettings.objects.filter(project_id=project_id).first()
    return found or LearningSettings(project_id=project_id)


def _settings_and_budget(project: Project) -> tuple[LearningSettings, Budget | None]:
    """The project's settings and budget, read now in one query (never from a cache on the
    caller's object: a manager may have just changed either)."""
    project = Project.objects.select_related("learning", "budget").get(pk=project.pk)
    try:
        learning = project.learning
    except LearningSettings.DoesNotExist:
        learning = LearningSettings(project=project)
    try:
        budget = project.budget
    except Budget.DoesNotExist:
        budget = None
    return learning, budget


def _locked(queryset):
    """Lock the rows of `queryset` for this transaction."""
    return queryset.select_for_update()


# Claiming -------------------------------------------------------------------------------------


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
    if not connection.in_atomic_block:
        # The common case in one statement; anything unusual falls through to the general
        # path below, which reads the settings and budget itself.
        row = sql.claim_fast(
            project_id=project.pk, user_id=user.pk, exclude=exclude, now=timezone.now()
        )
        if row is not None:
            return _fast_lease(row, user=user, project_id=project.pk)
    learning, budget = _settings_and_budget(project)
    if sql.expired_lease_exists(timezone.now()):
        leases_expire()
    with transaction.atomic():
        held = sql.held_leases(user_id=user.pk, project_id=project.pk)
        for lease in held:
            if lease.task.pk not in exclude:
                return lease
        if len(held) >= MAX_LEASES_PER_USER:
            raise TooManyLeases(
                f"You already hold {len(held)} tasks in this project: "
                "submit or skip one before taking another."
            )
        for from_state in (State.REJECTED, State.PENDING):
            lease = _claim_first(
                project_id=project.pk,
                from_state=from_state,
                user=user,
                exclude=exclude,
                learning=learning,
                budget=budget,
            )
            if lease is not None:
                return lease
    return None


def _fast_lease(row: tuple, *, user, project_id: int) -> TaskLease:
    lease_id, expires_at, *task_row = row
    task = AnnotationTask(project_id=project_id, lease_user_id=user.pk, lease_expires_at=expires_at)
    for column, value in zip(sql.FAST_CLAIM_COLUMNS[2:], task_row, strict=True):
        setattr(task, column, value)
    return TaskLease(
        id=lease_id, task=task, user=user, slot=0, state=Lease.ACTIVE, expires_at=expires_at
    )


def _claim_first(
    *, project_id: int, from_state: str, user, exclude, learning, budget
) -> TaskLease | None:
    k = learning.annotators_per_task
    find = partial(
        sql.candidates,
        project_id=project_id,
        state=from_state,
        user_id=user.pk,
        exclude=exclude,
        exclude_mine=k > 1 and from_state == State.PENDING,
    )
    for _ in range(CLAIM_ROUNDS):
        found = find(limit=1, lock="skip")
        if not found and k > 1:
            # With k slots a task locked by another claim may still have a slot free
            # for us once that claim commits: wait for it rather than skip it.
            found = find(limit=1, lock="wait")
        if not found:
            return None
        for task in found:
            lease = _lease_task(
                task, from_state=from_state, user=user, learning=learning, budget=budget
            )
            if lease is not None:
                return lease
    return None


def _lease_task(
    task: AnnotationTask, *, from_state: str, user, learning: LearningSettings, budget
) -> TaskLease | None:
    """Give the user a slot of `task`, or None when someone else was faster or the task has
    no free slot. The caller holds the task's row lock."""
    k = learning.annotators_per_task
    now = timezone.now()
    expires_at = now + dt.timedelta(minutes=learning.lease_minutes)
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
    if not already_paid:
        # Last, so the ledger row (shared by every claim of the project) is locked only
        # from here to the commit.
        _ledger_reserve(task.project_id, charged, budget)
    for field, value in changes.items():
        setattr(task, field, value)
    lease.task = task
    return lease


# Budget ---------------------------------------------------------------------------------------


def label_money(budget: Budget) -> Decimal | None:
    """The part of the money budget that pays for labeling, or None for no money cap."""
    if budget.money_limit is None:
        return None
    return budget.money_limit * budget.label_share


def _ledger_reserve(project_id: int, cost: Decimal, budget: Budget | None) -> None:
    """Put one unit of `cost` on the ledger if the budget can pay for it, else raise
    BudgetExhausted. The condition is part of the UPDATE, so racing claims are judged one
    after another against the row as the previous one left it (PostgreSQL re-evaluates it
    after the row lock).

    A project whose budget sets no limit has no ledger row: nothing to check, and no row
    that every claim of the project would have to lock in turn. The row is made, from the
    lease rows, by the first claim after a limit is set."""
    cap = label_money(budget) if budget is not None else None
    task_limit = budget.task_limit if budget is not None else None
    limits = {"project_id": project_id, "cost": cost, "task_limit": task_limit, "money_cap": cap}
    if sql.ledger_add(**limits):
        return
    if cap is None and task_limit is None:
        return
    # No row yet, or one our snapshot missed: make sure it exists (this waits for a racing
    # creator to commit), then ask once more, with a fresh snapshot. The caller's own new
    # lease is already written, so it is left out of the recount.
    _ledger_create(project_id, leaving_out=(1, cost))
    if sql.ledger_add(**limits):
        return
    ledger = BudgetLedger.objects.get(project_id=project_id)
    parts = []
    if budget is not None and budget.task_limit is not None:
        parts.append(f"{ledger.units} of {budget.task_limit} tasks are used or reserved")
    if cap is not None:
        left = max(cap - ledger.money, Decimal(0)).quantize(Decimal("0.01"))
        parts.append(
            f"{left} {budget.currency} of the labeling budget is left and the next task costs "
            f"{cost.quantize(Decimal('0.01'))}"
        )
    raise BudgetExhausted(
        "The labeling budget of this project is used up: " + "; ".join(parts) + ".",
        detail={"units": ledger.units, "money": str(ledger.money)},
    )


def ledger_derived(project_id: int) -> tuple[int, Decimal]:
    """(units, money) the ledger must hold, recomputed from the lease rows: leases that are
    held and unpaid (reserved) plus leases whose work was submitted (spent)."""
    counted = TaskLease.objects.filter(task__project_id=project_id).filter(
        Q(state=Lease.ACTIVE) | Q(submitted_at__isnull=False)
    )
    totals = counted.aggregate(units=Count("id"), money=Sum("charged"))
    return totals["units"], totals["money"] or Decimal(0)


def _ledger_create(project_id: int, *, leaving_out: tuple[int, Decimal] = (0, Decimal(0))) -> None:
    units, money = ledger_derived(project_id)
    units, money = units - leaving_out[0], money - leaving_out[1]
    BudgetLedger.objects.bulk_create(
        [BudgetLedger(project_id=project_id, units=units, money=money)], ignore_conflicts=True
    )


def _ledger_refund(refunds: dict[int, tuple[int, Decimal]]) -> None:
    for project_id, (units, money) in sorted(refunds.items()):
        if units:
            BudgetLedger.objects.filter(project_id=project_id).update(
                units=F("units") - units, money=F("money") - money
            )


# Holding a task -------------------------------------------------------------------------------


def _held_lease(task: AnnotationTask, user) -> TaskLease:
    lease = _locked(TaskLease.objects.filter(task=task, user=user, state=Lease.ACTIVE)).first()
    if lease is None:
        raise LeaseLost(
            "You no longer hold this task (the lease expired or it was released). "
            "Take the next task."
        )
    return lease


def task_heartbeat(*, task: AnnotationTask, user: AbstractBaseUser) -> TaskLease:
    """Renew the user's lease on the task for another `lease_minutes`."""
    learning = learning_settings_for(task.project_id)
    with transaction.atomic():
        _locked(AnnotationTask.objects.filter(pk=task.pk)).get()
        lease = _held_lease(task, user)
        lease.expires_at = timezone.now() + dt.timedelta(minutes=learning.lease_minutes)
        lease.save(update_fields=["expires_at"])
        AnnotationTask.objects.filter(pk=task.pk, lease_user=user).update(
            lease_expires_at=lease.expires_at
        )
    return lease


def task_skip(*, task: AnnotationTask, user: AbstractBaseUser, reason: str) -> AnnotationTask:
    """Take the task out of the queue with the user's reason, for a manager to look at.
    Everyone's lease on it ends; unpaid reservations go back to the budget."""
    reason = (reason or "").strip()
    if not reason:
        raise InvalidQueueInput(
            "Say why you skip this task.", detail={"errors": {"reason": ["A reason is required."]}}
        )
    with transaction.atomic():
        task = _locked(AnnotationTask.objects.filter(pk=task.pk)).get()
        mine = _held_lease(task, user)
        holders = list(_locked(TaskLease.objects.filter(task=task, state=Lease.ACTIVE)))
        unpaid = [lease for lease in holders if lease.submitted_at is None]
        refund = sum((lease.charged for lease in unpaid), Decimal(0))
        TaskLease.objects.filter(pk__in=[lease.pk for lease in unpaid]).update(charged=0)
        TaskLease.objects.filter(pk=mine.pk).update(state=Lease.SKIPPED)
        TaskLease.objects.filter(task=task, state=Lease.ACTIVE, submitted_at__isnull=True).update(
            state=Lease.RELEASED
        )
        TaskLease.objects.filter(task=task, state=Lease.ACTIVE).update(state=Lease.SUBMITTED)
        task.state, task.skip_reason = State.SKIPPED, reason
        task.lease_user, task.lease_expires_at = None, None
        task.save(
            update_fields=["state", "skip_reason", "lease_user", "lease_expires_at", "updated_at"]
        )
        _ledger_refund({task.project_id: (len(unpaid), refund)})
    return task


def task_submit(
    *,
    task: AnnotationTask,
    user: AbstractBaseUser,
    payload: dict,
    base_version: int | None,
    force: bool = False,
) -> Annotation:
    """Save the user's labels as a submission and end their lease, in one transaction. The
    task is submitted once all of its `annotators_per_task` annotators have submitted."""
    learning = learning_settings_for(task.project_id)
    with transaction.atomic():
        task = _locked(AnnotationTask.objects.filter(pk=task.pk)).get()
        lease = _held_lease(task, user)
        annotation = annotation_save(
            task=task,
            user=user,
            payload=payload,
            base_version=base_version,
            kind="submission",
            force=force,
        )
        now = timezone.now()
        TaskLease.objects.filter(pk=lease.pk).update(state=Lease.SUBMITTED, submitted_at=now)
        submitted = TaskLease.objects.filter(task=task, state=Lease.SUBMITTED).count()
        changes: dict = {"updated_at": now}
        if task.lease_user_id == user.pk:
            changes.update(lease_user=None, lease_expires_at=None)
        if submitted >= learning.annotators_per_task:
            changes.update(state=State.SUBMITTED, annotator=user, submitted_at=now)
        AnnotationTask.objects.filter(pk=task.pk).update(**changes)
    # New labels may call for a rescoring: annotation_save sent LABELS_SUBMITTED, whose
    # receiver runs after this commit, so its count includes this one.
    return annotation


def leases_expire(*, project_id: int | None = None, now: dt.datetime | None = None) -> int:
    """Return the tasks of expired leases to the queue (a rejected task being reworked goes
    back to its annotator). Called before every claim, so no cron is needed; cheap when
    nothing expired (a partial index holds only active leases). Returns leases ended."""
    now = now or timezone.now()
    due = TaskLease.objects.filter(state=Lease.ACTIVE, expires_at__lt=now)
    if project_id is not None:
        due = due.filter(task__project_id=project_id)
    task_ids = list(due.order_by("expires_at").values_list("task_id", flat=True)[:SWEEP_BATCH])
    if not task_ids:
        return 0
    with transaction.atomic():
        tasks = AnnotationTask.objects.filter(pk__in=task_ids).only("id", "project_id")
        tasks = tasks.select_for_update(skip_locked=True)  # a busy task waits for later
        project_of = {task.pk: task.project_id for task in tasks}
        leases = list(
            _locked(
                TaskLease.objects.filter(
                    task_id__in=list(project_of), state=Lease.ACTIVE, expires_at__lt=now
                )
            )
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
        _ledger_refund(refunds)
    return len(leases)


# Priorities -----------------------------------------------------------------------------------


def priorities_write_bulk(
    *, project: Project | int, priorities: Iterable[tuple[int, float]], chunk_size: int = 0
) -> int:
    """Set many tasks' priorities: one UPDATE statement per chunk, never a query per row.
    Rows whose priority does not change are not written, so the cost follows the change.
    Tasks of other projects are left alone. Each chunk commits on its own (unless called
    inside a transaction), so claims are never held up by a long rerank. Returns rows
    changed."""
    project_id = project.pk if isinstance(project, Project) else int(project)
    chunk_size = chunk_size or PRIORITY_CHUNK
    changed = 0
    chunk: list[tuple[int, float]] = []

    def flush() -> int:
        ids = [int(task_id) for task_id, _ in chunk]
        values = [float(priority) for _, priority in chunk]
        if not all(map(math.isfinite, values)):
            raise ValueError("priorities must be finite numbers")
        with connection.cursor() as cursor:
            cursor.execute(
                "UPDATE annotate_annotationtask AS t SET priority = v.priority "
                "FROM unnest(%s::bigint[], %s::double precision[]) AS v(id, priority) "
                "WHERE t.id = v.id AND t.project_id = %s "
                "AND t.priority IS DISTINCT FROM v.priority",
                [ids, values, project_id],
            )
            return cursor.rowcount

    for item in priorities:
        chunk.append(item)
        if len(chunk) >= chunk_size:
            changed += flush()
            chunk = []
    if chunk:
        changed += flush()
    return changed
