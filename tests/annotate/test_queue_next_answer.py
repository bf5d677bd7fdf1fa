"""Next-task's lean request path: its answer is built as a plain dict, the bodies clients
send are checked without the serializer, and the token's statement reads the user's roles;
each gives what the serializers and the separate roles query gave, and nothing outlives
the request (benchmarks/README.md, "next-task's server CPU")."""

from __future__ import annotations

import datetime as dt
import zoneinfo

import pytest
from django.db import connection
from django.http import QueryDict
from django.test.utils import CaptureQueriesContext
from rest_framework import serializers
from rest_framework.authtoken.models import Token
from rest_framework.renderers import JSONRenderer
from rest_framework.test import APIClient

from annotate.models import AnnotationTask, Membership, TaskLease, task_priority_expression
from annotate.queue.api import (
    MAX_EXCLUDE,
    LeasedTaskSerializer,
    NextTaskInput,
    leased_task_data,
    next_task_exclude,
)

from .queue_fixtures import make_annotators, make_tasks

autocommit = pytest.mark.django_db(transaction=True)


def url(project) -> str:
    return f"/api/projects/{project.pk}/tasks/next/"


def _serialized(lease) -> dict:
    task = lease.task
    return LeasedTaskSerializer(
        {
            "id": task.pk,
            "kind": task.kind,
            "asset": task.asset_id,
            "frame_start": task.frame_start,
            "frame_end": task.frame_end,
            "frame_count": task.frame_count,
            "state": task.state,
            "lease_expires_at": lease.expires_at,
            "priority": task.priority,
        }
    ).data


@pytest.mark.parametrize(
    ("kind", "frames", "priority", "expires_at"),
    [
        ("image", (None, None, 1), 0.25, dt.datetime(2026, 12, 1, 9, 30, 5, 123456, dt.UTC)),
        # Whole seconds (isoformat drops the fraction), a tiny priority (1e-05 in Python's
        # float repr), and an expiry in another time zone (answered in UTC, with "Z").
        ("video", (10, 39, 30), 1e-05, dt.datetime(2026, 12, 1, 9, 30, 5, tzinfo=dt.UTC)),
        (
            "video",
            (0, 0, 1),
            -3.5,
            dt.datetime(2026, 12, 1, 10, 0, tzinfo=zoneinfo.ZoneInfo("Europe/Paris")),
        ),
    ],
)
def test_the_answer_is_what_the_serializer_gives_to_the_byte(kind, frames, priority, expires_at):
    frame_start, frame_end, frame_count = frames
    task = AnnotationTask(
        pk=7,
        kind=kind,
        asset_id=3,
        frame_start=frame_start,
        frame_end=frame_end,
        frame_count=frame_count,
        state=AnnotationTask.State.IN_PROGRESS,
    )
    task.priority = priority  # the queue row's, as the claim reads it (not a task column)
    lease = TaskLease(task=task, expires_at=expires_at)

    data = leased_task_data(lease)

    assert data == _serialized(lease)
    assert JSONRenderer().render(data) == JSONRenderer().render(_serialized(lease))
    assert list(data) == list(LeasedTaskSerializer().fields)


@autocommit
def test_a_claimed_lease_answers_like_the_serializer(project):
    make_tasks(project, 1)
    (user,) = make_annotators(project, 1)
    token = Token.objects.create(user=user)

    answer = APIClient().post(url(project), {}, format="json", HTTP_AUTHORIZATION=f"Token {token}")

    lease = TaskLease.objects.get(user=user)
    # The task with its queue row's priority, as the claim statement reads it.
    lease.task = AnnotationTask.objects.annotate(priority=task_priority_expression()).get(
        pk=lease.task_id
    )
    assert answer.content == JSONRenderer().render({"task": _serialized(lease)})


def _checked(body):
    """(validated exclude, None) or (None, the 400's detail), from a checker."""
    try:
        return next_task_exclude(body), None
    except serializers.ValidationError as refused:
        return None, refused.detail


def _by_serializer(body):
    checked = NextTaskInput(data=body)
    if checked.is_valid():
        return checked.validated_data["exclude"], None
    return None, checked.errors


@pytest.mark.parametrize(
    "body",
    [
        {},
        {"exclude": []},
        {"exclude": [1, 2, 2]},
        {"exclude": list(range(1, MAX_EXCLUDE + 1))},
        {"exclude": list(range(1, MAX_EXCLUDE + 2))},
        {"exclude": [2**63 - 1]},
        {"exclude": [2**63]},
        {"exclude": [0]},
        {"exclude": [-4]},
        {"exclude": [True]},
        {"exclude": [1.0]},
        {"exclude": [1.5]},
        {"exclude": ["5"]},
        {"exclude": ["x"]},
        {"exclude": [None]},
        {"exclude": "1"},
        {"exclude": None},
        {"exclude": {"1": 1}},
        {"exclude": [1], "other": "ignored"},
        {"other": "ignored"},
        [],
        [1, 2],
        "text",
        QueryDict("exclude=1&exclude=2"),
        QueryDict("exclude=x"),
    ],
)
def test_a_body_is_checked_as_the_serializer_checks_it(body):
    assert _checked(body) == _by_serializer(body)


@autocommit
def test_a_refused_exclude_is_the_serializers_400(project):
    (user,) = make_annotators(project, 1)
    token = Token.objects.create(user=user)
    answer = APIClient().post(
        url(project), {"exclude": [0, "x"]}, format="json", HTTP_AUTHORIZATION=f"Token {token}"
    )
    assert answer.status_code == 400
    _, errors = _by_serializer({"exclude": [0, "x"]})
    assert answer.json()["exclude"] == {str(k): v for k, v in errors["exclude"].items()}


@autocommit
def test_the_token_statement_reads_the_roles_so_no_request_reads_them_again(project):
    make_tasks(project, 1)
    (user,) = make_annotators(project, 1)
    token = Token.objects.create(user=user)

    with CaptureQueriesContext(connection) as queries:
        answer = APIClient().post(
            url(project), {}, format="json", HTTP_AUTHORIZATION=f"Token {token}"
        )

    assert answer.status_code == 200
    membership_reads = [q["sql"] for q in queries if "annotate_membership" in q["sql"]]
    assert len(membership_reads) == 1
    assert "authtoken_token" in membership_reads[0]


@autocommit
def test_roles_read_with_the_token_hold_for_one_request_only(project, other_project):
    make_tasks(project, 2)
    (user,) = make_annotators(project, 1)
    token = Token.objects.create(user=user)
    client = APIClient()

    def post():
        return client.post(url(project), {}, format="json", HTTP_AUTHORIZATION=f"Token {token}")

    assert post().status_code == 200
    Membership.objects.filter(user=user, project=project).update(role=Membership.Role.REVIEWER)
    assert post().status_code == 403  # a reviewer may not take tasks
    Membership.objects.filter(user=user, project=project).delete()
    Membership.objects.create(user=user, project=other_project, role=Membership.Role.ANNOTATOR)
    assert post().status_code == 404  # not in the project any more
    Membership.objects.create(user=user, project=project, role=Membership.Role.ANNOTATOR)
    assert post().status_code == 200


@autocommit
def test_a_deleted_token_is_refused_on_the_next_request(project):
    make_tasks(project, 2)
    (user,) = make_annotators(project, 1)
    token = Token.objects.create(user=user)
    client = APIClient()
    headers = {"HTTP_AUTHORIZATION": f"Token {token}"}

    assert client.post(url(project), {}, format="json", **headers).status_code == 200
    token.delete()
    refused = client.post(url(project), {}, format="json", **headers)

    assert refused.status_code == 403  # session authentication first: see test_queue_fast_claim
    assert refused.json() == {"detail": "Invalid token."}


@autocommit
def test_a_user_without_memberships_authenticates_and_is_not_found(project):
    make_tasks(project, 1)
    from django.contrib.auth.models import User

    loner = User.objects.create(username="loner")
    token = Token.objects.create(user=loner)
    answer = APIClient().post(url(project), {}, format="json", HTTP_AUTHORIZATION=f"Token {token}")
    assert answer.status_code == 404
