"""What the rest of the budget buys: an inverse power law fitted to the metric against labels
spent, read at the end of the budget, and the stop recommendation.

The curve fitted is, by preference, the actively chosen arm of activelearn.audit.arms (the
learner measured on the audit sample, an unbiased measure), its labels counted as labels
spent (the audit's own labels included, at the share the project has seen so far); else
the model versions' learning curve on the validation slice (activelearn.scoring.curve),
which the ranking's choice of slice tasks makes read low, said so in `source`. Four points
at least. Points are weighted by their standard errors, so the interval (drawn from the
fit's covariance) says how sure the measurements make the forecast.

The remaining budget in labels is the smallest of: the tasks left in the queue, the task
limit less the tasks spent, and the money limit less the money spent divided by the money
spent per task so far (labels and reviews; before any, the mean cost of the queued tasks),
as the budget burn-down counts them. The stop is recommended when the forecast gain of
the next 1,000 labels is, at the top of its 95% interval, below the project's threshold
(LearningSettings.stop_gain_per_1000): 95% sure that more labels buy less than that.
"""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
from django.db.models import Avg, Value
from django.utils import timezone

from activelearn.audit.samples import LabelOrder
from activelearn.audit.stats import budget_forecast, power_law_fit
from activelearn.models import LearningSettings
from activelearn.scoring.curve import learning_curve
from annotate.models import MONEY, AnnotationTask, Project, task_cost_expression
from annotate.selectors import budget_of
from annotate.selectors_budget import budget_burndown

MIN_POINTS = 4
PER = 1000
RATE_WINDOW = dt.timedelta(days=7)


def _curve_points(arms_points: dict | None, project: Project, order: LabelOrder):
    """(source, metric, labels spent, values, standard errors) of the curve to fit."""
    if arms_points and len(arms_points["active"]) >= MIN_POINTS and arms_points["active_labels"]:
        spent_per_active = len(order.task_ids) / arms_points["active_labels"]
        points = arms_points["active"]
        return (
            "audit",
            "accuracy",
            np.asarray([p["labels"] * spent_per_active for p in points]),
            np.asarray([p["value"] for p in points]),
            np.asarray([p["error"] for p in points]),
        )
    curve = learning_curve(project=project)
    points = [p for p in curve["points"] if p["metric"] == curve["metric"] and p["labels"] > 0]
    if len({p["labels"] for p in points}) < MIN_POINTS:
        return None
    labels = np.asarray([p["labels"] for p in points], dtype=float)
    values = np.asarray([p["value"] for p in points])
    errors = None
    if curve["metric"] == "accuracy" and all(p["validation_examples"] for p in points):
        n = np.asarray([p["validation_examples"] for p in points], dtype=float)
        errors = np.sqrt(np.clip(values * (1 - values), 0.01, None) / n)
    return "validation_slice", curve["metric"], labels, values, errors


def budget_left(project: Project, order: LabelOrder) -> dict:
    """The labels the rest of the budget pays for, and what the burn-down needs to place
    the forecast on its axes."""
    burndown = budget_burndown(project=project)
    budget = budget_of(project)
    queued = AnnotationTask.objects.filter(project=project, state__in=AnnotationTask.State.IN_QUEUE)
    open_tasks = queued.count()
    if burndown.tasks_spent:
        cost = burndown.money_spent / burndown.tasks_spent
    else:
        mean = queued.aggregate(
            cost=Avg(
                task_cost_expression(
                    "",
                    Value(budget.cost_per_image, output_field=MONEY),
                    Value(budget.cost_per_video_frame, output_field=MONEY),
                )
            )
        )["cost"]
        cost = mean if mean is not None else budget.cost_per_image
    limits = {"queue": open_tasks}
    if budget.task_limit is not None:
        limits["tasks"] = max(0, budget.task_limit - burndown.tasks_spent)
    if budget.money_limit is not None and cost > 0:
        left = max(Decimal(0), budget.money_limit - burndown.money_spent)
        limits["money"] = int(left / cost)
    limited_by = min(limits, key=lambda name: limits[name])
    now = timezone.now()
    times = sorted(order.first_labeled.values())
    rate = None
    if times:
        since = max(times[0], now - RATE_WINDOW)
        recent = sum(1 for t in times if t >= since)
        days = max((now - since).total_seconds() / 86400, 1 / 24)
        rate = recent / days if recent else None
    return {
        "labels_left": int(limits[limited_by]),
        "limited_by": limited_by,
        "tasks_spent": burndown.tasks_spent,
        "money_spent": float(burndown.money_spent),
        "money_per_label": float(cost),
        "labels_per_day": rate,
        "currency": burndown.currency,
    }


def forecast_figures(
    *,
    project: Project,
    settings: LearningSettings,
    order: LabelOrder,
    arms_points: dict | None,
    rng: np.random.Generator,
) -> dict:
    """The forecast, the stop recommendation and the points for the burn-down plot, or
    {"reason": ...}."""
    chosen = _curve_points(arms_points, project, order)
    if chosen is None:
        return {
            "reason": f"A forecast needs a learning curve of {MIN_POINTS} measured points: "
            "the audit's curves, or model versions measured at that many label counts."
        }
    source, metric, labels, values, errors = chosen
    fit = power_law_fit(labels, values, sigma=errors)
    if fit is None:
        return {"reason": "The learning curve does not fit an inverse power law.", "source": source}
    budget = budget_left(project, order)
    # A version may count labels since taken back (a rejection): never before its point.
    labels_now = max(len(order.task_ids), int(labels.max()))
    forecast = budget_forecast(
        fit,
        labels_now=labels_now,
        labels_left=budget["labels_left"],
        threshold=settings.stop_gain_per_1000,
        rng=rng,
        per=PER,
    )
    if forecast is None:
        return {
            "reason": "The fit has no interval: its points do not pin it down.",
            "source": source,
        }
    now = timezone.now()
    rate = budget["labels_per_day"]
    points = []
    for point in forecast.path:
        more = point["labels"] - labels_now
        at = None if not rate else now + dt.timedelta(days=more / rate)
        points.append(
            {
                **point,
                "tasks_spent": budget["tasks_spent"] + more,
                "money_spent": budget["money_spent"] + more * budget["money_per_label"],
                "at": at.isoformat() if at else None,
            }
        )
    result = forecast.as_dict()
    result.update(
        source=source,
        metric=metric,
        fit=fit.as_dict(),
        budget=budget,
        path=points,
        stop_recommended=forecast.stop_now,
    )
    return result
