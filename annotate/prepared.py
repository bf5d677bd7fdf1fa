"""Statements that every request runs, prepared on the server once per connection.

Django's cursors bind parameters on the client, so PostgreSQL parses and plans each of their
statements on every call; for the few statements of the busiest endpoints (the token read of
every API request, the claim of next-task) that cost the database more CPU than running
them (benchmarks/README.md, issue 16). These run on Django's own connection (same session,
same transaction) through psycopg's RawCursor, which takes PostgreSQL's native $1
placeholders: the statement is converted from psycopg's %(name)s or %s style once per
process here, not on every call (psycopg caches that conversion only for statements under
4 KB, and the claim is longer), and prepared on the connection's first call.

Both kinds of statement here run through Django's own cursor wrapper over psycopg's cursor,
so they are logged where Django logs queries (DEBUG, CaptureQueriesContext), refused in a
broken transaction, and raise Django's database errors, as any query does:
- `fetchone`: prepared, for the statements every request runs;
- `execute_binary`: parameters bound on the server in binary, never prepared, for large
  arrays (annotate.queue.priorities: 10,000 ids and priorities spelt out as text literals
  cost 20-25 ms to format and parse, 4 ms sent as binary).
"""

from __future__ import annotations

import functools
import re
import sys
import time
from collections.abc import Mapping, Sequence

import psycopg
from django.db import connection

_PLACEHOLDER = re.compile(r"%\((\w+)\)s|%s|%%")


@functools.cache
def _native(statement: str) -> tuple[str, tuple[str, ...] | None]:
    """The statement with $n placeholders, and the parameter names in $n order (None for a
    statement with positional %s placeholders). A name used twice is one parameter."""
    names: list[str] = []
    positional = 0

    def replace(match: re.Match) -> str:
        nonlocal positional
        if match.group(0) == "%%":
            return "%"
        name = match.group(1)
        if name is None:
            positional += 1
            return f"${positional}"
        if name not in names:
            names.append(name)
        return f"${names.index(name) + 1}"

    native = _PLACEHOLDER.sub(replace, statement)
    if names and positional:
        raise ValueError("a statement mixes named and positional placeholders")
    return native, (tuple(names) if names else None)


def _raw() -> psycopg.Connection:
    # What Django does before each of its cursors: a persistent connection found dead by the
    # health check is replaced here, before the statement (annotate.middleware).
    connection.close_if_health_check_failed()
    connection.ensure_connection()
    raw = connection.connection
    if raw.prepare_threshold is None:
        # Django turns psycopg's prepared statements off (for connection poolers without
        # protocol-level support: PgBouncer before 1.21). Only a statement that asks for it
        # (prepare=True, these) is prepared: Django's own cursors bind on the client.
        raw.prepare_threshold = sys.maxsize
        # The plan made once and kept: the claim reads the queue's current generation by
        # partition pruning at run time, which the planner's cost comparison of a generic
        # plan with custom ones does not credit, so it would plan every call
        # (benchmarks/README.md, issue 16). Only server-prepared statements are affected.
        raw.execute("SET plan_cache_mode = force_generic_plan")
        # A generic plan's estimate counts every branch at its worst, which passes the JIT
        # threshold: compiling it took seconds per call at 1,000,000 tasks. OLTP: no JIT.
        raw.execute("SET jit = off")
    return raw


class _PreparedCursor(psycopg.RawCursor):
    """A RawCursor whose statements are prepared: Django's cursor wrapper calls execute
    without psycopg's `prepare` argument."""

    def execute(self, query, params=None, *, prepare=True, binary=None):
        return super().execute(query, params, prepare=prepare, binary=binary)


def _wrapped(cursor: psycopg.Cursor):
    """Django's cursor wrapper around a psycopg cursor on its connection."""
    if connection.queries_logged:
        return connection.make_debug_cursor(cursor)
    return connection.make_cursor(cursor)


def fetchone(statement: str, params: Mapping[str, object] | Sequence[object]) -> tuple | None:
    """Run `statement` (psycopg placeholders: %(name)s with a mapping, %s with a sequence)
    as a prepared statement on Django's connection; its first row, or None."""
    native, names = _native(statement)
    values = [params[name] for name in names] if names is not None else list(params)
    started = time.monotonic()
    # Django's plain wrapper, logged here: its debug wrapper reads the statement back from
    # the psycopg cursor, which a RawCursor does not keep.
    with connection.make_cursor(_PreparedCursor(_raw())) as cursor:
        cursor.execute(native, values)
        row = cursor.fetchone()
    if connection.queries_logged:
        connection.queries_log.append(
            {"sql": f"{native} -- {values!r}", "time": f"{time.monotonic() - started:.3f}"}
        )
    return row


def execute_binary(cursor, sql: str, params: list) -> int:
    """Run `sql` (%b placeholders) on the Django cursor's connection and transaction, its
    parameters bound on the server in binary; the rows changed."""
    with _wrapped(psycopg.Cursor(cursor.cursor.connection)) as wrapped:
        wrapped.execute(sql, params)
        return wrapped.rowcount
