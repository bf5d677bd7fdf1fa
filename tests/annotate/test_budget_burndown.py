"""The budget burn-down: cumulative spend over time from submitted and reviewed work, ending at
what budget_spent reports now, and its endpoint for managers and ML engineers only."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotate.models import AnnotationTask, Budget
from annotate.selectors import budget_spent
from annotate.selectors_budget import budget_burndown
from tests.annotate.api_helpers import make_task

pytestmark = pytest.mark.django_db


def _task(project, state, *, submitted=None, reviewed=None, frames=None) -> AnnotationTask:
    task = make_task(project, state=state, frames=frames)
    AnnotationTask.objects.filter(pk=task.pk).update(submitted_at=submitted, reviewed_at=reviewed)
    return task


@pytest.fixture
def spending(project):
    Budget.objects.filter(project=project).update(
        money_limit=Decimal("10.00"),
        cost_per_image=Decimal("1.00"),
        cost_per_video_frame=Decimal("0.10"),
        review_cost_factor=Decimal("0.5"),
    )
    start = timezone.now() - dt.timedelta(days=3)
    _task(project, "submitted", submitted=start)
    _task(
        project,
        "accepted",
        submitted=start + dt.timedelta(days=1),
        reviewed=start + dt.timedelta(days=2),
    )
    _task(project, "pending")
    _task(project, "in_review", submitted=start + dt.timedelta(days=2), frames=5)
    return start


def test_spend_grows_step_by_step_to_what_is_spent_now(project, spending):
    burndown = budget_burndown(project=project)

    assert burndown.bucket == "hour"  # three days in minutes would be too many points
    money = [point.money_spent for point in burndown.points]
    tasks = [point.tasks_spent for point in burndown.points]
    assert money == sorted(money) and tasks == sorted(tasks)
    assert money[0] == 0 and tasks[0] == 0
    # 1 + 1 + 5 frames x 0.10 for the labels, 0.5 x 1 for the one review.
    assert burndown.money_spent == Decimal("3.0") == budget_spent(project).money_spent
    assert burndown.tasks_spent == 3 == budget_spent(project).tasks_spent
    assert [p.at for p in burndown.points] == sorted(p.at for p in burndown.points)


def test_a_long_project_is_summed_by_coarser_steps(project):
    start = timezone.now() - dt.timedelta(days=60)
    _task(project, "submitted", submitted=start)
    _task(project, "submitted", submitted=start + dt.timedelta(days=59))
    burndown = budget_burndown(project=project)
    assert burndown.bucket == "day"
    assert len(burndown.points) <= 3


def test_a_project_with_nothing_spent_has_no_points(project):
    _task(project, "pending")
    burndown = budget_burndown(project=project)
    assert burndown.points == []
    assert burndown.money_spent == 0


def test_the_endpoint_gives_the_series_with_the_budget(project, pat, spending):
    client = APIClient()
    client.force_login(pat)
    response = client.get(f"/api/projects/{project.pk}/budget/burndown/")
    assert response.status_code == 200
    body = response.json()
    assert body["money_limit"] == "10.00"
    assert body["currency"] == "USD"
    assert body["money_spent"] == "3.0000"
    assert body["points"][-1]["money_spent"] == "3.0000"
    assert set(body["points"][0]) == {"at", "money_spent", "tasks_spent"}


@pytest.mark.parametrize(
    ("user", "status"), [("alice", 403), ("rita", 403), ("pat", 200), ("eve", 200), ("carol", 404)]
)
def test_only_managers_and_ml_engineers_read_the_burndown(request, project, user, status):
    client = APIClient()
    client.force_login(request.getfixturevalue(user))
    assert client.get(f"/api/projects/{project.pk}/budget/burndown/").status_code == status
