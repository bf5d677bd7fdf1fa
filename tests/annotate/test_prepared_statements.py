"""The statements every next-task request runs are prepared on the server once per connection
(annotate.prepared): the token read and the claim, which also reads the project's gold share,
so a claim in a project without gold is one statement after the token's. That gold is
still served first at its share: tests/annotate/test_quality_gold.py."""

from __future__ import annotations

import pytest
from django.db import connection
from django.test.utils import CaptureQueriesContext
from rest_framework.authtoken.models import Token
from rest_framework.test import APIClient

from annotate import prepared
from annotate.auth import _SQL as TOKEN_SQL

from .queue_fixtures import make_annotators, make_tasks

autocommit = pytest.mark.django_db(transaction=True)


def test_named_placeholders_become_numbered_ones_in_first_use_order():
    native, names = prepared._native("SELECT %(b)s, %(a)s, %(b)s WHERE x LIKE 'a%%'")
    assert native == "SELECT $1, $2, $1 WHERE x LIKE 'a%'"
    assert names == ("b", "a")


def test_positional_placeholders_are_numbered_in_order():
    assert prepared._native("SELECT %s, %s") == ("SELECT $1, $2", None)


def test_a_statement_mixing_both_styles_is_refused():
    with pytest.raises(ValueError, match="mixes"):
        prepared._native("SELECT %s, %(a)s")


@autocommit
def test_rows_come_back_with_parameters_bound_by_name_or_position():
    assert prepared.fetchone("SELECT %(a)s::int + %(b)s::int, %(a)s::int", {"a": 2, "b": 5}) == (
        7,
        2,
    )
    assert prepared.fetchone("SELECT %s::text || %s::text", ["x", "y"]) == ("xy",)
    assert prepared.fetchone("SELECT 1 WHERE %s::bool", [False]) is None


def _prepared_on_server() -> list[str]:
    with connection.cursor() as cursor:
        cursor.execute("SELECT statement FROM pg_prepared_statements")
        return [row[0] for row in cursor.fetchall()]


def _next(project, token):
    return APIClient().post(
        f"/api/projects/{project.pk}/tasks/next/",
        {},
        format="json",
        HTTP_AUTHORIZATION=f"Token {token}",
    )


@autocommit
def test_next_task_sends_the_token_read_and_one_claim_statement_both_prepared(project):
    make_tasks(project, 2)
    users = make_annotators(project, 2)
    tokens = [Token.objects.create(user=user) for user in users]
    assert _next(project, tokens[0]).status_code == 200

    with CaptureQueriesContext(connection) as queries:
        answer = _next(project, tokens[1])

    assert answer.status_code == 200 and answer.json()["task"] is not None
    sent = [q["sql"] for q in queries]
    assert len(sent) == 2, sent
    assert "authtoken_token" in sent[0]
    # The claim itself, which reads the gold share: no statement of its own for that.
    assert "activelearn_tasklease" in sent[1] and "annotate_qualitysettings" in sent[1]
    on_server = _prepared_on_server()
    token_native, _ = prepared._native(TOKEN_SQL)
    assert token_native in on_server
    assert any("activelearn_tasklease" in statement for statement in on_server)


_TYPES = {
    "audit_draw": "float8",
    "task": "bigint",
    "project": "bigint",
    "state": "text",
    "user": "int",
    "exclude": "bigint[]",
    "exclude_mine": "bool",
    "now": "timestamptz",
    "plain_only": "bool",
    "gold_checked": "bool",
    "expiry_checked": "bool",
}


@pytest.mark.django_db
def test_the_claims_generic_plan_never_reads_every_lease(project):
    """The claim's plan is made once and kept (generic), so no part of it may depend on the
    parameters' values to stay small: its check for expired leases scanned the whole lease
    table on every claim, and the cost of a claim grew with every lease ever held."""
    from annotate.queue import sql

    tasks = make_tasks(project, 1)
    (user,) = make_annotators(project, 1)
    with connection.cursor() as cursor:
        # Many active leases, none expired, each of its own task and user (their tasks
        # are not pending: for the plan only).
        cursor.execute(
            "INSERT INTO annotate_annotationtask (project_id, asset_id, kind, frame_count,"
            " state, skip_reason, points_by_hand, points_prefilled, boxes_by_hand,"
            " boxes_prefilled, is_gold, created_at, updated_at)"
            " SELECT %s, %s, 'image', 1, 'in_progress', '', 0, 0, 0, 0, false, now(), now()"
            " FROM generate_series(1, 20000)",
            [project.pk, tasks[0].asset_id],
        )
        cursor.execute(
            "INSERT INTO auth_user (username, password, first_name, last_name, email,"
            " is_staff, is_active, is_superuser, date_joined)"
            " SELECT 'lease' || g, '!', '', '', '', false, true, false, now()"
            " FROM generate_series(1, 20000) g"
        )
        cursor.execute(
            "INSERT INTO activelearn_tasklease (task_id, user_id, slot, state, expires_at,"
            " charged, claimed_at)"
            " SELECT t.id, u.id, 0, 'active', now() + interval '1 hour', 0, now()"
            " FROM (SELECT id, row_number() OVER (ORDER BY id) AS n FROM annotate_annotationtask"
            "       WHERE state = 'in_progress') t"
            " JOIN (SELECT id, row_number() OVER (ORDER BY id) AS n FROM auth_user"
            "       WHERE username LIKE 'lease%%') u ON u.n = t.n"
        )
        cursor.execute("ANALYZE activelearn_tasklease")
        cursor.execute("ANALYZE annotate_annotationtask")
        native, names = prepared._native(sql._statement(False, "skip"))
        types = ", ".join(_TYPES[name] for name in names)
        cursor.execute("SET LOCAL plan_cache_mode = force_generic_plan")
        cursor.execute(f"PREPARE claim_plan ({types}) AS {native}")
        values = {
            "audit_draw": "0.5",
            "task": "NULL",
            "project": str(project.pk),
            "state": "'pending'",
            "user": str(user.pk),
            "exclude": "'{}'",
            "exclude_mine": "false",
            "now": "now()",
            "plain_only": "true",
            "gold_checked": "false",
            "expiry_checked": "false",
        }
        cursor.execute(f"EXPLAIN EXECUTE claim_plan ({', '.join(values[n] for n in names)})")
        plan = "\n".join(row[0] for row in cursor.fetchall())
        cursor.execute("DEALLOCATE claim_plan")

    assert "Seq Scan on activelearn_tasklease" not in plan, plan
