"""Reads of the queue: who holds a task, and what is left of a project's budget as the
queue counts it (submitted work plus reserved leases)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import QuerySet

from annotate.models import Annotation, AnnotationTask, Budget, BudgetLedger, Project, TaskLease

from .ledger import label_money, ledger_derived
from .settings import queue_settings_for


def active_lease(*, task_id: int, user) -> TaskLease | None:
    """The user's active lease of the task, if they hold it."""
    if not getattr(user, "is_authenticated", False):
        return None
    return TaskLease.objects.filter(
        task_id=task_id, user=user, state=TaskLease.State.ACTIVE
    ).first()


def has_own_versions(task: AnnotationTask, user) -> bool:
    """Whether `user` works on a chain of versions of their own on the task: when the task
    is shared by several annotators (annotators_per_task > 1) and the user is one of them
    (has a lease of it), so that holders never see, overwrite or conflict with each other's
    drafts. A reviewer or manager works on the task's versions, whose newest, once all k
    submitted, is their consensus (annotate.services.consensus)."""
    if getattr(user, "pk", None) is None:
        return False
    if queue_settings_for(task.project_id).annotators_per_task == 1:
        return False
    return TaskLease.objects.filter(task=task, user=user).exists()


def version_chain(task: AnnotationTask, user) -> QuerySet[Annotation]:
    """The versions of the task that `user` works on (see has_own_versions)."""
    versions = Annotation.objects.filter(task=task)
    return versions.filter(author=user) if has_own_versions(task, user) else versions


def budget_remaining(*, project: Project) -> dict:
    """Limits, what the queue has committed (submitted plus reserved), and what is left."""
    budget = Budget.objects.filter(project=project).first()
    ledger = BudgetLedger.objects.filter(project=project).first()
    if ledger is not None:
        units, money = ledger.units, ledger.money
    else:
        units, money = ledger_derived(project.pk)
    cap = label_money(budget) if budget is not None else None
    task_limit = budget.task_limit if budget is not None else None
    return {
        "currency": budget.currency if budget is not None else None,
        "label_money_limit": None if cap is None else str(cap.quantize(Decimal("0.01"))),
        "money_committed": str(money.quantize(Decimal("0.01"))),
        "money_left": None if cap is None else str(max(cap - money, 0).quantize(Decimal("0.01"))),
        "task_limit": task_limit,
        "tasks_committed": units,
        "tasks_left": None if task_limit is None else max(task_limit - units, 0),
    }
