"""The statements of the claim, written as SQL once.

Building these queries through the ORM cost more CPU per request than the database spent
running them (benchmarks/README.md), and next-task is the busiest endpoint. Each function
is one statement; annotate.queue.claim decides what they mean.
"""

from __future__ import annotations

import datetime as dt
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection

from annotate.models import AnnotationTask, Budget, BudgetLedger, TaskLease

from .settings import DEFAULT_ANNOTATORS_PER_TASK, DEFAULT_LEASE_MINUTES, queue_settings_source

TASK = AnnotationTask._meta.db_table
LEASE = TaskLease._meta.db_table
LEDGER = BudgetLedger._meta.db_table
BUDGET = Budget._meta.db_table
# What the claim and the labeling page need of a task, in the model's field order (from_db
# wants that order).
_NEEDED = {"id", "project_id", "asset_id", "kind", "frame_start", "frame_end", "frame_count",
           "state", "priority", "lease_user_id", "annotator_id"}  # fmt: skip
TASK_COLUMNS = tuple(
    field.attname for field in AnnotationTask._meta.concrete_fields if field.attname in _NEEDED
)
_SELECT_TASK = ", ".join(f"t.{column}" for column in TASK_COLUMNS)
_BUDGET_COLUMNS = ("id", "money_limit", "task_limit", "cost_per_image", "cost_per_video_frame",
                   "label_share", "currency")  # fmt: skip


def _task(row) -> AnnotationTask:
    return AnnotationTask.from_db(connection.alias, TASK_COLUMNS, row)


@dataclass(frozen=True)
class ClaimContext:
    """What a claim must know before it looks for a task, read in one statement."""

    annotators_per_task: int
    lease_minutes: int
    budget: Budget | None
    ledger_exists: bool
    held: int  # the user's active leases in the project
    has_rework: bool  # a rejected task of the user waits in the project
    expired_leases: bool  # some lease anywhere expired and waits for the sweep


def claim_context(*, project_id: int, user_id: int, now: dt.datetime) -> ClaimContext:
    """The project's queue settings and budget, and the user's situation in it."""
    source = queue_settings_source()
    if source is None:
        settings_sql = "SELECT NULL::int AS k, NULL::int AS minutes"
    else:
        settings_sql = (
            "SELECT annotators_per_task AS k, lease_minutes AS minutes"  # noqa: S608
            f" FROM {source._meta.db_table} WHERE project_id = %(project)s"
        )
    budget = ", ".join(f"b.{column}" for column in _BUDGET_COLUMNS)
    statement = f"""
        SELECT s.k, s.minutes, {budget},
            EXISTS (SELECT 1 FROM {LEDGER} WHERE project_id = %(project)s),
            (SELECT count(*) FROM {LEASE} l JOIN {TASK} h ON h.id = l.task_id
             WHERE l.user_id = %(user)s AND l.state = 'active' AND h.project_id = %(project)s),
            EXISTS (SELECT 1 FROM {TASK} r WHERE r.project_id = %(project)s
                    AND r.state = 'rejected' AND r.annotator_id = %(user)s),
            EXISTS (SELECT 1 FROM {LEASE} WHERE state = 'active' AND expires_at < %(now)s)
        FROM (SELECT 1) AS one
        LEFT JOIN ({settings_sql}) AS s ON TRUE
        LEFT JOIN {BUDGET} b ON b.project_id = %(project)s
    """  # noqa: S608
    with connection.cursor() as cursor:
        cursor.execute(statement, {"project": project_id, "user": user_id, "now": now})
        k, minutes, *row = cursor.fetchone()
    budget_row, (ledger_exists, held, has_rework, expired) = row[:-4], row[-4:]
    budget = None
    if budget_row[0] is not None:
        fields = dict(zip(_BUDGET_COLUMNS, budget_row, strict=True))
        budget = Budget(project_id=project_id, **fields)
    return ClaimContext(
        annotators_per_task=k or DEFAULT_ANNOTATORS_PER_TASK,
        lease_minutes=minutes or DEFAULT_LEASE_MINUTES,
        budget=budget,
        ledger_exists=ledger_exists,
        held=held,
        has_rework=has_rework,
        expired_leases=expired,
    )


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
    return [
        TaskLease(
            id=lease_id,
            task=_task(task_row),
            user_id=user_id,
            slot=slot,
            state=TaskLease.State.ACTIVE,
            expires_at=expires_at,
        )
        for lease_id, slot, expires_at, *task_row in rows
    ]


def candidates(
    *,
    project_id: int,
    state: str,
    user_id: int,
    exclude: Iterable[int],
    exclude_mine: bool,
    lock: str,
) -> AnnotationTask | None:
    """The best task of the project in `state`, locked: state "rejected" means the user's
    own rejected tasks; `exclude_mine` leaves out tasks the user already has a slot of
    (k > 1). lock: "skip" (FOR UPDATE SKIP LOCKED) or "wait" (FOR UPDATE)."""
    where = ["t.project_id = %s", "t.state = %s", "t.id <> ALL(%s::bigint[])"]
    params: list = [project_id, state, sorted(exclude)]
    if state == AnnotationTask.State.REJECTED:
        where.append("t.annotator_id = %s")
        params.append(user_id)
    if exclude_mine:
        where.append(
            f"NOT EXISTS (SELECT 1 FROM {LEASE} l WHERE l.task_id = t.id AND l.user_id = %s"  # noqa: S608
            " AND l.state IN ('active', 'submitted'))"
        )
        params.append(user_id)
    sql = (
        f"SELECT {_SELECT_TASK} FROM {TASK} t WHERE {' AND '.join(where)}"  # noqa: S608
        " ORDER BY t.priority DESC, t.id LIMIT 1"
    )
    sql += " FOR UPDATE SKIP LOCKED" if lock == "skip" else " FOR UPDATE"
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        row = cursor.fetchone()
    return None if row is None else _task(row)


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
    with connection.cursor() as cursor:
        cursor.execute(
            f"INSERT INTO {LEASE} (task_id, user_id, slot, state, expires_at, charged,"  # noqa: S608
            " claimed_at, submitted_at) VALUES (%s, %s, %s, 'active', %s, %s, %s, NULL)"
            " ON CONFLICT (task_id, user_id) DO UPDATE SET slot = excluded.slot,"
            " state = excluded.state, expires_at = excluded.expires_at,"
            " charged = excluded.charged, claimed_at = excluded.claimed_at, submitted_at = NULL"
            " RETURNING id",
            [task_id, user_id, slot, expires_at, charged, now],
        )
        return cursor.fetchone()[0]
