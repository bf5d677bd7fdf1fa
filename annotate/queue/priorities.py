"""Queue order: the priorities that activelearn computes, written onto the tasks.

activelearn never touches leases or task states; this is the one service it calls to put
its scores to work. The claim (annotate.queue.claim) orders by these priorities.

Tasks drawn for the random audit are left alone: annotate.queue.audit parks their priority
below every score, so that the ranked claim, which steps over them, never meets them first.
"""

from __future__ import annotations

import math
from collections.abc import Iterable

from django.db import connection

from annotate.models import AnnotationTask, Project

# Big chunks: each UPDATE touches pages all over the two priority-ordered indexes, so fewer,
# larger statements dirty them fewer times (benchmarks/README.md); a chunk's rows stay
# locked for its few seconds, which claims skip and heartbeats wait out.
PRIORITY_CHUNK = 50_000
TASK = AnnotationTask._meta.db_table


def priorities_write_bulk(
    *, project: Project | int, priorities: Iterable[tuple[int, float]], chunk_size: int = 0
) -> int:
    """Set many tasks' priorities: one UPDATE statement per chunk, never a query per row.
    Rows whose priority does not change are not written, so the cost follows the change.
    Tasks of other projects, and audit tasks (parked: see the module), are left alone.
    Each chunk commits on its own (unless called inside a transaction), so claims are never
    held up by a long rerank. Returns rows changed."""
    project_id = project.pk if isinstance(project, Project) else int(project)
    chunk_size = chunk_size or PRIORITY_CHUNK
    changed = 0
    chunk: list[tuple[int, float]] = []

    def flush() -> int:
        ids = [int(task_id) for task_id, _ in chunk]
        values = [float(priority) for _, priority in chunk]
        if not all(map(math.isfinite, values)):
            raise ValueError("priorities must be finite numbers")
        with connection.cursor() as cursor:
            cursor.execute(
                f"UPDATE {TASK} AS t SET priority = v.priority "  # noqa: S608
                "FROM unnest(%s::bigint[], %s::double precision[]) AS v(id, priority) "
                "WHERE t.id = v.id AND t.project_id = %s AND t.audit_drawn_at IS NULL "
                "AND t.priority IS DISTINCT FROM v.priority",
                [ids, values, project_id],
            )
            return cursor.rowcount

    for item in priorities:
        chunk.append(item)
        if len(chunk) >= chunk_size:
            changed += flush()
            chunk = []
    if chunk:
        changed += flush()
    return changed
