"""The random audit share: a uniform sample of the pool that the ranking never orders.

A *batch* is the set of pending tasks that one scoring run ranks. When a run finishes, the
loop calls `audit_draw`: the tasks the previous batch drew that are still pending go back to
the ranked queue, and a fresh share of the pending pool is drawn uniformly at random,
ceil(share x pool) tasks (a hash of the task ids seeded by the run orders the pool; the first
ones are taken), each with its place in a random claim order (`audit_order`).

The claim (annotate.queue.sql._best) keeps the audit tasks out of the ranked queue: a claim
takes one of them, in audit order, when its uniform draw (claim.audit_draw) falls under the
share, and otherwise the highest-priority other task; each queue is the other's fallback
when it has nothing free. So audit tasks are interleaved at their share of claims whatever
their scores, and the audit tasks that get labeled are a uniform random subset of those
drawn, hence a uniform sample of the pool they were drawn from. The share holds per claim
in expectation (over n claims the audit count is binomial(n, share)): no counter is shared
between claims, so annotators never queue behind one another for it.

An audit task's priority is parked below every score (AUDIT_PRIORITY, less its place in the
audit order), and re-ranks leave it there (annotate.queue.priorities): the queue's row of an
audit task is not `queued`, so the ranked claim never meets it; the parked priority keeps
it at the far end of every list ordered by priority. When the next batch gives them back,
the caller says what priority each gets (its score under the new run).

A drawn task keeps its mark once claimed: the labeled audit tasks are the project's audit
sample (activelearn.audit measures the model on them; the built-in baseline never trains on
them). Skipped ones keep it too: they are the sample's non-response, and are counted.
"""

from __future__ import annotations

import datetime as dt
import math
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass

from django.db import connection, transaction
from django.utils import timezone

from annotate.models import AnnotationTask

from .priorities import (
    BULK_SQL,
    LOCK_CLASS,
    queue_changes_apply,
    queue_rows_set,
)
from .settings import queue_settings_for

TASK = AnnotationTask._meta.db_table
# Below any score a strategy gives (they are in [0, 1] or small multiples of it).
AUDIT_PRIORITY = -1.0e12
# A released task the caller has no priority for goes below the scored ones, above audit.
UNSCORED_PRIORITY = 0.0

_HELD = (
    f"SELECT id FROM {TASK} WHERE project_id = %(project)s AND state = 'pending'"  # noqa: S608
    " AND audit_drawn_at IS NOT NULL ORDER BY id FOR UPDATE"
)
_RELEASE = f"""
UPDATE {TASK} AS t SET audit_drawn_at = NULL, audit_order = NULL
WHERE t.id = ANY(%(ids)s) AND t.project_id = %(project)s
"""  # noqa: S608
_POOL = f"SELECT count(*) FROM {TASK} WHERE project_id = %(project)s AND state = 'pending'"  # noqa: S608
# hashtextextended(text, seed) is PostgreSQL's seeded 64-bit hash: ordering by it is a
# random permutation of the pool, the same one for the same seed (a finish run twice draws
# the same tasks).
_DRAW = f"""
WITH picked AS (
    SELECT id, row_number() OVER (ORDER BY h, id) AS place
    FROM (SELECT id, hashtextextended(id::text, %(seed)s) AS h FROM {TASK}
          WHERE project_id = %(project)s AND state = 'pending') AS pool
    ORDER BY h, id
    LIMIT %(count)s
)
UPDATE {TASK} AS t SET audit_drawn_at = %(now)s, audit_order = picked.place
FROM picked WHERE t.id = picked.id
RETURNING t.id, picked.place
"""  # noqa: S608

PrioritiesOf = Callable[[list[int]], Mapping[int, float]]


@dataclass(frozen=True)
class AuditDraw:
    """What one batch's draw did."""

    pool: int  # pending tasks in the batch
    drawn: int  # of them, drawn for the audit
    released: int  # tasks of the previous draw still pending, back in the ranked queue
    share: float
    drawn_at: dt.datetime


def audit_count(*, pool: int, share: float) -> int:
    """How many tasks a batch of `pool` draws: the share rounded up, so that a small pool
    still holds the audit tasks its claims will ask for (a claim asks with probability
    `share`). The tolerance keeps 0.1 x 30 at 3, not 4."""
    if pool <= 0 or share <= 0:
        return 0
    return min(pool, math.ceil(share * pool - 1e-9))


def _no_scores(ids: Iterable[int]) -> Mapping[int, float]:
    return {}


def audit_draw(
    *,
    project_id: int,
    seed: int,
    share: float | None = None,
    now: dt.datetime | None = None,
    priorities_of: PrioritiesOf = _no_scores,
) -> AuditDraw:
    """Draw a new batch's audit sample: give the previous draw's pending tasks back to the
    ranked queue, each at the priority `priorities_of(ids)` names (UNSCORED_PRIORITY when it
    names none), then mark `audit_count` pending tasks, uniformly at random (seeded by
    `seed`, the scoring run), with their claim order and their parked priority. `share`
    defaults to the project's queue setting. One transaction: claims meanwhile skip the rows
    it changes (SKIP LOCKED) and take others."""
    if share is None:
        share = queue_settings_for(project_id).audit_share
    now = now or timezone.now()
    params = {"project": project_id, "seed": int(seed), "now": now, "parked": AUDIT_PRIORITY}
    with transaction.atomic(), connection.cursor() as cursor:
        # Not into a generation of the queue that a full re-rank is replacing.
        cursor.execute("SELECT pg_advisory_xact_lock_shared(%s, %s)", [LOCK_CLASS, project_id])
        cursor.execute(BULK_SQL)
        cursor.execute(_HELD, params)
        held = [row[0] for row in cursor.fetchall()]
        released = 0
        if held:
            given = priorities_of(held)
            values = [float(given.get(task_id, UNSCORED_PRIORITY)) for task_id in held]
            if not all(map(math.isfinite, values)):
                raise ValueError("priorities must be finite numbers")
            cursor.execute(_RELEASE, {**params, "ids": held})
            released = cursor.rowcount
            queue_rows_set(cursor, project_id=project_id, ids=held, values=values)
        cursor.execute(_POOL, params)
        pool = cursor.fetchone()[0]
        count = audit_count(pool=pool, share=share)
        drawn = 0
        if count:
            cursor.execute(_DRAW, {**params, "count": count})
            parked = cursor.fetchall()
            drawn = len(parked)
            queue_rows_set(
                cursor,
                project_id=project_id,
                ids=[task_id for task_id, _ in parked],
                values=[AUDIT_PRIORITY - place for _, place in parked],
            )
    queue_changes_apply(project=project_id)
    return AuditDraw(pool=pool, drawn=drawn, released=released, share=share, drawn_at=now)
