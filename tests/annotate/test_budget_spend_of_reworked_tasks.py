"""A rejected task its annotator takes back to fix is in progress again, but its labeling
stays paid: the spend derived from submitted work kept it out, so it disagreed with the
budget ledger and the spend a manager read went down (found by benchmarks/load.py)."""

from __future__ import annotations

from decimal import Decimal

from annotate.models import Budget, BudgetLedger
from annotate.queue.claim import task_claim_next
from annotate.queue.ledger import ledger_derived
from annotate.queue.reviews import review_decide
from annotate.queue.services import task_submit
from annotate.selectors import budget_spent
from annotate.selectors_budget import budget_burndown

from .queue_fixtures import make_tasks

BOX = {"frame": None, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50}


def test_a_rejected_task_taken_back_for_rework_keeps_its_labeling_and_review_spent(
    project, alice, rita
):
    Budget.objects.filter(project=project).update(
        money_limit=Decimal("100"), cost_per_image=Decimal("0.05")
    )
    make_tasks(project, 2)
    lease = task_claim_next(user=alice, project=project)
    task_submit(task=lease.task, user=alice, payload={"boxes": [BOX]}, base_version=None)
    review_decide(task=lease.task, reviewer=rita, decision="reject", comment="Too loose")
    before = budget_spent(project)

    again = task_claim_next(user=alice, project=project)

    assert again.task.pk == lease.task.pk
    again.task.refresh_from_db()
    assert again.task.state == "in_progress"
    spent = budget_spent(project)
    assert spent.label.money == before.label.money == Decimal("0.05")
    assert spent.review.money == before.review.money
    paid = ledger_derived(project.pk)
    assert BudgetLedger.objects.get(project=project).money == paid[1] == Decimal("0.05")
    assert budget_burndown(project=project).money_spent == spent.money_spent
