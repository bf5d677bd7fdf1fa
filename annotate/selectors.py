"""Reads for projects, budgets, assets, tasks and annotations, with the joins and prefetches
each needs, so that pages, the API and the admin never run a query per row.

Money spent is derived here from the state of tasks, never typed in:
label phase  = tasks that were labeled (submitted, in review, accepted, rejected) at the
               budget's cost per image or per video frame (annotate.models.task_cost_expression);
               plus each point and box a person placed in them at the budget's price per point
               and per box (annotate.models.work_cost_expression; pre-filled ones are free);
review phase = tasks that were reviewed (accepted, rejected) at that cost x review_cost_factor.
What pre-filling saved is the pre-filled points and boxes at those prices.
"""

from __future__ import annotations

from dataclasses import dataclass
from decimal import Decimal

from django.db.models import (
    Count,
    F,
    IntegerField,
    OuterRef,
    Prefetch,
    Q,
    QuerySet,
    Subquery,
    Sum,
    Value,
)
from django.db.models.functions import Coalesce

from .models import (
    MONEY,
    Annotation,
    AnnotationTask,
    Asset,
    Box,
    Budget,
    Frame,
    KeypointInstance,
    LabelClass,
    Project,
    Track,
    task_cost_expression,
    task_priority_expression,
    work_cost_expression,
    work_saved_expression,
)
from .permissions import visible

State = AnnotationTask.State

ZERO = Decimal("0")


def spent_on_labeling(prefix: str = "") -> Q:
    """Tasks whose labeling is paid: handed in at least once. A rejected task its annotator
    took back to fix is in progress again, but its first labeling stays paid (the budget
    ledger keeps it), so it counts by its submission time too, not only by its state."""
    return Q(**{f"{prefix}state__in": State.HANDED_IN}) | Q(
        **{f"{prefix}submitted_at__isnull": False}
    )


def spent_on_review(prefix: str = "") -> Q:
    """Tasks whose review is paid: reviewed, even if taken back for rework since. Work the
    review sample accepted without a review (annotate.queue.sampling) cost no review."""
    return (
        Q(**{f"{prefix}state__in": State.REVIEWED}) | Q(**{f"{prefix}reviewed_at__isnull": False})
    ) & ~Q(**{f"{prefix}review_sample__picked": False})


def _spend_aggregates(
    prefix: str, cost_per_image, cost_per_video_frame, review_factor, cost_per_point, cost_per_box
) -> dict:
    """Aggregates of label and review spend over tasks reached through `prefix`
    ("" from AnnotationTask, "tasks__" from Project). The cost arguments are expressions:
    values of one budget, or F() paths to the budget row joined in."""
    cost = task_cost_expression(prefix, cost_per_image, cost_per_video_frame)
    work = work_cost_expression(prefix, cost_per_point, cost_per_box)
    saved = work_saved_expression(prefix, cost_per_point, cost_per_box)
    labeled = spent_on_labeling(prefix)
    reviewed = spent_on_review(prefix)
    return {
        "label_tasks": Count(f"{prefix}id", filter=labeled),
        "label_money": Coalesce(
            Sum(cost + work, filter=labeled, output_field=MONEY), Value(ZERO), output_field=MONEY
        ),
        "review_tasks": Count(f"{prefix}id", filter=reviewed),
        "review_money": Coalesce(
            Sum(cost * review_factor, filter=reviewed, output_field=MONEY),
            Value(ZERO),
            output_field=MONEY,
        ),
        "work_points_by_hand": Coalesce(Sum(f"{prefix}points_by_hand", filter=labeled), Value(0)),
        "work_points_prefilled": Coalesce(
            Sum(f"{prefix}points_prefilled", filter=labeled), Value(0)
        ),
        "work_boxes_by_hand": Coalesce(Sum(f"{prefix}boxes_by_hand", filter=labeled), Value(0)),
        "work_boxes_prefilled": Coalesce(Sum(f"{prefix}boxes_prefilled", filter=labeled), Value(0)),
        "work_money_saved": Coalesce(
            Sum(saved, filter=labeled, output_field=MONEY), Value(ZERO), output_field=MONEY
        ),
    }


@dataclass(frozen=True)
class PhaseSpend:
    tasks: int
    money: Decimal
    money_limit: Decimal | None  # the phase's share of the money budget


@dataclass(frozen=True)
class BudgetSpend:
    label: PhaseSpend
    review: PhaseSpend
    money_spent: Decimal
    money_limit: Decimal | None
    money_left: Decimal | None
    tasks_spent: int  # tasks labeled: what a task budget counts
    task_limit: int | None
    tasks_left: int | None
    over_budget: bool
    # The work in the labeled tasks: placed by a person (charged per point and per box) or
    # pre-filled by a model or propagation, and what the pre-filled ones would have cost.
    points_by_hand: int = 0
    points_prefilled: int = 0
    boxes_by_hand: int = 0
    boxes_prefilled: int = 0
    money_saved: Decimal = ZERO


def budget_of(project: Project) -> Budget:
    """The project's budget, or an unsaved one with the default costs when it has none."""
    return Budget.objects.filter(project=project).first() or Budget(project=project)


def budget_spent(project: Project, budget: Budget | None = None) -> BudgetSpend:
    """Money and tasks spent per phase, in one query. `budget` defaults to budget_of()."""
    if budget is None:
        budget = budget_of(project)
    totals = AnnotationTask.objects.filter(project=project).aggregate(
        **_spend_aggregates(
            "",
            Value(budget.cost_per_image, output_field=MONEY),
            Value(budget.cost_per_video_frame, output_field=MONEY),
            Value(budget.review_cost_factor, output_field=MONEY),
            Value(budget.cost_per_point, output_field=MONEY),
            Value(budget.cost_per_box, output_field=MONEY),
        )
    )
    return _spend(budget, totals)


def _spend(budget: Budget, totals: dict) -> BudgetSpend:
    label_money = Decimal(totals["label_money"] or 0)
    review_money = Decimal(totals["review_money"] or 0)
    limit = budget.money_limit
    spent = label_money + review_money
    tasks_spent = totals["label_tasks"] or 0
    money_left = None if limit is None else limit - spent
    tasks_left = None if budget.task_limit is None else budget.task_limit - tasks_spent
    return BudgetSpend(
        label=PhaseSpend(
            tasks=tasks_spent,
            money=label_money,
            money_limit=None if limit is None else limit * budget.label_share,
        ),
        review=PhaseSpend(
            tasks=totals["review_tasks"] or 0,
            money=review_money,
            money_limit=None if limit is None else limit * budget.review_share,
        ),
        money_spent=spent,
        money_limit=limit,
        money_left=money_left,
        tasks_spent=tasks_spent,
        task_limit=budget.task_limit,
        tasks_left=tasks_left,
        over_budget=(money_left is not None and money_left < 0)
        or (tasks_left is not None and tasks_left < 0),
        points_by_hand=totals.get("work_points_by_hand") or 0,
        points_prefilled=totals.get("work_points_prefilled") or 0,
        boxes_by_hand=totals.get("work_boxes_by_hand") or 0,
        boxes_prefilled=totals.get("work_boxes_prefilled") or 0,
        money_saved=Decimal(totals.get("work_money_saved") or 0),
    )


def project_stats(projects: QuerySet[Project]) -> QuerySet[Project]:
    """Projects annotated, in ONE query, with tasks_pending, tasks_done, label_tasks,
    label_money, review_tasks, review_money and money_spent (0 when there is no budget),
    plus the budget row joined in (`project.budget` costs no query)."""
    spend = _spend_aggregates(
        "tasks__",
        F("budget__cost_per_image"),
        F("budget__cost_per_video_frame"),
        F("budget__review_cost_factor"),
        F("budget__cost_per_point"),
        F("budget__cost_per_box"),
    )
    return (
        projects.select_related("budget")
        .annotate(
            tasks_pending=Count("tasks__id", filter=Q(tasks__state__in=State.IN_QUEUE)),
            tasks_done=Count("tasks__id", filter=Q(tasks__state__in=State.LABELED)),
            **spend,
        )
        .annotate(money_spent=F("label_money") + F("review_money"))
    )


def budget_spent_from_stats(project: Project) -> BudgetSpend | None:
    """The BudgetSpend of a project that came through project_stats (no query)."""
    if not _has_budget(project):
        return None
    return _spend(
        project.budget,
        {
            "label_tasks": project.label_tasks,
            "label_money": project.label_money,
            "review_tasks": project.review_tasks,
            "review_money": project.review_money,
            "work_points_by_hand": project.work_points_by_hand,
            "work_points_prefilled": project.work_points_prefilled,
            "work_boxes_by_hand": project.work_boxes_by_hand,
            "work_boxes_prefilled": project.work_boxes_prefilled,
            "work_money_saved": project.work_money_saved,
        },
    )


def _has_budget(project: Project) -> bool:
    try:
        project.budget  # noqa: B018 - select_related filled it; a missing row raises
    except Budget.DoesNotExist:
        return False
    return True


# Lists for a user: each applies the permission table, then the joins its rows need.


def projects_for(user) -> QuerySet[Project]:
    return project_stats(visible(user, "project.view", Project.objects.all()))


def label_classes_of(project: Project, *, active_only: bool = False) -> QuerySet[LabelClass]:
    classes = project.label_classes.all()
    return classes.filter(is_active=True) if active_only else classes


def assets_for(user) -> QuerySet[Asset]:
    return visible(user, "asset.view", Asset.objects.all()).order_by("id")


def frames_of(asset: Asset) -> QuerySet[Frame]:
    return asset.frames.order_by("index")


def tasks_for(user, *, project_id: int | None = None) -> QuerySet[AnnotationTask]:
    """The tasks the user may see (of one project with `project_id`: see visible())."""
    latest = Annotation.objects.filter(task=OuterRef("pk")).order_by("-version")
    return (
        visible(user, "task.view", AnnotationTask.objects.all(), project_id=project_id)
        .select_related("asset", "lease_user", "annotator")
        .annotate(
            latest_version=Subquery(latest.values("version")[:1]),
            # The queue's order lives in its own table (annotate.queue.priorities).
            priority=task_priority_expression(),
        )
    )


def _count_of(model, **outer) -> Subquery:
    """A correlated COUNT(*): two counts through two joins would multiply each other."""
    rows = model.objects.filter(**outer).order_by().values(*outer).annotate(n=Count("pk"))
    return Coalesce(Subquery(rows.values("n")[:1]), 0, output_field=IntegerField())


def annotation_versions(user, task: AnnotationTask) -> QuerySet[Annotation]:
    """Every saved version of a task the user may read, newest first, with shape counts."""
    return (
        visible(user, "annotation.view", task.annotations.all())
        .select_related("author")
        .annotate(
            box_count=_count_of(Box, annotation=OuterRef("pk")),
            keypoint_count=_count_of(KeypointInstance, annotation=OuterRef("pk")),
        )
        .order_by("-version")
    )


def annotations_with_shapes(queryset: QuerySet[Annotation]) -> QuerySet[Annotation]:
    """Annotations with their boxes and keypoint skeletons (and their frames) prefetched."""
    return queryset.select_related("author", "task").prefetch_related(
        Prefetch("boxes", Box.objects.select_related("frame").order_by("id")),
        Prefetch(
            "keypoint_instances", KeypointInstance.objects.select_related("frame").order_by("id")
        ),
    )


def tracks_of(annotation: Annotation) -> QuerySet[Track]:
    """The tracks the annotation's shapes belong to (shapes must have been prefetched)."""
    ids = {s.track_id for s in annotation.boxes.all() if s.track_id} | {
        k.track_id for k in annotation.keypoint_instances.all() if k.track_id
    }
    return Track.objects.filter(id__in=ids).order_by("number")
