"""Review sampling: a project reviews a share of submitted work, weighted by disagreement,
annotator quality and cost, always with a minimum random share; each review phase is
charged to the budget through the ledger, which stops the reviewing when it runs out."""

from __future__ import annotations

from decimal import Decimal

import pytest

from annotate.models import (
    AnnotationTask,
    Budget,
    BudgetLedger,
    QualitySettings,
    ReviewSample,
)
from annotate.queue.reviews import review_decide
from annotate.queue.sampling import (
    SecondReviewerRequired,
    review_model_disagreement_set,
    review_sample,
    sample_weights,
)
from annotate.selectors import budget_spent
from annotate.selectors_labeling import tasks_to_review

from .quality_fixtures import TRUTH, claim, submit
from .queue_fixtures import make_annotators, make_tasks

R = ReviewSample.Reason


def submitted_batch(project, alice, count: int) -> list[int]:
    make_tasks(project, count)
    ids = []
    for _ in range(count):
        task = claim(alice, project)
        submit(alice, task["id"], TRUTH)
        ids.append(task["id"])
    return ids


def test_without_quality_settings_every_submission_waits_for_review(project, alice, rita):
    ids = submitted_batch(project, alice, 3)
    assert not ReviewSample.objects.exists()
    assert set(tasks_to_review(rita, project).values_list("pk", flat=True)) == set(ids)


def test_the_sample_takes_the_random_share_first_and_the_rest_by_weight(project, alice, rita):
    QualitySettings.objects.create(
        project=project, review_share=0.5, review_min_random_share=0.4, review_batch_size=1000,
        weight_annotator_quality=0.0, weight_cost=0.0,
    )  # fmt: skip
    ids = submitted_batch(project, alice, 10)
    disagreement = {task_id: i / 10 for i, task_id in enumerate(ids)}
    assert review_model_disagreement_set(values=disagreement) == 10
    counts = review_sample(project_id=project.pk, seed=3)
    assert counts == {"candidates": 10, "picked": 5, "random": 2, "weighted": 3, "no_budget": 0}
    samples = {s.task_id: s for s in ReviewSample.objects.all()}
    picked = [s for s in samples.values() if s.picked]
    weighted = [s for s in picked if s.reason == R.WEIGHTED]
    not_picked = [s for s in samples.values() if not s.picked]
    assert len([s for s in picked if s.reason == R.RANDOM]) == 2
    # The weighted picks outweigh everything left unreviewed.
    assert min(s.weight for s in weighted) >= max(s.weight for s in not_picked)
    # Picked work waits for a reviewer; the rest is accepted without review.
    waiting = set(tasks_to_review(rita, project).values_list("pk", flat=True))
    assert waiting == {s.task_id for s in picked}
    for s in not_picked:
        assert AnnotationTask.objects.get(pk=s.task_id).state == "accepted"
        assert s.reason == R.NOT_PICKED


@pytest.mark.parametrize("seed", range(5))
def test_the_minimum_random_share_holds_even_when_weights_are_decisive(project, alice, seed):
    QualitySettings.objects.create(
        project=project, review_share=0.3, review_min_random_share=0.33, review_batch_size=1000
    )
    ids = submitted_batch(project, alice, 9)
    review_model_disagreement_set(values={ids[0]: 1.0, ids[1]: 1.0, ids[2]: 1.0})
    counts = review_sample(project_id=project.pk, seed=seed)
    assert counts["picked"] == 3 and counts["random"] == 1 and counts["weighted"] == 2
    weighted = ReviewSample.objects.filter(reason=R.WEIGHTED).values_list("task_id", flat=True)
    assert set(weighted) <= set(ids[:3])


def test_weights_follow_disagreement_quality_and_cost():
    settings = QualitySettings(
        weight_annotator_disagreement=1, weight_model_disagreement=1, weight_annotator_quality=1,
        weight_cost=1,
    )  # fmt: skip
    samples = [
        ReviewSample(annotator_disagreement=0.0, model_disagreement=0.0, annotator_quality=1.0,
                     review_cost=Decimal("1")),
        ReviewSample(annotator_disagreement=0.8, model_disagreement=0.0, annotator_quality=1.0,
                     review_cost=Decimal("1")),
        ReviewSample(annotator_disagreement=0.0, model_disagreement=0.8, annotator_quality=1.0,
                     review_cost=Decimal("1")),
        ReviewSample(annotator_disagreement=0.0, model_disagreement=0.0, annotator_quality=0.2,
                     review_cost=Decimal("1")),
        ReviewSample(annotator_disagreement=0.8, model_disagreement=0.0, annotator_quality=1.0,
                     review_cost=Decimal("4")),
        ReviewSample(annotator_disagreement=None, model_disagreement=None, annotator_quality=None,
                     review_cost=Decimal("1")),
    ]  # fmt: skip
    w = sample_weights(samples, settings)
    assert w[0] < w[1] and w[0] < w[2] and w[0] < w[3]
    assert w[4] < w[1]  # the same signal at four times the review cost weighs less
    assert w[0] < w[5] < w[1]  # missing signals count as the batch's mean


def test_each_review_is_charged_to_the_ledger_and_the_budget_stops_the_reviewing(
    project, alice, rita
):
    Budget.objects.filter(project=project).update(
        money_limit=Decimal("10"), label_share=Decimal("0.8"), review_share=Decimal("0.2"),
        cost_per_image=Decimal("1"), review_cost_factor=Decimal("0.5"),
    )  # fmt: skip
    QualitySettings.objects.create(
        project=project, review_share=1.0, review_min_random_share=0.0, review_batch_size=1000
    )
    submitted_batch(project, alice, 6)
    # Each review costs 0.50 of a review budget of 2.00: four are reviewed, two are not.
    reasons = sorted(ReviewSample.objects.values_list("reason", flat=True))
    assert reasons == [R.ALL] * 4 + [R.NO_BUDGET] * 2
    ledger = BudgetLedger.objects.get(project=project)
    assert ledger.review_units == 4 and ledger.review_money == Decimal("2.0000")
    assert len(tasks_to_review(rita, project)) == 4
    spend = budget_spent(project)
    assert spend.review.tasks == 0  # nothing reviewed yet
    for task in tasks_to_review(rita, project):
        review_decide(task=task, reviewer=rita, decision="accept")
    spend = budget_spent(project)
    assert spend.review.tasks == 4 and spend.review.money == Decimal("2.0000")


def test_a_second_review_is_charged_at_its_own_cost_and_needs_another_reviewer(
    project, alice, rita
):
    Budget.objects.filter(project=project).update(
        cost_per_image=Decimal("1"), review_cost_factor=Decimal("0.5"),
        second_review_cost_factor=Decimal("0.25"),
    )  # fmt: skip
    QualitySettings.objects.create(project=project, review_share=1.0, second_review_share=1.0)
    (task_id,) = submitted_batch(project, alice, 1)
    BudgetLedger.objects.get_or_create(project=project)
    (second,) = make_annotators(project, 1, prefix="reviewer")
    second.memberships.update(role="reviewer")
    task = AnnotationTask.objects.get(pk=task_id)
    review_decide(task=task, reviewer=rita, decision="accept")
    task.refresh_from_db()
    assert task.state == "in_review"
    sample = ReviewSample.objects.get(task=task)
    assert sample.second_review and sample.charged == Decimal("0.7500")
    with pytest.raises(SecondReviewerRequired):
        review_decide(task=task, reviewer=rita, decision="accept")
    review_decide(task=task, reviewer=second, decision="accept")
    task.refresh_from_db()
    assert task.state == "accepted"
