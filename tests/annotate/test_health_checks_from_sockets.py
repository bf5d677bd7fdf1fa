"""The persistent connection's check before a request (annotate.middleware): a connection
PostgreSQL ended between two requests is still replaced before the request's first query,
and a live one is not checked with a round trip."""

from __future__ import annotations

import pytest
from django.db import connections
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from .database_faults import terminate_this_connection
from .queue_fixtures import make_annotators, make_tasks

pytestmark = pytest.mark.django_db(transaction=True)


def _next_request_starts() -> None:
    """What Django does when a request starts under a WSGI server (request_started): the test
    client leaves it out, so the tests do it."""
    for conn in connections.all(initialized_only=True):
        conn.close_if_unusable_or_obsolete()


def _post_next(project, token):
    return APIClient().post(
        f"/api/projects/{project.pk}/tasks/next/",
        {},
        format="json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )


@pytest.fixture
def annotator_token(project):
    make_tasks(project, 3)
    (user,) = make_annotators(project, 1)
    return Token.objects.create(user=user)


@pytest.fixture
def usable_checks(monkeypatch):
    """The round-trip checks (SELECT 1) Django makes on the default connection."""
    calls = []
    default = connections["default"]
    real = default.is_usable

    def counted():
        calls.append(1)
        return real()

    monkeypatch.setattr(default, "is_usable", counted)
    return calls


def test_a_connection_ended_between_requests_is_replaced_before_the_next_one(
    project, annotator_token, usable_checks
):
    assert _post_next(project, annotator_token).status_code == 200
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        before = cursor.fetchone()[0]
    terminate_this_connection()
    _next_request_starts()

    answer = _post_next(project, annotator_token)

    # Not the 503 a request that met the dead connection would get.
    assert answer.status_code == 200, answer.content
    assert usable_checks == [1]  # the socket had something to read: Django checked
    with connections["default"].cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        assert cursor.fetchone()[0] != before


def test_a_live_connection_is_not_checked_with_a_round_trip(
    project, annotator_token, usable_checks
):
    assert _post_next(project, annotator_token).status_code == 200
    _next_request_starts()

    assert _post_next(project, annotator_token).status_code == 200

    assert usable_checks == []
