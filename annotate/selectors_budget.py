"""Spend over time for a project's budget burn-down: cumulative money and labeled tasks, from
the same derivation as annotate.selectors.budget_spent (label cost when a task was
submitted, review cost when it was reviewed), so the last point equals what is spent now."""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field
from decimal import Decimal

from django.db.models import Count, DateTimeField, Max, Min, QuerySet, Sum, Value
from django.db.models.functions import Coalesce, Trunc

from .models import MONEY, AnnotationTask, Project, task_cost_expression, work_cost_expression
from .selectors import ZERO, budget_of, budget_spent, spent_on_labeling, spent_on_review

# Coarsest first is never needed: the finest bucket that keeps the plot under MAX_POINTS.
BUCKETS: tuple[tuple[str, int], ...] = (
    ("minute", 60),
    ("hour", 3600),
    ("day", 86400),
    ("week", 7 * 86400),
)
MAX_POINTS = 500


@dataclass(frozen=True)
class BurndownPoint:
    at: dt.datetime
    money_spent: Decimal  # label and review money, cumulative up to `at`
    tasks_spent: int  # tasks labeled, cumulative (what a task budget counts)


@dataclass(frozen=True)
class Burndown:
    currency: str
    money_limit: Decimal | None
    task_limit: int | None
    bucket: str  # the time step the points were summed over
    points: list[BurndownPoint] = field(default_factory=list)
    # Partial labeling: points placed by hand and pre-filled, and what pre-filling saved.
    points_by_hand: int = 0
    points_prefilled: int = 0
    money_saved: Decimal = ZERO

    @property
    def money_spent(self) -> Decimal:
        return self.points[-1].money_spent if self.points else ZERO

    @property
    def tasks_spent(self) -> int:
        return self.points[-1].tasks_spent if self.points else 0


def _events(project: Project) -> tuple[QuerySet, QuerySet]:
    """Labeled tasks at the time they were submitted, reviewed tasks at their review. Rows
    without a timestamp (imported work) fall back to the task's last change, so they still
    count, as they do in budget_spent."""
    tasks = AnnotationTask.objects.filter(project=project)
    labeled = tasks.filter(spent_on_labeling()).annotate(
        at=Coalesce("submitted_at", "updated_at", output_field=DateTimeField())
    )
    reviewed = tasks.filter(spent_on_review()).annotate(
        at=Coalesce("reviewed_at", "submitted_at", "updated_at", output_field=DateTimeField())
    )
    return labeled, reviewed


def _bucket_for(first: dt.datetime | None, last: dt.datetime | None) -> tuple[str, int]:
    if first is None or last is None:
        return BUCKETS[0]
    span = (last - first).total_seconds()
    for kind, seconds in BUCKETS:
        if span / seconds <= MAX_POINTS:
            return kind, seconds
    return BUCKETS[-1]


def budget_burndown(*, project: Project) -> Burndown:
    """Cumulative spend per time bucket, starting at zero when the project was made."""
    budget = budget_of(project)
    cost = task_cost_expression(
        "",
        Value(budget.cost_per_image, output_field=MONEY),
        Value(budget.cost_per_video_frame, output_field=MONEY),
    )
    work = work_cost_expression(
        "",
        Value(budget.cost_per_point, output_field=MONEY),
        Value(budget.cost_per_box, output_field=MONEY),
    )
    review_factor = Value(budget.review_cost_factor, output_field=MONEY)
    labeled, reviewed = _events(project)

    spans = [qs.aggregate(first=Min("at"), last=Max("at")) for qs in (labeled, reviewed)]
    firsts = [s["first"] for s in spans if s["first"] is not None]
    lasts = [s["last"] for s in spans if s["last"] is not None]
    kind, _ = _bucket_for(min(firsts, default=None), max(lasts, default=None))

    steps: dict[dt.datetime, list] = {}  # bucket start -> [money, tasks labeled]
    label_rows = (
        labeled.annotate(bucket=Trunc("at", kind))
        .order_by()
        .values("bucket")
        .annotate(money=Sum(cost + work, output_field=MONEY), tasks=Count("id"))
    )
    for row in label_rows:
        step = steps.setdefault(row["bucket"], [ZERO, 0])
        step[0] += row["money"] or ZERO
        step[1] += row["tasks"]
    review_rows = (
        reviewed.annotate(bucket=Trunc("at", kind))
        .order_by()
        .values("bucket")
        .annotate(money=Sum(cost * review_factor, output_field=MONEY))
    )
    for row in review_rows:
        steps.setdefault(row["bucket"], [ZERO, 0])[0] += row["money"] or ZERO

    points: list[BurndownPoint] = []
    if steps:
        start = min(project.created_at, min(steps))
        points.append(BurndownPoint(at=start, money_spent=ZERO, tasks_spent=0))
    money, tasks = ZERO, 0
    for at in sorted(steps):
        money += steps[at][0]
        tasks += steps[at][1]
        points.append(BurndownPoint(at=at, money_spent=money, tasks_spent=tasks))
    spend = budget_spent(project, budget)
    return Burndown(
        points_by_hand=spend.points_by_hand,
        points_prefilled=spend.points_prefilled,
        money_saved=spend.money_saved,
        currency=budget.currency,
        money_limit=budget.money_limit,
        task_limit=budget.task_limit,
        bucket=kind,
        points=points,
    )
