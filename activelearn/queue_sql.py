"""The statements of the claim's hot path, written as SQL once.

Building these queries through the ORM cost more CPU per request than the database spent
running them (benchmarks/README.md), and next-task is the busiest endpoint. Each
function is one statement; activelearn.queue decides what they mean.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from decimal import Decimal

from django.db import connection

from activelearn.models import BudgetLedger, LearningSettings, TaskLease
from annotate.models import AnnotationTask, Budget

TASK = AnnotationTask._meta.db_table
LEASE = TaskLease._meta.db_table
LEDGER = BudgetLedger._meta.db_table
# What the claim and the labeling page need of a task, in the model's field order (from_db
# wants that order).
_NEEDED = {"id", "project_id", "asset_id", "kind", "frame_start", "frame_end", "frame_count",
           "state", "priority", "lease_user_id", "annotator_id"}  # fmt: skip
TASK_COLUMNS = tuple(
    field.attname for field in AnnotationTask._meta.concrete_fields if field.attname in _NEEDED
)
_SELECT_TASK = ", ".join(f"t.{column}" for column in TASK_COLUMNS)


def _task(row) -> AnnotationTask:
    return AnnotationTask.from_db(connection.alias, TASK_COLUMNS, row)


def expired_lease_exists(now: dt.datetime) -> bool:
    """Served by the partial index of active leases by expiry: cheap when none expired."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT 1 FROM {LEASE} WHERE state = 'active' AND expires_at < %s LIMIT 1",  # noqa: S608
            [now],
        )
        return cursor.fetchone() is not None


def held_leases(*, user_id: int, project_id: int) -> list[TaskLease]:
    """The user's active leases in the project, oldest first, each with its task."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.id, l.slot, l.expires_at, {_SELECT_TASK} FROM {LEASE} l"  # noqa: S608
            f" JOIN {TASK} t ON t.id = l.task_id"
            " WHERE l.user_id = %s AND l.state = 'active' AND t.project_id = %s"
            " ORDER BY l.claimed_at, l.id",
            [user_id, project_id],
        )
        rows = cursor.fetchall()
    leases = []
    for lease_id, slot, expires_at, *task_row in rows:
        task = _task(task_row)
        lease = TaskLease(
            id=lease_id,
            task=task,
            user_id=user_id,
            slot=slot,
            state=TaskLease.State.ACTIVE,
            expires_at=expires_at,
        )
        leases.append(lease)
    return leases


def candidates(
    *,
    project_id: int,
    state: str,
    user_id: int,
    exclude: Iterable[int],
    exclude_mine: bool,
    limit: int,
    lock: str,
) -> list[AnnotationTask]:
    """Tasks of the project in `state`, best first. state "rejected" means the user's own
    rejected tasks; `exclude_mine` leaves out tasks the user already has a slot of (k > 1).
    lock: "skip" (FOR UPDATE SKIP LOCKED) or "wait" (FOR UPDATE)."""
    where = ["t.project_id = %s", "t.state = %s"]
    params: list = [project_id, state]
    if state == AnnotationTask.State.REJECTED:
        where.append("t.annotator_id = %s")
        params.append(user_id)
    exclude = sorted(exclude)
    if exclude:
        where.append(f"t.id NOT IN ({', '.join(['%s'] * len(exclude))})")
        params += exclude
    if exclude_mine:
        where.append(
            f"NOT EXISTS (SELECT 1 FROM {LEASE} l WHERE l.task_id = t.id AND l.user_id = %s"  # noqa: S608
            " AND l.state IN ('active', 'submitted'))"
        )
        params.append(user_id)
    sql = (
        f"SELECT {_SELECT_TASK} FROM {TASK} t WHERE {' AND '.join(where)}"  # noqa: S608
        f" ORDER BY t.priority DESC, t.id LIMIT {int(limit)}"
    )
    sql += " FOR UPDATE SKIP LOCKED" if lock == "skip" else " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [_task(row) for row in cursor.fetchall()]


def task_move(*, task_id: int, from_state: str, changes: dict) -> bool:
    """Compare-and-set: apply `changes` only if the task is still in `from_state`."""
    columns = ", ".join(f"{column} = %s" for column in changes)
    values = list(changes.values())
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {TASK} SET {columns} WHERE id = %s AND state = %s",  # noqa: S608
            [*values, task_id, from_state],
        )
        return cursor.rowcount == 1


def ledger_add(
    *, project_id: int, cost: Decimal, task_limit: int | None, money_cap: Decimal | None
) -> bool:
    """One more unit of `cost` on the ledger, only if it stays within the limits. The check
    is part of the UPDATE, so racing claims are judged one after another against the row as
    the previous one left it."""
    where, params = ["project_id = %s"], [project_id]
    if task_limit is not None:
        where.append("units < %s")
        params.append(task_limit)
    if money_cap is not None:
        where.append("money <= %s")
        params.append(money_cap - cost)
    with connection.cursor() as cursor:
        cursor.execute(
            f"UPDATE {LEDGER} SET units = units + 1, money = money + %s"  # noqa: S608
            f" WHERE {' AND '.join(where)}",
            [cost, *params],
        )
        return cursor.rowcount == 1


def lease_upsert(
    *,
    task_id: int,
    user_id: int,
    slot: int,
    expires_at: dt.datetime,
    charged: Decimal,
    now: dt.datetime,
) -> int:
    """A new active lease, reusing the user's earlier (expired or released) row for the
    task. Returns its id."""
    sql = (
        f"INSERT INTO {LEASE} (task_id, user_id, slot, state, expires_at, charged, claimed_at,"  # noqa: S608
        " submitted_at) VALUES (%s, %s, %s, 'active', %s, %s, %s, NULL)"
        " ON CONFLICT (task_id, user_id) DO UPDATE SET slot = excluded.slot,"
        " state = excluded.state, expires_at = excluded.expires_at, charged = excluded.charged,"
        " claimed_at = excluded.claimed_at, submitted_at = NULL"
    )
    params = [task_id, user_id, slot, expires_at, charged, now]
    with connection.cursor() as cursor:
        if connection.features.can_return_columns_from_insert:
            cursor.execute(sql + " RETURNING id", params)
            return cursor.fetchone()[0]
        cursor.execute(sql, params)
        cursor.execute(
            f"SELECT id FROM {LEASE} WHERE task_id = %s AND user_id = %s",  # noqa: S608
            [task_id, user_id],
        )
        return cursor.fetchone()[0]


SETTINGS = LearningSettings._meta.db_table
BUDGET = Budget._meta.db_table
_DEFAULT_LEASE_MINUTES = LearningSettings._meta.get_field("lease_minutes").default
FAST_CLAIM_COLUMNS = ("lease_id", "expires_at", "id", "kind", "asset_id", "frame_start",
                      "frame_end", "frame_count", "state", "priority")  # fmt: skip

# The whole common claim as one statement (so one round trip, and, in autocommit, its own
# transaction): a project with one annotator per task and a budget without limits, a user
# holding nothing there and with no rejected task to redo, and no expired lease anywhere
# waiting to be swept. Under those conditions it does what task_claim_next's general path
# does, in the same lock order (task row, lease row, ledger row): the best pending task not
# locked by another claim, moved to in_progress under a compare-and-set on its state, a lease
# row (reusing the user's earlier one for that task), and one unit on the ledger if the
# project still has one from an earlier limit. When any condition fails it changes nothing
# and returns no row; the caller then takes the general path.
_FAST_CLAIM = f"""
WITH conf AS (
    SELECT COALESCE(s.annotators_per_task, 1) AS k,
           COALESCE(s.lease_minutes, %(default_minutes)s) AS minutes,
           b.id AS budget_id, b.cost_per_image, b.cost_per_video_frame
    FROM (SELECT 1) AS one
    LEFT JOIN {SETTINGS} s ON s.project_id = %(project)s
    LEFT JOIN {BUDGET} b ON b.project_id = %(project)s
    WHERE b.money_limit IS NULL AND b.task_limit IS NULL
), pick AS (
    SELECT t.id FROM {TASK} t, conf
    WHERE t.project_id = %(project)s AND t.state = 'pending' AND conf.k = 1
      AND t.id <> ALL(%(exclude)s::bigint[])
      AND NOT EXISTS (SELECT 1 FROM {LEASE} l WHERE l.state = 'active'
                      AND l.expires_at < %(now)s)
      AND NOT EXISTS (SELECT 1 FROM {LEASE} l JOIN {TASK} h ON h.id = l.task_id
                      WHERE l.user_id = %(user)s AND l.state = 'active'
                      AND h.project_id = %(project)s)
      AND NOT EXISTS (SELECT 1 FROM {TASK} r WHERE r.project_id = %(project)s
                      AND r.state = 'rejected' AND r.annotator_id = %(user)s)
    ORDER BY t.priority DESC, t.id
    LIMIT 1
    FOR UPDATE OF t SKIP LOCKED
), moved AS (
    UPDATE {TASK} t SET state = 'in_progress', lease_user_id = %(user)s,
        lease_expires_at = %(now)s + make_interval(mins => conf.minutes), updated_at = %(now)s
    FROM pick, conf
    WHERE t.id = pick.id AND t.state = 'pending'
    RETURNING t.id, t.kind, t.asset_id, t.frame_start, t.frame_end, t.frame_count, t.state,
        t.priority, t.lease_expires_at,
        CASE WHEN conf.budget_id IS NULL THEN 0
             WHEN t.kind = %(video)s THEN conf.cost_per_video_frame * t.frame_count
             ELSE conf.cost_per_image END AS cost
), leased AS (
    INSERT INTO {LEASE} (task_id, user_id, slot, state, expires_at, charged, claimed_at,
        submitted_at)
    SELECT id, %(user)s, 0, 'active', lease_expires_at, cost, %(now)s, NULL FROM moved
    ON CONFLICT (task_id, user_id) DO UPDATE SET slot = excluded.slot,
        state = excluded.state, expires_at = excluded.expires_at, charged = excluded.charged,
        claimed_at = excluded.claimed_at, submitted_at = NULL
    RETURNING id, expires_at, charged
), ledger AS (
    UPDATE {LEDGER} SET units = units + 1, money = money + leased.charged
    FROM leased WHERE project_id = %(project)s
)
SELECT leased.id, leased.expires_at, moved.id, moved.kind, moved.asset_id, moved.frame_start,
    moved.frame_end, moved.frame_count, moved.state, moved.priority
FROM leased, moved
"""  # noqa: S608


def claim_fast(
    *, project_id: int, user_id: int, exclude: Iterable[int], now: dt.datetime
) -> tuple | None:
    """The common claim in one statement on PostgreSQL (see _FAST_CLAIM), as a row of
    FAST_CLAIM_COLUMNS, or None when the general path must decide. Run it outside a
    transaction: in autocommit it is its own."""
    params = {
        "project": project_id,
        "user": user_id,
        "exclude": [int(pk) for pk in exclude],
        "now": now,
        "default_minutes": _DEFAULT_LEASE_MINUTES,
        "video": AnnotationTask.Kind.VIDEO.value,
    }
    with connection.cursor() as cursor:
        cursor.execute(_FAST_CLAIM, params)
        return cursor.fetchone()
