"""Claiming, heartbeats, skips, submissions and lease expiry, one annotator at a time."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone

from activelearn.models import LearningSettings
from annotate.models import AnnotationTask, Budget, BudgetLedger, TaskLease
from annotate.queue.claim import TooManyLeases, task_claim_next
from annotate.queue.expiry import leases_expire
from annotate.queue.ledger import ledger_derived
from annotate.queue.services import InvalidQueueInput, task_heartbeat, task_skip, task_submit
from annotate.services.errors import BudgetExhausted, LeaseLost

from .queue_fixtures import make_tasks

BOX = {"frame": None, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50}


def expire(lease: TaskLease) -> None:
    past = timezone.now() - dt.timedelta(minutes=1)
    TaskLease.objects.filter(pk=lease.pk).update(expires_at=past)
    AnnotationTask.objects.filter(pk=lease.task_id, lease_user=lease.user).update(
        lease_expires_at=past
    )


def test_the_highest_priority_pending_task_comes_first(project, alice):
    low, high, middle = make_tasks(project, 3, priorities=[1.0, 9.0, 5.0])
    lease = task_claim_next(user=alice, project=project)
    assert lease.task.pk == high.pk
    high.refresh_from_db()
    assert high.state == "in_progress" and high.lease_user == alice
    assert high.lease_expires_at == lease.expires_at


def test_the_lease_lasts_the_projects_lease_minutes(project, alice):
    make_tasks(project, 1)
    LearningSettings.objects.create(project=project, lease_minutes=5)
    lease = task_claim_next(user=alice, project=project)
    remaining = lease.expires_at - timezone.now()
    assert dt.timedelta(minutes=4) < remaining <= dt.timedelta(minutes=5)


def test_a_project_without_learning_settings_leases_for_thirty_minutes(project, alice):
    make_tasks(project, 1)
    lease = task_claim_next(user=alice, project=project)
    assert lease.expires_at - timezone.now() > dt.timedelta(minutes=29)


def test_two_annotators_get_different_tasks(project, alice, bob):
    make_tasks(project, 2)
    first = task_claim_next(user=alice, project=project)
    second = task_claim_next(user=bob, project=project)
    assert first.task.pk != second.task.pk


def test_asking_again_returns_the_task_already_held(project, alice):
    make_tasks(project, 3)
    first = task_claim_next(user=alice, project=project)
    again = task_claim_next(user=alice, project=project)
    assert again.task.pk == first.task.pk
    assert TaskLease.objects.filter(user=alice, state="active").count() == 1


def test_exclude_prefetches_a_second_task_but_not_a_third(project, alice):
    make_tasks(project, 5)
    first = task_claim_next(user=alice, project=project)
    second = task_claim_next(user=alice, project=project, exclude=[first.task.pk])
    assert second.task.pk != first.task.pk
    with pytest.raises(TooManyLeases):
        task_claim_next(user=alice, project=project, exclude=[first.task.pk, second.task.pk])


def test_an_empty_queue_returns_none(project, alice, bob):
    make_tasks(project, 1)
    task_claim_next(user=alice, project=project)
    assert task_claim_next(user=bob, project=project) is None


def test_tasks_of_another_project_are_never_handed_out(project, other_project, alice):
    make_tasks(other_project, 3)
    assert task_claim_next(user=alice, project=project) is None


def test_an_expired_lease_returns_the_task_to_the_queue(project, alice, bob):
    make_tasks(project, 1)
    lease = task_claim_next(user=alice, project=project)
    expire(lease)
    taken = task_claim_next(user=bob, project=project)
    assert taken.task.pk == lease.task.pk
    task = AnnotationTask.objects.get(pk=lease.task.pk)
    assert task.lease_user == bob
    assert TaskLease.objects.get(task=task, user=alice).state == "expired"
    with pytest.raises(LeaseLost):
        task_heartbeat(task=task, user=alice)


def test_the_sweep_alone_frees_expired_tasks(project, alice):
    make_tasks(project, 2)
    lease = task_claim_next(user=alice, project=project)
    expire(lease)
    assert leases_expire() == 1
    task = AnnotationTask.objects.get(pk=lease.task.pk)
    assert task.state == "pending" and task.lease_user is None and task.lease_expires_at is None


def test_a_heartbeat_renews_the_lease(project, alice):
    make_tasks(project, 1)
    LearningSettings.objects.create(project=project, lease_minutes=10)
    lease = task_claim_next(user=alice, project=project)
    soon = timezone.now() + dt.timedelta(seconds=30)
    TaskLease.objects.filter(pk=lease.pk).update(expires_at=soon)
    renewed = task_heartbeat(task=lease.task, user=alice)
    assert renewed.expires_at > soon + dt.timedelta(minutes=9)
    task = AnnotationTask.objects.get(pk=lease.task.pk)
    assert task.lease_expires_at == renewed.expires_at


def test_a_heartbeat_after_expiry_but_before_anyone_took_the_task_keeps_it(project, alice):
    make_tasks(project, 1)
    lease = task_claim_next(user=alice, project=project)
    expire(lease)
    assert task_heartbeat(task=lease.task, user=alice).expires_at > timezone.now()
    assert leases_expire() == 0


def test_a_heartbeat_on_a_task_not_held_is_lease_lost(project, alice, bob):
    make_tasks(project, 1)
    lease = task_claim_next(user=alice, project=project)
    with pytest.raises(LeaseLost):
        task_heartbeat(task=lease.task, user=bob)


def test_skip_needs_a_reason(project, alice):
    make_tasks(project, 1)
    lease = task_claim_next(user=alice, project=project)
    with pytest.raises(InvalidQueueInput) as excinfo:
        task_skip(task=lease.task, user=alice, reason="   ")
    assert "reason" in excinfo.value.detail["errors"]
    assert AnnotationTask.objects.get(pk=lease.task.pk).state == "in_progress"


def test_a_skipped_task_leaves_the_queue_with_its_reason(project, alice, bob):
    make_tasks(project, 1)
    lease = task_claim_next(user=alice, project=project)
    task = task_skip(task=lease.task, user=alice, reason="Image is black")
    assert task.state == "skipped" and task.skip_reason == "Image is black"
    assert task.lease_user is None
    assert TaskLease.objects.get(pk=lease.pk).state == "skipped"
    assert task_claim_next(user=bob, project=project) is None


def test_submit_saves_a_version_and_marks_the_task_submitted(project, alice):
    make_tasks(project, 2)
    lease = task_claim_next(user=alice, project=project)
    annotation = task_submit(
        task=lease.task, user=alice, payload={"boxes": [BOX]}, base_version=None
    )
    assert annotation.version == 1 and annotation.kind == "submission"
    task = AnnotationTask.objects.get(pk=lease.task.pk)
    assert task.state == "submitted" and task.annotator == alice
    assert task.lease_user is None and task.submitted_at is not None
    assert TaskLease.objects.get(pk=lease.pk).state == "submitted"
    assert task_claim_next(user=alice, project=project).task.pk != task.pk


def test_submit_without_the_lease_is_lease_lost_and_saves_nothing(project, alice, bob):
    make_tasks(project, 1)
    lease = task_claim_next(user=alice, project=project)
    with pytest.raises(LeaseLost):
        task_submit(task=lease.task, user=bob, payload={"boxes": [BOX]}, base_version=None)
    assert not lease.task.annotations.exists()


def test_an_invalid_submission_keeps_the_lease(project, alice):
    from annotate.services.errors import ShapeValidationError

    make_tasks(project, 1)
    lease = task_claim_next(user=alice, project=project)
    with pytest.raises(ShapeValidationError):
        task_submit(
            task=lease.task, user=alice, payload={"boxes": [{**BOX, "w": -1}]}, base_version=None
        )
    assert TaskLease.objects.get(pk=lease.pk).state == "active"
    assert AnnotationTask.objects.get(pk=lease.task.pk).state == "in_progress"


def test_a_rejected_task_goes_back_to_its_annotator_first(project, alice, bob, rita):
    from annotate.queue.reviews import review_decide

    make_tasks(project, 3)
    lease = task_claim_next(user=alice, project=project)
    task_submit(task=lease.task, user=alice, payload={"boxes": [BOX]}, base_version=None)
    review_decide(task=lease.task, reviewer=rita, decision="reject", comment="Too loose")
    assert task_claim_next(user=bob, project=project).task.pk != lease.task.pk
    again = task_claim_next(user=alice, project=project)
    assert again.task.pk == lease.task.pk and again.pk == lease.pk
    assert AnnotationTask.objects.get(pk=lease.task.pk).lease_user == alice


def test_reworking_a_rejected_task_costs_nothing_more(project, alice, rita):
    from annotate.queue.reviews import review_decide

    Budget.objects.filter(project=project).update(task_limit=10)
    make_tasks(project, 2)
    lease = task_claim_next(user=alice, project=project)
    task_submit(task=lease.task, user=alice, payload={"boxes": [BOX]}, base_version=None)
    review_decide(task=lease.task, reviewer=rita, decision="reject", comment="Too loose")
    task_claim_next(user=alice, project=project)
    ledger = BudgetLedger.objects.get(project=project)
    assert ledger.units == 1 and ledger.money == Decimal("0.05")
    assert ledger_derived(project.pk) == (1, Decimal("0.05"))


def test_an_expired_rework_lease_returns_the_task_to_its_annotator(project, alice, bob, rita):
    from annotate.queue.reviews import review_decide

    make_tasks(project, 1)
    lease = task_claim_next(user=alice, project=project)
    task_submit(task=lease.task, user=alice, payload={"boxes": [BOX]}, base_version=None)
    review_decide(task=lease.task, reviewer=rita, decision="reject", comment="Too loose")
    expire(task_claim_next(user=alice, project=project))
    assert task_claim_next(user=bob, project=project) is None
    assert AnnotationTask.objects.get(pk=lease.task.pk).state == "rejected"


def test_the_claim_refuses_when_the_task_limit_is_reached(project, alice, bob):
    Budget.objects.filter(project=project).update(task_limit=1)
    make_tasks(project, 3)
    task_claim_next(user=alice, project=project)
    with pytest.raises(BudgetExhausted) as excinfo:
        task_claim_next(user=bob, project=project)
    assert excinfo.value.code == "budget_exhausted"
    assert "1 of 1 tasks" in excinfo.value.message


def test_the_claim_refuses_when_the_money_left_cannot_pay_for_a_task(project, alice, bob):
    # 0.10 * label share 0.8 = 0.08: one image at 0.05, not two.
    Budget.objects.filter(project=project).update(money_limit=Decimal("0.10"))
    make_tasks(project, 3)
    task_claim_next(user=alice, project=project)
    with pytest.raises(BudgetExhausted) as excinfo:
        task_claim_next(user=bob, project=project)
    assert "0.03 USD" in excinfo.value.message and "costs 0.05" in excinfo.value.message


def test_an_expired_reservation_goes_back_to_the_budget(project, alice, bob):
    Budget.objects.filter(project=project).update(task_limit=1)
    make_tasks(project, 2)
    expire(task_claim_next(user=alice, project=project))
    assert task_claim_next(user=bob, project=project) is not None
    assert BudgetLedger.objects.get(project=project).units == 1


def test_the_ledger_matches_the_leases_after_claims_skips_expiries_and_submits(
    project, alice, bob, pat
):
    Budget.objects.filter(project=project).update(money_limit=Decimal("100"))
    make_tasks(project, 6)
    a = task_claim_next(user=alice, project=project)
    b = task_claim_next(user=bob, project=project)
    c = task_claim_next(user=pat, project=project)
    task_skip(task=a.task, user=alice, reason="blurry")
    expire(b)
    task_submit(task=c.task, user=pat, payload={"boxes": [BOX]}, base_version=None)
    task_claim_next(user=alice, project=project)
    ledger = BudgetLedger.objects.get(project=project)
    assert (ledger.units, ledger.money) == ledger_derived(project.pk) == (2, Decimal("0.10"))


def test_a_budget_without_limits_keeps_no_ledger_row(project, alice):
    make_tasks(project, 2)
    task_claim_next(user=alice, project=project)
    assert not BudgetLedger.objects.filter(project=project).exists()


def test_a_limit_set_after_claims_counts_the_work_already_leased(project, alice, bob, pat):
    make_tasks(project, 5)
    held = task_claim_next(user=alice, project=project)
    task_claim_next(user=bob, project=project)
    Budget.objects.filter(project=project).update(task_limit=3)
    task_claim_next(user=pat, project=project)
    ledger = BudgetLedger.objects.get(project=project)
    assert (ledger.units, ledger.money) == ledger_derived(project.pk) == (3, Decimal("0.15"))
    with pytest.raises(BudgetExhausted):
        task_claim_next(user=alice, project=project, exclude=[held.task.pk])


def test_k_annotators_per_task_share_it_and_a_third_does_not(project, alice, bob, pat):
    LearningSettings.objects.create(project=project, annotators_per_task=2)
    (task,) = make_tasks(project, 1)
    first = task_claim_next(user=alice, project=project)
    assert AnnotationTask.objects.get(pk=task.pk).state == "pending"
    second = task_claim_next(user=bob, project=project)
    assert first.task.pk == second.task.pk == task.pk
    assert {first.slot, second.slot} == {0, 1}
    assert AnnotationTask.objects.get(pk=task.pk).state == "in_progress"
    assert task_claim_next(user=pat, project=project) is None


def test_with_k_annotators_the_task_is_submitted_after_the_kth_submission(project, alice, bob):
    LearningSettings.objects.create(project=project, annotators_per_task=2)
    (task,) = make_tasks(project, 1)
    task_claim_next(user=alice, project=project)
    task_claim_next(user=bob, project=project)
    task_submit(task=task, user=alice, payload={"boxes": [BOX]}, base_version=None)
    assert AnnotationTask.objects.get(pk=task.pk).state == "in_progress"
    # Each holder continues their own versions: bob never saved, whatever alice did.
    task_submit(task=task, user=bob, payload={"boxes": [BOX]}, base_version=None)
    assert AnnotationTask.objects.get(pk=task.pk).state == "submitted"


def test_a_submission_starts_a_rescoring_after_the_projects_label_count(
    project, alice, django_capture_on_commit_callbacks
):
    from activelearn.models import ScoringRun

    LearningSettings.objects.create(project=project, rescore_every_labels=1)
    make_tasks(project, 2)
    lease = task_claim_next(user=alice, project=project)
    # The rescoring answers the LABELS_SUBMITTED event, sent when the submission commits.
    with django_capture_on_commit_callbacks(execute=True):
        task_submit(task=lease.task, user=alice, payload={"boxes": [BOX]}, base_version=None)
    # No model yet, so the run is the cold-start ordering again.
    assert ScoringRun.objects.filter(project=project).count() == 1
