"""The random audit share: each batch draws a share of the pending pool uniformly, and the
claim hands those tasks out at that share of claims in their own random order, whatever
their priority."""

from __future__ import annotations

import itertools
import random

import pytest
from django.db import connection

from activelearn.models import LearningSettings
from annotate.models import AnnotationTask, QueueEntry
from annotate.queue import claim as claim_module
from annotate.queue.audit import AUDIT_PRIORITY, UNSCORED_PRIORITY, audit_count, audit_draw
from annotate.queue.claim import task_claim_next
from annotate.queue.priorities import priorities_set, priorities_write_bulk
from annotate.queue.selectors import with_priority
from annotate.queue.services import task_skip

from .queue_fixtures import make_annotators, make_tasks


def audit_ids(project) -> set[int]:
    return set(
        AnnotationTask.objects.filter(project=project, audit_drawn_at__isnull=False).values_list(
            "pk", flat=True
        )
    )


@pytest.fixture
def draws(monkeypatch):
    """Decide the claims' uniform draws: each claim takes the next number given."""
    numbers: list[float] = []

    def next_draw() -> float:
        return numbers.pop(0)

    monkeypatch.setattr(claim_module, "audit_draw", next_draw)
    return numbers


@pytest.mark.parametrize(
    ("pool", "share", "count"),
    [(0, 0.1, 0), (10, 0.0, 0), (4, 0.1, 1), (30, 0.1, 3), (31, 0.1, 4), (10, 0.5, 5), (3, 0.5, 2)],
)
def test_a_batch_draws_its_share_of_the_pool_rounded_up(pool, share, count):
    assert audit_count(pool=pool, share=share) == count


def test_a_batch_draws_its_share_of_the_pending_tasks_only(project):
    tasks = make_tasks(project, 40)
    AnnotationTask.objects.filter(pk__in=[t.pk for t in tasks[:10]]).update(state="accepted")
    draw = audit_draw(project_id=project.pk, seed=7, share=0.1)
    assert (draw.pool, draw.drawn, draw.released) == (30, 3, 0)
    drawn = AnnotationTask.objects.filter(pk__in=audit_ids(project))
    assert {task.state for task in drawn} == {"pending"}
    assert sorted(task.audit_order for task in drawn) == [1, 2, 3]
    assert {task.audit_drawn_at for task in drawn} == {draw.drawn_at}


def test_the_same_seed_draws_the_same_tasks_and_another_seed_others(project):
    make_tasks(project, 200)
    audit_draw(project_id=project.pk, seed=1, share=0.1)
    first = audit_ids(project)
    audit_draw(project_id=project.pk, seed=1, share=0.1)
    assert audit_ids(project) == first
    audit_draw(project_id=project.pk, seed=2, share=0.1)
    assert audit_ids(project) != first and len(audit_ids(project)) == 20


def test_the_draw_is_uniform_whatever_the_priorities(project):
    """Over many seeds every task is drawn about equally often: the top of the ranking no
    more than the bottom."""
    tasks = make_tasks(project, 50)  # priorities 50 down to 1
    counts = dict.fromkeys((t.pk for t in tasks), 0)
    for seed in range(200):
        audit_draw(project_id=project.pk, seed=seed, share=0.2)
        for pk in audit_ids(project):
            counts[pk] += 1
    top = sum(counts[t.pk] for t in tasks[:25])
    bottom = sum(counts[t.pk] for t in tasks[25:])
    # 2,000 draws split in two halves: binomial(2000, 0.5) has a standard deviation of 22.
    assert abs(top - bottom) < 150
    assert max(counts.values()) < 80 and min(counts.values()) > 10  # 40 expected each


def test_the_next_batch_gives_back_the_pending_audit_tasks_and_keeps_the_claimed_ones(
    project, alice, draws
):
    make_tasks(project, 20)
    audit_draw(project_id=project.pk, seed=3, share=0.25)
    draws.append(0.0)
    lease = task_claim_next(user=alice, project=project)
    assert lease.task.pk in audit_ids(project)
    second = audit_draw(project_id=project.pk, seed=4, share=0.25)
    assert second.released == 4 and second.pool == 19
    task = AnnotationTask.objects.get(pk=lease.task.pk)
    assert task.audit_drawn_at is not None and task.state == "in_progress"
    assert len(audit_ids(project)) == 1 + 5


def test_drawn_tasks_are_parked_below_every_score_and_re_ranks_leave_them_there(project):
    """The ranked claim steps over audit tasks; parked at the far end of the priority index,
    they are never in its way however many ranked claims a batch serves."""
    tasks = make_tasks(project, 20)
    audit_draw(project_id=project.pk, seed=9, share=0.2)
    drawn = with_priority(AnnotationTask.objects.filter(pk__in=audit_ids(project))).order_by(
        "audit_order"
    )
    assert [t.priority for t in drawn] == [AUDIT_PRIORITY - n for n in (1, 2, 3, 4)]
    changed = priorities_write_bulk(project=project, priorities=[(t.pk, 50.0) for t in tasks])
    assert changed == 16
    assert all(t.priority < AUDIT_PRIORITY for t in drawn.all())


def test_the_next_batch_gives_its_tasks_back_at_the_priorities_it_is_told(project):
    make_tasks(project, 10)
    audit_draw(project_id=project.pk, seed=1, share=0.3)
    first = sorted(audit_ids(project))
    asked = []

    def scores(ids):
        asked.append(list(ids))
        return {ids[0]: 0.75}

    draw = audit_draw(project_id=project.pk, seed=2, share=0.0, priorities_of=scores)
    assert draw.released == 3 and asked == [first]
    back = dict(QueueEntry.objects.filter(task_id__in=first).values_list("task_id", "priority"))
    assert back == {first[0]: 0.75, first[1]: UNSCORED_PRIORITY, first[2]: UNSCORED_PRIORITY}


def test_a_share_of_zero_draws_nothing_and_gives_back_every_pending_audit_task(project):
    make_tasks(project, 20)
    audit_draw(project_id=project.pk, seed=3, share=0.5)
    draw = audit_draw(project_id=project.pk, seed=4, share=0.0)
    assert (draw.drawn, draw.released) == (0, 10)
    assert not audit_ids(project)


def test_the_draw_reads_the_projects_share(project):
    make_tasks(project, 20)
    LearningSettings.objects.create(project=project, audit_share=0.3)
    assert audit_draw(project_id=project.pk, seed=1).drawn == 6


def test_a_claim_under_the_share_takes_the_first_audit_task_whatever_its_priority(
    project, alice, draws
):
    make_tasks(project, 10)  # priorities 10 down to 1
    audit_draw(project_id=project.pk, seed=5, share=0.3)
    first_audit = AnnotationTask.objects.get(project=project, audit_order=1)
    draws.append(0.05)
    lease = task_claim_next(user=alice, project=project)
    assert lease.task.pk == first_audit.pk


def test_a_claim_over_the_share_takes_the_best_task_that_is_not_audit(project, alice, draws):
    tasks = make_tasks(project, 10)
    audit_draw(project_id=project.pk, seed=5, share=0.3)
    # The highest priority of all is an audit task: the ranking may not take it.
    top_audit = AnnotationTask.objects.get(project=project, audit_order=1)
    with connection.cursor() as cursor:
        priorities_set(
            cursor, project_id=project.pk, ids=[top_audit.pk], values=[100.0], audit_too=True
        )
    best_other = next(t for t in tasks if t.pk not in audit_ids(project))
    draws.append(0.5)
    assert task_claim_next(user=alice, project=project).task.pk == best_other.pk


def test_when_one_queue_is_empty_the_other_serves(project, alice, bob, draws):
    make_tasks(project, 2)
    draws.append(0.0)  # no audit drawn yet: the ranked queue serves
    assert task_claim_next(user=alice, project=project) is not None
    audit_draw(project_id=project.pk, seed=1, share=0.5)  # the last pending task
    draws.append(0.9)  # over the share, but only the audit task is left
    lease = task_claim_next(user=bob, project=project)
    assert lease is not None and lease.task.pk in audit_ids(project)


def test_every_claim_under_the_share_and_no_other_takes_an_audit_task(project, draws):
    """The claim order, claim by claim: a claim takes an audit task exactly when its draw
    fell under the share, in the audit's own order, while both queues have tasks."""
    make_tasks(project, 200)
    LearningSettings.objects.create(project=project, audit_share=0.1)
    audit_draw(project_id=project.pk, seed=11)
    rng = random.Random(0)
    planned = [rng.random() for _ in range(120)]
    draws.extend(planned)
    annotators = make_annotators(project, 4)
    taken = []
    for user in itertools.islice(itertools.cycle(annotators), len(planned)):
        lease = task_claim_next(user=user, project=project)
        taken.append(lease.task)
        task_skip(task=lease.task, user=user, reason="measuring the order")
    audit = [task.audit_order is not None for task in taken]
    assert audit == [number < 0.1 for number in planned]
    orders = [task.audit_order for task in taken if task.audit_order is not None]
    assert orders == sorted(orders) and len(orders) == sum(n < 0.1 for n in planned) > 5
    priority = dict(QueueEntry.objects.values_list("task_id", "priority"))
    ranked = [priority[task.pk] for task in taken if task.audit_order is None]
    assert ranked == sorted(ranked, reverse=True)


def test_with_k_annotators_per_task_an_audit_claim_takes_the_audit_task(project, alice, bob, draws):
    LearningSettings.objects.create(project=project, annotators_per_task=2)
    make_tasks(project, 10)
    audit_draw(project_id=project.pk, seed=2, share=0.2)
    first_audit = AnnotationTask.objects.get(project=project, audit_order=1)
    draws.extend([0.05, 0.05])  # under the project's share, 0.1
    assert task_claim_next(user=alice, project=project).task.pk == first_audit.pk
    assert task_claim_next(user=bob, project=project).task.pk == first_audit.pk
