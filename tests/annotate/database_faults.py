"""Helpers for the database fault tests: end a connection from another one, as a restart of
PostgreSQL or an administrator would (pg_terminate_backend), at a chosen point."""

from __future__ import annotations

import functools
from collections.abc import Callable

import psycopg
from django.db import connection

from tests.conftest import _database_url

# pg_terminate_backend waits this long (ms) for the backend to be gone, so the next query
# of the victim fails for certain instead of racing the signal.
TERMINATE_WAIT_MS = 5000


def other_connection() -> psycopg.Connection:
    return psycopg.connect(_database_url(connection.settings_dict), autocommit=True)


def terminate(pids: list[int]) -> int:
    """End these backends from another connection; returns how many were ended."""
    with other_connection() as other:
        ended = [
            other.execute(
                "SELECT pg_terminate_backend(%s, %s)", [pid, TERMINATE_WAIT_MS]
            ).fetchone()[0]
            for pid in pids
        ]
    return sum(bool(done) for done in ended)


def terminate_this_connection() -> None:
    """End the calling thread's own database connection (its next query fails)."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        pid = cursor.fetchone()[0]
    assert terminate([pid]) == 1


def terminate_others_on_this_database() -> int:
    """End every other session on the test database (a worker's, its heartbeat's)."""
    with other_connection() as other:
        pids = [
            row[0]
            for row in other.execute(
                "SELECT pid FROM pg_stat_activity WHERE datname = current_database()"
                " AND pid <> pg_backend_pid() AND backend_type = 'client backend'"
            ).fetchall()
        ]
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_backend_pid()")
        mine = cursor.fetchone()[0]
    return terminate([pid for pid in pids if pid != mine])


def terminated_once(function: Callable) -> Callable:
    """`function`, whose first call ends the caller's connection before running it, so the
    work it starts meets a connection that is gone. Counts its calls in `.calls`."""

    @functools.wraps(function)
    def wrapper(*args, **kwargs):
        wrapper.calls += 1
        if wrapper.calls == 1:
            terminate_this_connection()
        return function(*args, **kwargs)

    wrapper.calls = 0
    return wrapper
