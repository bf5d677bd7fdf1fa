"""One rule for what a task costs (annotate.models.task_cost_expression): what the claim
charges a lease, what the ledger reserves, and what the spend page and the burn-down sum
all agree, for an image and for a video segment."""

from __future__ import annotations

from decimal import Decimal

from annotate.models import AnnotationTask, Budget, BudgetLedger, Project, TaskLease
from annotate.queue.claim import task_claim_next
from annotate.selectors import budget_spent, project_stats
from annotate.selectors_budget import budget_burndown
from tests.annotate.api_helpers import make_task


def test_the_claim_the_ledger_and_the_spend_page_price_a_task_alike(project, alice):
    budget, _ = Budget.objects.update_or_create(
        project=project,
        defaults={
            "money_limit": Decimal("100"),
            "cost_per_image": Decimal("0.07"),
            "cost_per_video_frame": Decimal("0.03"),
        },
    )
    video = make_task(project, frames=7, priority=2.0)
    image = make_task(project, priority=1.0)
    first = task_claim_next(user=alice, project=project)
    second = task_claim_next(user=alice, project=project, exclude=[first.task.pk])
    assert {first.task.pk, second.task.pk} == {video.pk, image.pk}

    expected = {video.pk: Decimal("0.21"), image.pk: Decimal("0.07")}
    assert {t.pk: budget.task_cost(t) for t in (video, image)} == expected
    charged = dict(TaskLease.objects.values_list("task_id", "charged"))
    assert charged == expected
    assert BudgetLedger.objects.get(project=project).money == sum(expected.values())

    AnnotationTask.objects.filter(pk__in=expected).update(state="submitted")
    assert budget_spent(project).label.money == sum(expected.values())
    stats = project_stats(Project.objects.filter(pk=project.pk)).get()
    assert stats.label_money == sum(expected.values())
    assert budget_burndown(project=project).money_spent == sum(expected.values())
