"""Keeping the head of the queue's index short.

A claim takes the best queued task: the first live entry of its generation's priority index
(annotate.queue.priorities). Every task claimed leaves a dead entry at that head (its queue
row is updated to queued = false); scans mark such entries as they pass, but every later
claim still steps over all of them until VACUUM removes them. PostgreSQL's autovacuum waits
for a fifth of a table to be dead, 200,000 claims in a generation of a million tasks: after
about 50,000 claims each claim read 175 index pages to find its task (benchmarks/README.md,
issue 16). This periodic job (config/celery.py) vacuums a generation once QUEUE_VACUUM_DEAD of
its rows are dead, so a claim steps over at most about that many.

The same job keeps the lease table's statistics in step with its growth. Every web server's
connection keeps its plan of the claim statement, and a plan made while the table was small
reads the table whole to count the user's leases and a task's free slots (a sequential scan
is the cheaper plan for a few pages). The table only grows (a lease per claim, kept as
history), so on a new installation each claim reads more rows than the last until an ANALYZE
replaces the plans; autovacuum's comes after a tenth of the table changed and its next round
(a minute). With 200 leases analyzed and 2,000 in the table, PostgreSQL's CPU per claim was
3.6 ms against 2.2 ms with the plan of the larger table (benchmarks/README.md, issue 16).
"""

from __future__ import annotations

from django.db import connection

from annotate.models import TaskLease

from .priorities import QUEUE

QUEUE_VACUUM_DEAD = 5_000
LEASE_ANALYZE_MIN = 1_000  # changes since the last ANALYZE before the table counts as grown


def queue_vacuum(*, min_dead: int = QUEUE_VACUUM_DEAD) -> list[str]:
    """VACUUM every generation of the queue's table with at least `min_dead` dead rows (by
    PostgreSQL's statistics); a generation locked by a swap is left for the next run. Returns
    the tables vacuumed. Runs in autocommit (VACUUM cannot run in a transaction)."""
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.relname FROM pg_stat_user_tables s"
            " JOIN pg_inherits i ON i.inhrelid = s.relid"
            " WHERE i.inhparent = %s::regclass AND s.n_dead_tup >= %s"
            " ORDER BY s.n_dead_tup DESC",
            [QUEUE, min_dead],
        )
        tables = [row[0] for row in cursor.fetchall()]
        for table in tables:
            name = connection.ops.quote_name(table)
            cursor.execute(f"VACUUM (INDEX_CLEANUP ON, SKIP_LOCKED) {name}")
    return tables


def lease_analyze(*, min_changes: int = LEASE_ANALYZE_MIN) -> bool:
    """ANALYZE the lease table when it has changed, since its last ANALYZE, by at least
    `min_changes` rows and by more rows than that ANALYZE counted (it grew to twice the
    size its plans were made for, or more). Returns whether it ran."""
    table = TaskLease._meta.db_table
    with connection.cursor() as cursor:
        cursor.execute(
            "SELECT s.n_mod_since_analyze > greatest(c.reltuples, 0) FROM pg_stat_user_tables s"
            " JOIN pg_class c ON c.oid = s.relid"
            " WHERE s.relid = %s::regclass AND s.n_mod_since_analyze >= %s",
            [table, min_changes],
        )
        row = cursor.fetchone()
        if row is None or not row[0]:
            return False
        cursor.execute(f"ANALYZE {connection.ops.quote_name(table)}")
    return True
