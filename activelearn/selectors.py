"""Reads of the queue: the ranked queue with each task's score breakdown, and what is left of
a project's budget as the queue counts it (submitted work plus reserved leases)."""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Prefetch, Q, QuerySet

from annotate.models import AnnotationTask, Budget, Project

from .models import BudgetLedger, ModelVersion, TaskScore
from .queue import label_money, ledger_derived

QUEUE_STATES = (
    AnnotationTask.State.PENDING,
    AnnotationTask.State.IN_PROGRESS,
    AnnotationTask.State.REJECTED,
)


def active_model_version(*, project: Project) -> ModelVersion | None:
    return ModelVersion.objects.filter(project=project, is_active=True).first()


def queue_ranked(
    *, project: Project, model_version: ModelVersion | None, states=QUEUE_STATES
) -> QuerySet[AnnotationTask]:
    """The project's tasks in the order the queue hands them out, each with `ranking_scores`:
    its TaskScore of the active model version, or the cold-start score (no model version)."""
    scores = TaskScore.objects.filter(
        Q(model_version=model_version) if model_version else Q(model_version__isnull=True)
    )
    return (
        AnnotationTask.objects.filter(project=project, state__in=states)
        .order_by("-priority", "id")
        .prefetch_related(Prefetch("scores", queryset=scores, to_attr="ranking_scores"))
    )


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
