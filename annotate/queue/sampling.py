"""Review sampling: which submitted work a reviewer sees, and what each review phase costs.

A project with quality settings (annotate.models.QualitySettings) reviews `review_share` of
its submitted work. Each submission gets a ReviewSample row with its signals: disagreement
between the task's annotators (when several labeled it), disagreement between the model's
prediction and the submission (filled by the app that owns predictions, through
`review_model_disagreement_set`), its annotator's gold score, and what reviewing it costs.
Every `review_batch_size` submissions are sampled together (`review_sample`):

- first a minimum random share of the reviews, drawn uniformly from the batch, so that
  every kind of work keeps a chance of review and the weights themselves are checked;
- then the rest by weight, highest first: w_a x annotator disagreement + w_m x model
  disagreement + w_q x (1 - annotator quality), divided by (review cost / the batch's mean
  cost) ^ w_cost. A signal a task lacks counts as the batch's mean of it, so it neither
  helps nor hurts.

Each picked review is charged to the review part of the budget on the ledger
(annotate.queue.ledger.ledger_review_charge) before it reaches a reviewer; when the budget
cannot pay, the task is not reviewed (reason no_budget). Work not picked is accepted without
review. A second review (second_review_share of accepted first reviews) is charged the same
way at the budget's second_review_cost_factor and returns the task to review for another
reviewer. A project without quality settings keeps the old rule: everything is reviewed.
"""

from __future__ import annotations

import hashlib
import math
import random
from decimal import Decimal
from itertools import combinations

from django.db import transaction
from django.db.models import Avg, F
from django.utils import timezone

from annotate.events import labels_accepted
from annotate.models import (
    Annotation,
    AnnotationTask,
    Budget,
    GoldAttempt,
    QualitySettings,
    ReviewSample,
)
from annotate.quality.attempts import annotation_shapes, attempt_score
from annotate.services.errors import ServiceError

from .ledger import ledger_review_charge

State = AnnotationTask.State
Reason = ReviewSample.Reason


class SecondReviewerRequired(ServiceError):
    status = 409
    code = "task_not_reviewable"


def annotator_quality(*, project_id: int, annotator_id: int) -> float | None:
    """The annotator's mean gold score in the project, or None before their first."""
    return GoldAttempt.objects.filter(
        gold_task__project_id=project_id, annotator_id=annotator_id, score__isnull=False
    ).aggregate(q=Avg("score"))["q"]


def annotators_disagreement(task: AnnotationTask) -> float | None:
    """1 - the mean pairwise agreement of the latest submissions of the task's annotators,
    or None when fewer than two labeled it."""
    latest: dict[int, Annotation] = {}
    for annotation in task.annotations.filter(kind=Annotation.Kind.SUBMISSION).order_by("version"):
        latest[annotation.author_id] = annotation
    if len(latest) < 2:
        return None
    shapes = [annotation_shapes(annotation, task) for annotation in latest.values()]
    names = task.project.keypoint_names
    scores = [attempt_score(a, b, keypoint_names=names)[0] for a, b in combinations(shapes, 2)]
    return 1.0 - sum(scores) / len(scores)


def _review_cost(task: AnnotationTask, budget: Budget, factor: Decimal) -> Decimal:
    return (budget.task_cost(task) * factor).quantize(Decimal("0.0001"))


def _budget(project_id: int) -> Budget:
    return Budget.objects.filter(project_id=project_id).first() or Budget(project_id=project_id)


def review_sample_enter(*, task: AnnotationTask) -> ReviewSample | None:
    """Give a task that was just submitted its place in the review sample (inside the
    submit's transaction). None for a project without quality settings (all work is
    reviewed) and for gold copies (scored, never reviewed). A resubmitted task keeps its
    place: a rejection already put it in review."""
    if task.gold_of_id is not None:
        return None
    settings = QualitySettings.objects.filter(project_id=task.project_id).first()
    if settings is None:
        return None
    existing = ReviewSample.objects.filter(task=task).first()
    if existing is not None:
        return existing
    budget = _budget(task.project_id)
    sample = ReviewSample.objects.create(
        task=task,
        annotator_disagreement=annotators_disagreement(task),
        annotator_quality=(
            annotator_quality(project_id=task.project_id, annotator_id=task.annotator_id)
            if task.annotator_id
            else None
        ),
        review_cost=_review_cost(task, budget, budget.review_cost_factor),
    )
    if settings.review_share >= 1:
        _pick(sample, Reason.ALL, budget)
        return sample
    waiting = ReviewSample.objects.filter(
        task__project_id=task.project_id, sampled_at__isnull=True
    ).count()
    if waiting >= settings.review_batch_size:
        review_sample(project_id=task.project_id)
    return sample


def review_model_disagreement_set(*, values: dict[int, float]) -> int:
    """Store {task id: disagreement in [0, 1]} between the model's prediction and the
    submission, for tasks still waiting to be sampled; the number stored. The app that owns
    predictions calls it (annotate never reads predictions itself)."""
    stored = 0
    for task_id, value in values.items():
        if not 0.0 <= float(value) <= 1.0:
            raise ValueError(f"disagreement of task {task_id} must be in [0, 1], got {value}")
        stored += ReviewSample.objects.filter(task_id=task_id, sampled_at__isnull=True).update(
            model_disagreement=float(value)
        )
    return stored


def _mean(values: list[float | None]) -> float:
    present = [v for v in values if v is not None]
    return sum(present) / len(present) if present else 0.0


def sample_weights(samples: list[ReviewSample], settings: QualitySettings) -> list[float]:
    """Each sample's weight (see the module's docstring)."""
    mean_a = _mean([s.annotator_disagreement for s in samples])
    mean_m = _mean([s.model_disagreement for s in samples])
    mean_q = _mean([s.annotator_quality for s in samples]) if samples else 0.0
    mean_cost = _mean([float(s.review_cost) for s in samples]) or 1.0

    def pick(value, mean):
        return mean if value is None else value

    weights = []
    for s in samples:
        value = (
            settings.weight_annotator_disagreement * pick(s.annotator_disagreement, mean_a)
            + settings.weight_model_disagreement * pick(s.model_disagreement, mean_m)
            + settings.weight_annotator_quality * (1.0 - pick(s.annotator_quality, mean_q))
        )
        relative_cost = max(float(s.review_cost), 1e-9) / mean_cost
        weights.append(value / relative_cost**settings.weight_cost)
    return weights


def _pick(sample: ReviewSample, reason: str, budget: Budget, *, now=None) -> bool:
    """Charge the review and mark the sample picked; False (and no_budget) when the review
    budget cannot pay for it."""
    now = now or timezone.now()
    charged = ledger_review_charge(sample.task.project_id, sample.review_cost, budget)
    sample.picked = charged
    sample.reason = reason if charged else Reason.NO_BUDGET
    sample.sampled_at = now
    sample.charged = sample.review_cost if charged else Decimal(0)
    sample.save(update_fields=["picked", "reason", "sampled_at", "charged"])
    return charged


def _accept_unreviewed(task_ids: list[int], project_id: int) -> None:
    if task_ids:
        AnnotationTask.objects.filter(pk__in=task_ids, state=State.SUBMITTED).update(
            state=State.ACCEPTED, updated_at=timezone.now()
        )
        labels_accepted(project_id=project_id)


def review_sample(*, project_id: int, seed: int | None = None) -> dict:
    """Sample the project's submitted work that waits for it (see the module's docstring);
    {"candidates", "picked", "random", "weighted", "no_budget"}."""
    settings = QualitySettings.for_project(project_id)
    budget = _budget(project_id)
    rng = random.Random(seed)
    now = timezone.now()
    with transaction.atomic():
        samples = list(
            ReviewSample.objects.select_for_update(skip_locked=True, of=("self",))
            .filter(task__project_id=project_id, sampled_at__isnull=True)
            .select_related("task")
            .order_by("id")
        )
        n = len(samples)
        reviews = min(n, math.ceil(settings.review_share * n - 1e-9))
        random_count = min(reviews, math.ceil(settings.review_min_random_share * reviews - 1e-9))
        order = list(range(n))
        rng.shuffle(order)
        random_part = order[:random_count]
        rest = order[random_count:]
        weights = sample_weights(samples, settings)
        rest.sort(key=lambda i: (-weights[i], samples[i].pk))
        weighted_part = rest[: reviews - random_count]
        counts = {"candidates": n, "picked": 0, "random": 0, "weighted": 0, "no_budget": 0}
        chosen = set()
        for index, reason in [(i, Reason.RANDOM) for i in random_part] + [
            (i, Reason.WEIGHTED) for i in weighted_part
        ]:
            sample = samples[index]
            sample.weight = weights[index]
            sample.save(update_fields=["weight"])
            if _pick(sample, reason, budget, now=now):
                chosen.add(index)
                counts["picked"] += 1
                counts[str(reason)] += 1
            else:
                counts["no_budget"] += 1
        unreviewed = []
        for index, sample in enumerate(samples):
            if index in chosen:
                continue
            if sample.sampled_at is None:
                sample.weight, sample.picked, sample.reason = (
                    weights[index],
                    False,
                    Reason.NOT_PICKED,
                )
                sample.sampled_at = now
                sample.save(update_fields=["weight", "picked", "reason", "sampled_at"])
            unreviewed.append(sample.task_id)
        _accept_unreviewed(unreviewed, project_id)
    return counts


def recent_work_send_to_review(*, project_id: int, annotator_id: int, count: int) -> int:
    """Send the annotator's latest `count` submitted tasks that no reviewer decided yet to
    review (after a failed gold attempt), each charged like any review; how many went."""
    tasks = list(
        AnnotationTask.objects.select_for_update()
        .filter(
            project_id=project_id,
            annotator_id=annotator_id,
            gold_of__isnull=True,
            state__in=State.LABELED,
            reviewed_at__isnull=True,
        )
        .order_by("-submitted_at", "-id")[:count]
    )
    if not tasks:
        return 0
    budget = _budget(project_id)
    sent = 0
    for task in tasks:
        sample, _ = ReviewSample.objects.get_or_create(
            task=task,
            defaults={"review_cost": _review_cost(task, budget, budget.review_cost_factor)},
        )
        if sample.picked:
            continue  # in review already
        sample.task = task
        if not _pick(sample, Reason.GOLD_FAILED, budget):
            continue
        sent += 1
        if task.state == State.ACCEPTED:
            AnnotationTask.objects.filter(pk=task.pk).update(
                state=State.SUBMITTED, updated_at=timezone.now()
            )
    return sent


def _second_draw(task_id: int) -> float:
    digest = hashlib.blake2b(f"second:{task_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def second_review_after_accept(*, task: AnnotationTask, reviewer) -> bool:
    """After a first review accepted `task` (inside that transaction): with the project's
    second_review_share, and when the budget pays for it, send it to a second review
    (state in_review); True when it went."""
    sample = ReviewSample.objects.filter(task=task).first()
    if sample is None or sample.second_review:
        return False
    settings = QualitySettings.for_project(task.project_id)
    if _second_draw(task.pk) >= settings.second_review_share:
        return False
    budget = _budget(task.project_id)
    cost = _review_cost(task, budget, budget.second_review_cost_factor)
    if not ledger_review_charge(task.project_id, cost, budget):
        return False
    ReviewSample.objects.filter(pk=sample.pk).update(
        second_review=True, charged=F("charged") + cost
    )
    AnnotationTask.objects.filter(pk=task.pk).update(state=State.IN_REVIEW)
    return True


def second_reviewer_check(*, task: AnnotationTask, reviewer) -> None:
    """A second review needs another reviewer than the first; raises otherwise."""
    if task.state != State.IN_REVIEW:
        return
    if task.reviews.filter(reviewer=reviewer).exists():
        raise SecondReviewerRequired("You reviewed this task already: a second reviewer decides.")
