"""Holding a task: heartbeats, skips and submissions of the user's own lease.

Locks in the claim's order (annotate.queue.claim): the task row, then its lease rows, then
the project's ledger row.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

from django.contrib.auth.base_user import AbstractBaseUser
from django.db import transaction
from django.db.models import F, Value
from django.utils import timezone

from annotate.models import (
    MONEY,
    Annotation,
    AnnotationTask,
    Budget,
    BudgetLedger,
    ShapeSource,
    TaskLease,
    work_cost_expression,
)
from annotate.services.annotations import annotation_save
from annotate.services.consensus import consensus_for_task
from annotate.services.errors import LeaseLost, ServiceError

from .gold import gold_attempt_score
from .ledger import ledger_refund
from .sampling import review_sample_enter
from .selectors import has_own_versions
from .settings import queue_settings_for

State = AnnotationTask.State
Lease = TaskLease.State


class InvalidQueueInput(ServiceError):
    status = 400
    code = "invalid"


def _locked_task(task: AnnotationTask) -> AnnotationTask:
    return AnnotationTask.objects.select_for_update().get(pk=task.pk)


def _held_lease(task: AnnotationTask, user) -> TaskLease:
    lease = (
        TaskLease.objects.filter(task=task, user=user, state=Lease.ACTIVE)
        .select_for_update()
        .first()
    )
    if lease is None:
        raise LeaseLost(
            "You no longer hold this task (the lease expired or it was released). "
            "Take the next task."
        )
    return lease


def task_heartbeat(*, task: AnnotationTask, user: AbstractBaseUser) -> TaskLease:
    """Renew the user's lease on the task for another `lease_minutes`."""
    settings = queue_settings_for(task.project_id)
    with transaction.atomic():
        _locked_task(task)
        lease = _held_lease(task, user)
        lease.expires_at = timezone.now() + dt.timedelta(minutes=settings.lease_minutes)
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
        task = _locked_task(task)
        mine = _held_lease(task, user)
        holders = list(TaskLease.objects.filter(task=task, state=Lease.ACTIVE).select_for_update())
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
        ledger_refund({task.project_id: (len(unpaid), refund)})
    return task


def submission_work(annotation: Annotation) -> dict[str, int]:
    """The work in a submission: {points_by_hand, points_prefilled, boxes_by_hand,
    boxes_prefilled} over its keyframe shapes. A point or box is pre-filled when a model or
    propagation set it and the person kept it (per point: KeypointInstance.point_sources)."""
    work = dict.fromkeys(
        ("points_by_hand", "points_prefilled", "boxes_by_hand", "boxes_prefilled"), 0
    )
    shapes = {"keyframe": True, "outside": False}
    for source in annotation.boxes.filter(**shapes).values_list("source", flat=True):
        work["boxes_by_hand" if source == ShapeSource.HUMAN else "boxes_prefilled"] += 1
    instances = annotation.keypoint_instances.filter(**shapes).values_list(
        "points", "point_sources", "source"
    )
    for points, sources, source in instances:
        for name, point in points.items():
            if not point[2]:
                continue
            by = (sources or {}).get(name, source)
            work["points_by_hand" if by == ShapeSource.HUMAN else "points_prefilled"] += 1
    return work


def _work_charge(project_id: int, work: dict[str, int]) -> Decimal:
    """What the budget charges for the work of one submission (work_cost_expression)."""
    budget = Budget.objects.filter(project_id=project_id).first()
    if budget is None:
        return Decimal(0)
    task = AnnotationTask(
        points_by_hand=work["points_by_hand"], boxes_by_hand=work["boxes_by_hand"]
    )
    return work_cost_expression(
        "",
        Value(budget.cost_per_point, output_field=MONEY),
        Value(budget.cost_per_box, output_field=MONEY),
        task=task,
    )


def task_submit(
    *,
    task: AnnotationTask,
    user: AbstractBaseUser,
    payload: dict,
    base_version: int | None,
    force: bool = False,
) -> Annotation:
    """Save the user's labels as a submission and end their lease, in one transaction. The
    task is submitted once all of its `annotators_per_task` annotators have submitted; with
    more than one, their submissions are merged into a consensus version then
    (annotate.services.consensus)."""
    settings = queue_settings_for(task.project_id)
    with transaction.atomic():
        task = _locked_task(task)
        lease = _held_lease(task, user)
        annotation = annotation_save(
            task=task,
            user=user,
            payload=payload,
            base_version=base_version,
            kind="submission",
            force=force,
            own_chain=has_own_versions(task, user),
        )
        now = timezone.now()
        work = submission_work(annotation)
        charge = _work_charge(task.project_id, work)
        TaskLease.objects.filter(pk=lease.pk).update(
            state=Lease.SUBMITTED, submitted_at=now, charged=F("charged") + charge
        )
        if charge:
            BudgetLedger.objects.filter(project_id=task.project_id).update(
                money=F("money") + charge
            )
        submitted = TaskLease.objects.filter(task=task, state=Lease.SUBMITTED).count()
        changes: dict = {"updated_at": now}
        changes.update({name: F(name) + count for name, count in work.items()})
        if task.lease_user_id == user.pk:
            changes.update(lease_user=None, lease_expires_at=None)
        # A gold copy has one annotator whatever k is (annotate.queue.gold).
        is_copy = task.gold_of_id is not None
        if submitted >= settings.annotators_per_task or is_copy:
            changes.update(state=State.SUBMITTED, annotator=user, submitted_at=now)
            if settings.annotators_per_task > 1 and not is_copy:
                # The last of k: their submissions merge into the version review and
                # exports take (validated before the task leaves the queue).
                consensus_for_task(task=task)
        AnnotationTask.objects.filter(pk=task.pk).update(**changes)
        if is_copy:
            gold_attempt_score(copy=task, annotation=annotation)
        elif "state" in changes:
            task.state, task.annotator_id = State.SUBMITTED, user.pk
            review_sample_enter(task=task)
    # New labels may call for a rescoring: annotation_save sent LABELS_SUBMITTED, whose
    # receiver runs after this commit, so its count includes this one.
    return annotation
