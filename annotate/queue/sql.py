"""The statements of the claim, written as SQL once.

Building these queries through the ORM cost more CPU per request than the database spent
running them (benchmarks/README.md), and next-task is the busiest endpoint. Each function
is one statement; annotate.queue.claim decides what they mean.
"""

from __future__ import annotations

import datetime as dt
import functools
from collections.abc import Iterable
from dataclasses import dataclass
from decimal import Decimal

from django.db import connection
from django.db.models import Value

from annotate import prepared
from annotate.models import (
    AnnotationTask,
    Budget,
    BudgetLedger,
    QualitySettings,
    TaskLease,
    task_cost_expression,
)

from .priorities import CURRENT_GEN_NAMED, CURRENT_GEN_SQL, QUEUE
from .settings import (
    DEFAULT_ANNOTATORS_PER_TASK,
    DEFAULT_AUDIT_SHARE,
    DEFAULT_LEASE_MINUTES,
    queue_settings_source,
)

TASK = AnnotationTask._meta.db_table
LEASE = TaskLease._meta.db_table
LEDGER = BudgetLedger._meta.db_table
BUDGET = Budget._meta.db_table
QUALITY = QualitySettings._meta.db_table
# What the claim and the labeling page need of a task, in the model's field order (from_db
# wants that order).
_NEEDED = {"id", "project_id", "asset_id", "kind", "frame_start", "frame_end", "frame_count",
           "state", "lease_user_id", "annotator_id"}  # fmt: skip
TASK_COLUMNS = tuple(
    field.attname for field in AnnotationTask._meta.concrete_fields if field.attname in _NEEDED
)
_SELECT_TASK = ", ".join(f"t.{column}" for column in TASK_COLUMNS)
_BUDGET_COLUMNS = ("id", "money_limit", "task_limit", "cost_per_image", "cost_per_video_frame",
                   "label_share", "currency")  # fmt: skip


def _task(row, priority: float | None) -> AnnotationTask:
    """A task as the claim read it, with `priority` (its queue row's; not a task column)."""
    task = AnnotationTask.from_db(connection.alias, TASK_COLUMNS, row)
    task.priority = 0.0 if priority is None else priority
    return task


@dataclass(frozen=True)
class ClaimContext:
    """What the claim statement read of the project and the user, as it started."""

    annotators_per_task: int
    lease_minutes: int
    audit_share: float
    budget: Budget | None
    ledger_exists: bool
    held: int  # the user's active leases in the project
    has_rework: bool  # a rejected task of the user waits in the project
    expired_leases: bool  # some lease anywhere expired and waits for the sweep
    gold_share: float  # the project's share of gold in each annotator's claims (0: none)
    expiry_checked: bool = False  # the caller swept (or another claim is sweeping) already

    @property
    def plain(self) -> bool:
        """Nothing stands in the way of the statement taking a task on its own: one
        annotator per task, no ledger to keep, nothing held, no rework, nothing to sweep
        (or the caller swept already: the leases left expired are others', and their tasks
        wait for the next sweep)."""
        limited = self.budget is not None and (
            self.budget.task_limit is not None or self.budget.money_limit is not None
        )
        return (
            self.annotators_per_task == 1
            and not limited
            and not self.ledger_exists
            and not self.held
            and not self.has_rework
            and (self.expiry_checked or not self.expired_leases)
        )


def held_leases(*, user_id: int, project_id: int) -> list[TaskLease]:
    """The user's active leases in the project, oldest first, each with its task."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT l.id, l.slot, l.expires_at, q.priority, {_SELECT_TASK}"  # noqa: S608
            f" FROM {LEASE} l JOIN {TASK} t ON t.id = l.task_id"
            f" LEFT JOIN {QUEUE} q ON q.task_id = t.id"
            f" AND q.gen = {CURRENT_GEN_SQL}"
            " WHERE l.user_id = %s AND l.state = 'active' AND t.project_id = %s"
            " ORDER BY l.claimed_at, l.id",
            [project_id, user_id, project_id],
        )
        rows = cursor.fetchall()
    return [
        TaskLease(
            id=lease_id,
            task=_task(task_row, priority),
            user_id=user_id,
            slot=slot,
            state=TaskLease.State.ACTIVE,
            expires_at=expires_at,
        )
        for lease_id, slot, expires_at, priority, *task_row in rows
    ]


def _best(*, lock: str, gated: bool = False, audit_first: str = "%(audit_first)s") -> str:
    """The best task of the project in %(state)s that the user may take, locked. State
    "rejected" means the user's own rejected tasks; with k > 1 tasks the user already has a
    slot of are left out. lock: "skip" (SKIP LOCKED) or "wait". `gated`: only when the
    claim statement's `go` says it may take a task (no row is locked otherwise).

    "Best" has two queues (annotate.queue.audit): the audit tasks in their random order and
    the others by priority. `audit_first` (an SQL truth value: this claim's draw fell under
    the audit share) says which is tried first; the other is the fallback when the first has
    nothing free. Each is one index scan under LIMIT 1, and the branches run in order and
    stop at the first row, so one row at most is locked."""
    where = (
        " WHERE t.project_id = %(project)s AND t.state = %(state)s"  # noqa: S608
        + (" AND EXISTS (SELECT 1 FROM go)" if gated else "")
        + " AND t.id <> ALL(%(exclude)s::bigint[])"  # noqa: S608
        # Gold tasks and their copies are served by annotate.queue.gold only.
        " AND NOT t.is_gold AND t.gold_of_id IS NULL"
        " AND (%(state)s <> 'rejected' OR t.annotator_id = %(user)s)"
        f" AND NOT (%(exclude_mine)s AND EXISTS (SELECT 1 FROM {LEASE} m"
        "   WHERE m.task_id = t.id AND m.user_id = %(user)s"
        "   AND m.state IN ('active', 'submitted')))"
    )
    locking = " FOR UPDATE OF t SKIP LOCKED" if lock == "skip" else " FOR UPDATE OF t"

    def audit(condition: str) -> str:
        return (
            f"SELECT t.id FROM {TASK} t{where}"  # noqa: S608
            f" AND t.audit_drawn_at IS NOT NULL AND {condition}"
            f" ORDER BY t.audit_order, t.id LIMIT 1{locking}"
        )

    # The ranked queue is the narrow table's current generation (annotate.queue.priorities):
    # its index holds only the tasks a claim may take, best first, so the first row whose
    # task is free is the answer; only the task row is locked. A user's rejected tasks
    # (few, not queued) are found from the task side.
    generation = CURRENT_GEN_NAMED
    pending = (
        f"SELECT t.id FROM {QUEUE} q JOIN {TASK} t ON t.id = q.task_id{where}"  # noqa: S608
        f" AND %(state)s = 'pending' AND q.project_id = %(project)s AND q.queued"
        f" AND q.gen = {generation} AND t.audit_drawn_at IS NULL"
        f" ORDER BY q.priority DESC, q.task_id LIMIT 1{locking}"
    )
    rework = (
        f"SELECT t.id FROM {TASK} t JOIN {QUEUE} q ON q.task_id = t.id"  # noqa: S608
        f" AND q.gen = {generation}{where} AND %(state)s <> 'pending' AND t.audit_drawn_at IS NULL"
        f" ORDER BY q.priority DESC, t.id LIMIT 1{locking}"
    )
    ranked = (
        f"SELECT id FROM ({pending}) AS pending"  # noqa: S608
        f" UNION ALL SELECT id FROM ({rework}) AS rework"
    )
    # PostgreSQL refuses FOR UPDATE directly under UNION: each branch is a subquery.
    return (
        f"SELECT id FROM ({audit(audit_first)}) AS audit_first"  # noqa: S608
        f" UNION ALL SELECT id FROM ({ranked}) AS ranked"
        f" UNION ALL SELECT id FROM ({audit(f'NOT {audit_first}')}) AS audit_after"
        " LIMIT 1"
    )


def lock_best(*, lock: str, **params) -> int | None:
    """Lock the best task (see _best) for this transaction; its id, or None."""
    with connection.cursor() as cursor:
        cursor.execute(_best(lock=lock), params)
        row = cursor.fetchone()
    return None if row is None else row[0]


@functools.cache
def _task_cost_sql() -> str:
    """annotate.models.task_cost_expression compiled to SQL over the task table's own
    columns, with the budget's prices taken from the statement's `conf` row: the claim
    charges by the very expression the spend page sums. Compiled once per process."""
    per_image, per_frame = Decimal("-1.5"), Decimal("-2.5")  # stand-ins, found by value
    query = AnnotationTask.objects.all().query
    expression = task_cost_expression("", Value(per_image), Value(per_frame))
    compiler = query.get_compiler(connection=connection)
    sql, params = compiler.compile(expression.resolve_expression(query))
    pieces = sql.split("%s")
    assert len(pieces) == len(params) + 1, sql
    out = pieces[0]
    for param, piece in zip(params, pieces[1:], strict=True):
        if param == per_image:
            value = "conf.cost_per_image"
        elif param == per_frame:
            value = "conf.cost_per_video_frame"
        else:
            value = _literal(param)
        out += f"{value}{piece}"
    return out


def _literal(value) -> str:
    """A constant of the cost rule (the video kind's name) as an SQL literal."""
    if not isinstance(value, str) or "'" in value:
        raise ValueError(f"unexpected constant in the task cost rule: {value!r}")
    return f"'{value}'"


def _settings_sql() -> str:
    source = queue_settings_source()
    if source is None:
        return "SELECT NULL::int AS k, NULL::int AS minutes, NULL::float AS audit_share"
    return (
        "SELECT annotators_per_task AS k, lease_minutes AS minutes,"  # noqa: S608
        f" audit_share FROM {source._meta.db_table} WHERE project_id = %(project)s"
    )


# The claim, in one statement: what it must know (`conf`: the queue settings, the budget,
# the ledger, what the user holds, rework, leases waiting for the sweep), then one task taken
# for the user: the task `pick` names (the best free one, or one this transaction locked
# already), its slot (the user's own when they redo rejected work, else the lowest free one
# of k), the task moved to in_progress once its last slot is taken (a compare-and-set on its
# state), and the user's lease row, reusing their earlier row for the task. Work already
# submitted (a rejected task redone) keeps its charge: it was paid. A task whose slots are
# all taken is moved to in_progress and comes back without a lease.
# With %(plain_only)s it takes a task only when nothing stands in the way (ClaimContext.plain)
# and gold is not due (the project has no gold share, or %(gold_checked)s: the caller asked
# annotate.queue.gold first): then, in autocommit, it is the whole claim in one round trip.
# With %(expiry_checked)s (the caller swept) leases left expired do not stand in the way.
# %(audit_draw)s is this claim's uniform number in [0, 1): under the project's audit share,
# an audit task is tried first.
_CLAIM = """
WITH conf AS (
    SELECT COALESCE(s.k, {default_k}) AS k, COALESCE(s.minutes, {default_minutes}) AS minutes,
        COALESCE(s.audit_share, {default_audit_share}) AS audit_share,
        {budget_columns},
        EXISTS (SELECT 1 FROM {ledger} WHERE project_id = %(project)s) AS ledger_exists,
        (SELECT count(*) FROM {lease} l JOIN {task} h ON h.id = l.task_id
         WHERE l.user_id = %(user)s AND l.state = 'active' AND h.project_id = %(project)s)
            AS held,
        EXISTS (SELECT 1 FROM {task} r WHERE r.project_id = %(project)s
                AND r.state = 'rejected' AND r.annotator_id = %(user)s) AS has_rework,
        -- The earliest expiry against now, not EXISTS (... expires_at < now): the plan is
        -- generic (prepared), and for the EXISTS it scanned every lease of the database.
        COALESCE((SELECT min(expires_at) FROM {lease} WHERE state = 'active') < %(now)s, false)
            AS expired,
        COALESCE((SELECT gold_share FROM {quality} WHERE project_id = %(project)s), 0)
            AS gold_share
    FROM (SELECT 1) AS one
    LEFT JOIN ({settings}) AS s ON TRUE
    LEFT JOIN {budget} b ON b.project_id = %(project)s
),
go AS (
    SELECT 1 FROM conf WHERE NOT %(plain_only)s OR (k = 1 AND money_limit IS NULL
        AND task_limit IS NULL AND NOT ledger_exists AND held = 0 AND NOT has_rework
        AND (%(expiry_checked)s OR NOT expired) AND (%(gold_checked)s OR gold_share = 0))
),
pick AS ({pick}),
mine AS (
    SELECT l.slot, l.charged, l.claimed_at, l.submitted_at,
        l.state IN ('active', 'submitted') AS holds_slot
    FROM {lease} l, pick
    WHERE l.task_id = pick.id AND l.user_id = %(user)s AND %(state)s = 'rejected'
),
free AS (
    SELECT min(s.slot) AS lowest, count(*) AS left_over
    FROM conf, generate_series(0, conf.k - 1) AS s(slot)
    WHERE s.slot <> ALL(ARRAY(
        SELECT l.slot FROM {lease} l
        WHERE l.task_id = (SELECT id FROM pick) AND l.state IN ('active', 'submitted')))
),
claim AS (
    SELECT pick.id,
        CASE WHEN mine.holds_slot THEN mine.slot ELSE free.lowest END AS slot,
        mine.holds_slot IS TRUE OR free.left_over <= 1 AS fills,
        mine.submitted_at AS paid_at, mine.charged AS paid_charge,
        mine.claimed_at AS first_claimed_at
    FROM pick CROSS JOIN free LEFT JOIN mine ON TRUE
),
moved AS (
    UPDATE {task} SET
        state = CASE WHEN claim.fills THEN 'in_progress' ELSE {task}.state END,
        lease_user_id = CASE WHEN conf.k = 1 AND claim.slot IS NOT NULL
                        THEN %(user)s ELSE {task}.lease_user_id END,
        lease_expires_at = CASE WHEN conf.k = 1 AND claim.slot IS NOT NULL
                           THEN %(now)s + make_interval(mins => conf.minutes)
                           ELSE {task}.lease_expires_at END,
        updated_at = %(now)s
    FROM claim, conf
    WHERE {task}.id = claim.id AND {task}.state = %(state)s
    RETURNING {task_columns}, claim.slot, claim.paid_at, claim.paid_charge,
        (SELECT q.priority FROM {queue} q WHERE q.task_id = claim.id AND q.gen = {current_gen})
            AS priority,
        claim.first_claimed_at, %(now)s + make_interval(mins => conf.minutes) AS expires,
        CASE WHEN conf.budget_id IS NULL THEN 0 ELSE {cost} END AS cost
),
leased AS (
    INSERT INTO {lease} (task_id, user_id, slot, state, expires_at, charged, claimed_at,
        submitted_at)
    SELECT id, %(user)s, slot, 'active', expires,
        CASE WHEN paid_at IS NULL THEN cost ELSE paid_charge END,
        CASE WHEN paid_at IS NULL THEN %(now)s ELSE first_claimed_at END, paid_at
    FROM moved WHERE slot IS NOT NULL
    ON CONFLICT (task_id, user_id) DO UPDATE SET slot = excluded.slot,
        state = excluded.state, expires_at = excluded.expires_at, charged = excluded.charged,
        claimed_at = excluded.claimed_at, submitted_at = excluded.submitted_at
    RETURNING id, charged, expires_at
)
SELECT conf.k, conf.minutes, conf.audit_share, {conf_budget}, conf.ledger_exists, conf.held,
    conf.has_rework, conf.expired, conf.gold_share, moved.id IS NOT NULL, leased.id, leased.charged,
    leased.expires_at, moved.slot, moved.paid_at IS NOT NULL, moved.priority, {moved_columns}
FROM conf LEFT JOIN moved ON TRUE LEFT JOIN leased ON TRUE
"""


@dataclass(frozen=True)
class Claimed:
    context: ClaimContext
    task: AnnotationTask | None  # None: no task was taken
    lease: TaskLease | None  # None: none taken, or the task had no free slot left
    paid_before: bool  # redone work that was paid for when first submitted


def _claim_sql(pick: str) -> str:
    return _CLAIM.format(
        default_k=int(DEFAULT_ANNOTATORS_PER_TASK),
        default_minutes=int(DEFAULT_LEASE_MINUTES),
        default_audit_share=float(DEFAULT_AUDIT_SHARE),
        budget_columns=", ".join(
            f"b.{c} AS budget_id" if c == "id" else f"b.{c}" for c in _BUDGET_COLUMNS
        ),
        conf_budget=", ".join(
            "conf.budget_id" if c == "id" else f"conf.{c}" for c in _BUDGET_COLUMNS
        ),
        ledger=LEDGER,
        lease=LEASE,
        task=TASK,
        budget=BUDGET,
        quality=QUALITY,
        settings=_settings_sql(),
        pick=pick,
        task_columns=", ".join(f"{TASK}.{column}" for column in TASK_COLUMNS),
        moved_columns=", ".join(f"moved.{column}" for column in TASK_COLUMNS),
        queue=QUEUE,
        current_gen=CURRENT_GEN_NAMED,
        cost=_task_cost_sql(),
    )


@functools.cache
def _statement(pick_task: bool, lock: str) -> str:
    # Built on first use: the settings model registers itself when Django starts.
    if pick_task:
        pick = f"SELECT id FROM {TASK} WHERE id = %(task)s"  # noqa: S608
    else:
        pick = _best(
            lock=lock, gated=True, audit_first="(SELECT %(audit_draw)s < audit_share FROM conf)"
        )
    return _claim_sql(pick)


def claim(
    *,
    project_id: int,
    user_id: int,
    state: str,
    exclude: Iterable[int],
    now: dt.datetime,
    plain_only: bool,
    audit_draw: float,
    task_id: int | None = None,
    lock: str = "skip",
    exclude_mine: bool = False,
    gold_checked: bool = True,
    expiry_checked: bool = False,
) -> Claimed:
    """Run the claim statement (see _CLAIM): take the task `task_id` names, which the
    caller's transaction has locked, or (None) the best free one, an audit task first when
    `audit_draw` falls under the project's audit share."""
    params = {
        "audit_draw": float(audit_draw),
        "task": task_id,
        "project": project_id,
        "state": state,
        "user": user_id,
        "exclude": sorted(exclude),
        "exclude_mine": exclude_mine,
        "now": now,
        "plain_only": plain_only,
        "gold_checked": gold_checked,
        "expiry_checked": expiry_checked,
    }
    # Prepared (annotate.prepared): planning this statement costs PostgreSQL more than
    # running it, and next-task is the busiest endpoint.
    row = prepared.fetchone(_statement(task_id is not None, lock), params)
    k, minutes, audit_share, *row = row
    budget_row, row = row[: len(_BUDGET_COLUMNS)], row[len(_BUDGET_COLUMNS) :]
    ledger_exists, held, has_rework, expired, gold_share = row[:5]
    moved, lease_id, charged, expires_at, slot, paid_before, priority, *task_row = row[5:]
    budget = None
    if budget_row[0] is not None:
        fields = dict(zip(_BUDGET_COLUMNS, budget_row, strict=True))
        budget = Budget(project_id=project_id, **fields)
    context = ClaimContext(
        annotators_per_task=k,
        lease_minutes=minutes,
        audit_share=audit_share,
        budget=budget,
        ledger_exists=ledger_exists,
        held=held,
        has_rework=has_rework,
        expired_leases=expired,
        gold_share=float(gold_share),
        expiry_checked=expiry_checked,
    )
    if not moved:
        return Claimed(context, None, None, False)
    task = _task(task_row, priority)
    lease = None
    if lease_id is not None:
        lease = TaskLease(
            id=lease_id,
            task=task,
            user_id=user_id,
            slot=slot,
            state=TaskLease.State.ACTIVE,
            expires_at=expires_at,
            charged=charged,
        )
    return Claimed(context, task, lease, paid_before)


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
