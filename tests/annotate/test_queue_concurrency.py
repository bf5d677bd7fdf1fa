"""Racing annotators on real PostgreSQL: each thread has its own database connection, and a
barrier starts them together. No task may go to two annotators (except the k of a project
that asks for k), and the budget's last unit is taken exactly once."""

from __future__ import annotations

from collections import Counter
from decimal import Decimal

import pytest

from activelearn.models import LearningSettings
from annotate.models import AnnotationTask, Budget, BudgetLedger, TaskLease
from annotate.queue.claim import task_claim_next
from annotate.queue.ledger import ledger_derived
from annotate.queue.selectors import with_priority
from annotate.queue.services import task_skip
from annotate.services.errors import BudgetExhausted

from .queue_fixtures import make_annotators, make_tasks, run_in_threads

pytestmark = pytest.mark.django_db(transaction=True)


def claim(user, project):
    return lambda: task_claim_next(user=user, project=project)


def test_simultaneous_claims_never_give_one_task_to_two_annotators(project):
    make_tasks(project, 40)
    users = make_annotators(project, 24)
    results = run_in_threads([claim(user, project) for user in users])
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors
    task_ids = [lease.task.pk for lease in results]
    assert len(set(task_ids)) == 24
    # The 24 best tasks went out: nobody was handed a worse task because of a lock.
    best = with_priority(AnnotationTask.objects.filter(project=project)).order_by(
        "-priority", "id"
    )[:24]
    assert set(task_ids) == {task.pk for task in best}
    assert TaskLease.objects.filter(state="active").count() == 24


def test_annotators_claiming_and_skipping_in_a_loop_see_every_task_exactly_once(project):
    tasks = make_tasks(project, 120)
    users = make_annotators(project, 12)

    def work(user):
        def loop():
            seen = []
            while (lease := task_claim_next(user=user, project=project)) is not None:
                seen.append(lease.task.pk)
                task_skip(task=lease.task, user=user, reason="load test")
            return seen

        return loop

    results = run_in_threads([work(user) for user in users])
    errors = [r for r in results if isinstance(r, BaseException)]
    assert not errors
    handed_out = Counter(task_id for seen in results for task_id in seen)
    assert max(handed_out.values()) == 1
    assert set(handed_out) == {task.pk for task in tasks}


def test_more_annotators_than_tasks_leaves_the_rest_with_nothing(project):
    make_tasks(project, 5)
    users = make_annotators(project, 16)
    results = run_in_threads([claim(user, project) for user in users])
    leases = [r for r in results if r is not None]
    assert not [r for r in leases if isinstance(r, BaseException)]
    assert len(leases) == 5 and len({lease.task.pk for lease in leases}) == 5


def test_k_equals_two_gives_each_task_exactly_two_distinct_annotators(project):
    LearningSettings.objects.create(project=project, annotators_per_task=2)
    tasks = make_tasks(project, 6)
    users = make_annotators(project, 16)
    results = run_in_threads([claim(user, project) for user in users])
    assert not [r for r in results if isinstance(r, BaseException)]
    leases = [r for r in results if r is not None]
    assert len(leases) == 12  # six tasks, two slots each; four annotators get nothing
    per_task = Counter(lease.task.pk for lease in leases)
    assert per_task == {task.pk: 2 for task in tasks}
    for task in tasks:
        holders = TaskLease.objects.filter(task=task, state="active")
        assert holders.values("user").distinct().count() == 2
        assert sorted(holders.values_list("slot", flat=True)) == [0, 1]
    assert set(AnnotationTask.objects.values_list("state", flat=True)) == {"in_progress"}


@pytest.mark.parametrize("limit", ["task_limit", "money_limit"])
def test_racing_for_the_last_units_of_budget_exactly_the_affordable_number_win(project, limit):
    if limit == "task_limit":
        Budget.objects.filter(project=project).update(task_limit=4)
    else:
        # 0.25 * label share 0.8 = 0.20: four images at 0.05.
        Budget.objects.filter(project=project).update(money_limit=Decimal("0.25"))
    make_tasks(project, 20)
    users = make_annotators(project, 16)
    results = run_in_threads([claim(user, project) for user in users])
    won = [r for r in results if isinstance(r, TaskLease)]
    refused = [r for r in results if isinstance(r, BudgetExhausted)]
    assert len(won) == 4 and len(refused) == 12
    assert len({lease.task.pk for lease in won}) == 4
    ledger = BudgetLedger.objects.get(project=project)
    assert (ledger.units, ledger.money) == ledger_derived(project.pk) == (4, Decimal("0.20"))
    assert AnnotationTask.objects.filter(state="in_progress").count() == 4
