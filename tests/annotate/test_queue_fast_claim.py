"""Next-task outside a transaction, as the web server runs it: the claim (annotate.queue.claim,
the one path) writes task, lease and ledger as inside one, and the lean token and session
checks refuse what DRF's own classes refuse."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from activelearn.models import LearningSettings
from annotate.models import AnnotationTask, Budget, BudgetLedger, TaskLease
from annotate.queue.claim import task_claim_next

from .queue_fixtures import make_annotators, make_tasks

autocommit = pytest.mark.django_db(transaction=True)


def url(project) -> str:
    return f"/api/projects/{project.pk}/tasks/next/"


@autocommit
def test_a_claim_outside_a_transaction_writes_task_lease_and_ledger_like_the_general_path(
    project,
):
    LearningSettings.objects.create(project=project, lease_minutes=45)
    Budget.objects.filter(project=project).update(cost_per_image=Decimal("0.07"))
    BudgetLedger.objects.create(project=project, units=3, money=Decimal("1"))
    best, _ = make_tasks(project, 2)
    (user,) = make_annotators(project, 1)
    before = timezone.now()

    lease = task_claim_next(user=user, project=project)

    assert lease.task.pk == best.pk and lease.task.state == "in_progress"
    stored = TaskLease.objects.get(pk=lease.pk)
    assert stored.state == "active" and stored.user == user and stored.slot == 0
    assert stored.charged == Decimal("0.07") and stored.expires_at == lease.expires_at
    assert before + dt.timedelta(minutes=45) <= stored.expires_at
    assert stored.expires_at <= timezone.now() + dt.timedelta(minutes=45)
    task = AnnotationTask.objects.get(pk=best.pk)
    assert task.state == "in_progress" and task.lease_user == user
    assert task.lease_expires_at == stored.expires_at
    ledger = BudgetLedger.objects.get(project=project)
    assert (ledger.units, ledger.money) == (4, Decimal("1.07"))


@autocommit
def test_a_video_task_is_charged_per_frame_outside_a_transaction(project):
    Budget.objects.filter(project=project).update(cost_per_video_frame=Decimal("0.01"))
    (video,) = make_tasks(project, 1)
    AnnotationTask.objects.filter(pk=video.pk).update(
        kind="video", frame_start=0, frame_end=29, frame_count=30
    )
    (user,) = make_annotators(project, 1)
    lease = task_claim_next(user=user, project=project)
    assert TaskLease.objects.get(pk=lease.pk).charged == Decimal("0.30")


@autocommit
def test_asking_again_outside_a_transaction_returns_the_held_task(project):
    make_tasks(project, 3)
    (user,) = make_annotators(project, 1)
    first = task_claim_next(user=user, project=project)
    again = task_claim_next(user=user, project=project)
    prefetched = task_claim_next(user=user, project=project, exclude=[first.task.pk])
    assert again.pk == first.pk
    assert prefetched.task.pk not in (first.task.pk,)
    assert TaskLease.objects.filter(user=user, state="active").count() == 2


@autocommit
def test_k_annotators_per_task_outside_a_transaction_share_one_task(project):
    LearningSettings.objects.create(project=project, annotators_per_task=2)
    (only,) = make_tasks(project, 1)
    ann, ben, cat = make_annotators(project, 3)
    assert task_claim_next(user=ann, project=project).task.pk == only.pk
    assert task_claim_next(user=ben, project=project).task.pk == only.pk
    assert task_claim_next(user=cat, project=project) is None


@autocommit
def test_an_expired_lease_is_swept_before_a_claim_outside_a_transaction(project):
    (only,) = make_tasks(project, 1)
    ann, ben = make_annotators(project, 2)
    task_claim_next(user=ann, project=project)
    TaskLease.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    assert task_claim_next(user=ben, project=project).task.pk == only.pk
    assert TaskLease.objects.get(user=ann).state == "expired"


@autocommit
def test_while_another_claim_sweeps_a_claim_takes_its_task_in_one_statement(project):
    """After a mass expiry every claim found expired leases and swept inline, all of them
    at once. One sweeps at a time (its advisory lock); another claim meanwhile takes a free
    task as if no lease had expired, and the expired ones wait for the next sweep."""
    import psycopg
    from django.db import connection
    from django.test.utils import CaptureQueriesContext

    from annotate.queue.expiry import SWEEP_LOCK_CLASS, leases_expire

    held, free = make_tasks(project, 2)
    ann, ben = make_annotators(project, 2)
    assert task_claim_next(user=ann, project=project).task.pk == held.pk
    TaskLease.objects.update(expires_at=timezone.now() - dt.timedelta(seconds=1))
    settings = connection.get_connection_params()
    with psycopg.connect(**settings, autocommit=False) as sweeper:
        sweeper.execute("SELECT pg_try_advisory_xact_lock(%s, 0)", [SWEEP_LOCK_CLASS])
        assert leases_expire() == 0  # the sweep is someone else's
        with CaptureQueriesContext(connection) as queries:
            lease = task_claim_next(user=ben, project=project)
        assert lease.task.pk == free.pk
        claims = [q for q in queries.captured_queries if "WITH conf AS" in q["sql"]]
        assert len(claims) == 2  # the first found expired leases, the second took the task
        assert TaskLease.objects.get(user=ann).state == "active"  # not swept yet
        sweeper.rollback()
    assert leases_expire() == 1
    assert TaskLease.objects.get(user=ann).state == "expired"
    assert AnnotationTask.objects.get(pk=held.pk).state == "pending"


@autocommit
def test_the_next_task_endpoint_serves_a_token_outside_a_transaction(project):
    (best,) = make_tasks(project, 1)
    (user,) = make_annotators(project, 1)
    token = Token.objects.create(user=user)
    client = APIClient()
    response = client.post(url(project), {}, format="json", HTTP_AUTHORIZATION=f"Token {token}")
    assert response.status_code == 200
    assert response.json()["task"]["id"] == best.pk


def test_an_unknown_token_is_refused_like_drf_does(project, alice):
    response = APIClient().post(url(project), {}, format="json", HTTP_AUTHORIZATION="Token nope")
    # 403 rather than 401, as on every endpoint: session authentication comes first.
    assert response.status_code == 403
    assert response.json() == {"detail": "Invalid token."}


def test_the_token_of_an_inactive_user_is_refused(project, alice):
    token = Token.objects.create(user=alice)
    alice.is_active = False
    alice.save(update_fields=["is_active"])
    response = APIClient().post(
        url(project), {}, format="json", HTTP_AUTHORIZATION=f"Token {token}"
    )
    assert response.status_code == 403
    assert response.json() == {"detail": "User inactive or deleted."}


def test_a_session_post_without_the_csrf_token_is_refused(project, alice):
    make_tasks(project, 1)
    client = APIClient(enforce_csrf_checks=True)
    client.force_login(alice)
    response = client.post(url(project), {}, format="json")
    assert response.status_code == 403
    assert "CSRF" in response.json()["detail"]
    assert not TaskLease.objects.exists()


def test_a_token_of_a_user_outside_the_project_is_not_found(project, other_project, carol):
    make_tasks(project, 1)
    token = Token.objects.create(user=carol)
    response = APIClient().post(
        url(project), {}, format="json", HTTP_AUTHORIZATION=f"Token {token}"
    )
    assert response.status_code == 404
