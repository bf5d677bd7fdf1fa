"""Keeping the head of the queue's index short.

A claim takes the best queued task: the first live entry of its generation's priority index
(annotate.queue.priorities). Every task claimed leaves a dead entry at that head (its queue
row is updated to queued = false); scans mark such entries as they pass, but every later
claim still steps over all of them until VACUUM removes them. PostgreSQL's autovacuum waits
for a fifth of a table to be dead, 200,000 claims in a generation of a million tasks: after
about 50,000 claims each claim read 175 index pages to find its task (benchmarks/README.md,
issue 16). This periodic job (config/celery.py) vacuums a generation once QUEUE_VACUUM_DEAD of
its rows are dead, so a claim steps over at most about that many.
"""

from __future__ import annotations

from django.db import connection

from .priorities import QUEUE

QUEUE_VACUUM_DEAD = 5_000


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
