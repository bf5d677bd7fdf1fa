"""Budget spend is derived from task states; project statistics come in one query."""

from decimal import Decimal

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext

from annotate.models import Budget, Project
from annotate.selectors import (
    annotation_versions,
    budget_spent,
    budget_spent_from_stats,
    project_stats,
    tasks_for,
)
from tests.annotate.api_helpers import make_annotation, make_task
from tests.conftest import make_project

pytestmark = pytest.mark.django_db


def set_budget(project, **fields):
    Budget.objects.filter(project=project).update(**fields)
    return Budget.objects.get(project=project)


def test_nothing_is_spent_before_anything_is_submitted(project):
    make_task(project, state="pending")
    make_task(project, state="in_progress")
    make_task(project, state="skipped")
    spend = budget_spent(project)
    assert spend.money_spent == 0
    assert spend.tasks_spent == 0
    assert spend.label.tasks == 0 and spend.review.tasks == 0


def test_labeled_tasks_cost_their_kind_price_and_reviewed_ones_add_the_review_factor(project):
    set_budget(
        project,
        cost_per_image=Decimal("0.10"),
        cost_per_video_frame=Decimal("0.02"),
        review_cost_factor=Decimal("0.5"),
        money_limit=Decimal("10"),
        task_limit=4,
    )
    make_task(project, state="submitted")  # label 0.10
    make_task(project, state="in_review")  # label 0.10
    make_task(project, state="accepted")  # label 0.10, review 0.05
    make_task(project, state="rejected", frames=10)  # label 0.20, review 0.10
    make_task(project, state="pending")  # nothing

    spend = budget_spent(project)

    assert spend.label.tasks == 4
    assert spend.label.money == Decimal("0.50")
    assert spend.review.tasks == 2
    assert spend.review.money == Decimal("0.15")
    assert spend.money_spent == Decimal("0.65")
    assert spend.money_left == Decimal("9.35")
    assert spend.tasks_left == 0
    assert spend.label.money_limit == Decimal("8")  # default label share 0.8
    assert spend.review.money_limit == Decimal("2")
    assert not spend.over_budget


def test_spend_matches_budget_task_cost_for_every_task(project):
    budget = set_budget(project, cost_per_image=Decimal("0.07"))
    tasks = [make_task(project, state="submitted"), make_task(project, state="submitted", frames=7)]
    assert budget_spent(project).label.money == sum(budget.task_cost(t) for t in tasks)


def test_a_project_over_its_task_limit_is_over_budget(project):
    set_budget(project, task_limit=1)
    make_task(project, state="submitted")
    make_task(project, state="accepted")
    spend = budget_spent(project)
    assert spend.tasks_left == -1
    assert spend.over_budget


def test_other_projects_work_is_not_counted(project, other_project):
    make_task(other_project, state="accepted")
    assert budget_spent(project).tasks_spent == 0


def test_a_project_without_a_budget_row_spends_at_default_costs(project):
    Budget.objects.filter(project=project).delete()
    make_task(project, state="submitted")
    spend = budget_spent(project)
    assert spend.money_spent == Budget().cost_per_image
    assert spend.money_limit is None and not spend.over_budget


def test_project_stats_count_pending_and_done_tasks_per_project(project, other_project):
    for state in ("pending", "in_progress", "rejected", "submitted", "accepted", "skipped"):
        make_task(project, state=state)
    make_task(other_project, state="accepted")

    stats = {p.id: p for p in project_stats(Project.objects.all())}

    assert (stats[project.id].tasks_pending, stats[project.id].tasks_done) == (3, 2)
    assert (stats[other_project.id].tasks_pending, stats[other_project.id].tasks_done) == (0, 1)


def test_project_stats_spend_agrees_with_budget_spent(project):
    set_budget(project, cost_per_image=Decimal("0.3"), review_cost_factor=Decimal("0.1"))
    make_task(project, state="accepted")
    make_task(project, state="submitted", frames=4)
    annotated = project_stats(Project.objects.filter(pk=project.pk)).get()
    assert budget_spent_from_stats(annotated) == budget_spent(project)


def test_project_stats_is_one_query_for_many_projects(db):
    for i in range(6):
        p = make_project(f"P{i}")
        make_task(p, state="accepted")
        make_task(p, state="pending")
    with CaptureQueriesContext(connection) as queries:
        rows = list(project_stats(Project.objects.all()))
        texts = [budget_spent_from_stats(p) for p in rows]
    assert len(rows) == 6 and all(t is not None for t in texts)
    assert len(queries) == 1


def test_project_without_budget_has_no_spend_in_stats(project):
    Budget.objects.filter(project=project).delete()
    make_task(project, state="accepted")
    annotated = project_stats(Project.objects.filter(pk=project.pk)).get()
    assert budget_spent_from_stats(annotated) is None
    assert annotated.money_spent == 0


def test_annotator_sees_only_own_tasks_in_the_task_list(project, alice, bob):
    mine = make_task(project, annotator=alice)
    make_task(project, annotator=bob)
    assert list(tasks_for(alice)) == [mine]


def test_versions_count_their_shapes_without_multiplying(project, alice):
    task = make_task(project, annotator=alice)
    make_annotation(task, author=alice, version=1, boxes=3)
    make_annotation(task, author=alice, version=2, boxes=1)
    versions = list(annotation_versions(alice, task))
    assert [(v.version, v.box_count, v.keypoint_count) for v in versions] == [(2, 1, 1), (1, 3, 1)]
