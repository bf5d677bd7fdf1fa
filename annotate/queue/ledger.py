"""The budget ledger: what the queue has committed of a project's labeling budget.

A claim reserves the task's cost (annotate.models.task_cost_expression) with a conditional
UPDATE, so racing claims cannot overspend the last unit; expiry and skips refund it. The
ledger is always derivable from the lease rows (ledger_derived).
"""

from __future__ import annotations

from decimal import Decimal

from django.db.models import Count, F, Q, Sum

from annotate.models import Budget, BudgetLedger, TaskLease
from annotate.services.errors import BudgetExhausted

from . import sql

Lease = TaskLease.State


def label_money(budget: Budget) -> Decimal | None:
    """The part of the money budget that pays for labeling, or None for no money cap."""
    if budget.money_limit is None:
        return None
    return budget.money_limit * budget.label_share


def ledger_reserve(
    project_id: int, cost: Decimal, budget: Budget | None, *, ledger_exists: bool = True
) -> None:
    """Put one unit of `cost` on the ledger if the budget can pay for it, else raise
    BudgetExhausted. The condition is part of the UPDATE, so racing claims are judged one
    after another against the row as the previous one left it (PostgreSQL re-evaluates it
    after the row lock).

    A project whose budget sets no limit has no ledger row (unless it had a limit once):
    nothing to check, and no row that every claim of the project would have to lock in
    turn. The row is made, from the lease rows, by the first claim after a limit is set."""
    cap = label_money(budget) if budget is not None else None
    task_limit = budget.task_limit if budget is not None else None
    if cap is None and task_limit is None and not ledger_exists:
        return
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
    if task_limit is not None:
        parts.append(f"{ledger.units} of {task_limit} tasks are used or reserved")
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


def ledger_refund(refunds: dict[int, tuple[int, Decimal]]) -> None:
    """Give back {project id: (units, money)} of reservations that ended unpaid."""
    for project_id, (units, money) in sorted(refunds.items()):
        if units:
            BudgetLedger.objects.filter(project_id=project_id).update(
                units=F("units") - units, money=F("money") - money
            )


def review_money(budget: Budget) -> Decimal | None:
    """The part of the money budget that pays for the review phases, or None for no cap."""
    if budget.money_limit is None:
        return None
    return budget.money_limit * budget.review_share


def ledger_review_charge(project_id: int, cost: Decimal, budget: Budget | None) -> bool:
    """Put a review's `cost` on the ledger if the review part of the budget can pay for it;
    False when it cannot (nothing is charged). Conditional, like ledger_reserve, so racing
    samplers cannot overspend. Without a money cap the charge is only recorded."""
    cap = review_money(budget) if budget is not None else None
    if cap is None:
        # Nothing to check: record it on a row that exists, never make one for this alone.
        BudgetLedger.objects.filter(project_id=project_id).update(
            review_units=F("review_units") + 1, review_money=F("review_money") + cost
        )
        return True
    if not BudgetLedger.objects.filter(project_id=project_id).exists():
        _ledger_create(project_id)
    return bool(
        BudgetLedger.objects.filter(project_id=project_id, review_money__lte=cap - cost).update(
            review_units=F("review_units") + 1, review_money=F("review_money") + cost
        )
    )
