"""Reads of the queue: who holds a task, and what is left of a project's budget as the
queue counts it (submitted work plus reserved leases)."""

from __future__ import annotations

from decimal import Decimal

from django.db import connection
from django.db.models import QuerySet

from annotate.models import (
    Annotation,
    AnnotationTask,
    Budget,
    BudgetLedger,
    Project,
    TaskLease,
    task_priority_expression,
)

from .ledger import label_money, ledger_derived
from .priorities import CURRENT_GEN_NAMED, CURRENT_GEN_SQL, QUEUE, TASK
from .settings import queue_settings_for


def with_priority(tasks: QuerySet[AnnotationTask]) -> QuerySet[AnnotationTask]:
    """The tasks, each with `priority`: its place in the queue (task_priority_expression)."""
    return tasks.annotate(priority=task_priority_expression())


def ranked_head_ids(*, project_id: int, count: int) -> list[int]:
    """The `count` pending tasks the claim would hand out first (not audit, not gold), best
    first, read from the claim's own index of the queue table (annotate.queue.priorities)."""
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT task_id FROM {QUEUE} WHERE gen = {CURRENT_GEN_SQL} AND project_id = %s"  # noqa: S608
            " AND queued ORDER BY priority DESC, task_id LIMIT %s",
            [project_id, project_id, int(count)],
        )
        return [row[0] for row in cursor.fetchall()]


def ranked_page_ids(
    *, project_id: int, start: int, stop: int, states=AnnotationTask.State.IN_QUEUE
) -> list[int]:
    """Ids of the rows [start, stop) of the project's tasks in `states`, in the queue's
    order (priority descending, then id), each part read from an index up to the page's end
    and merged, never the pool sorted: the pending tasks the claim may take from the queue
    table's own index (annotate.queue.priorities), the audit tasks from the audit index
    (their parked priorities are AUDIT_PRIORITY less their audit_order, annotate.queue.audit,
    so that index's order is their priority order), gold tasks and their copies (few) and
    the tasks of the other states (in progress, sent back: the work in hand, bounded by the
    team) from the task table, each with its queue row's priority."""
    limit = max(0, int(stop))
    gen = CURRENT_GEN_NAMED
    # Each task's priority by one probe of the queue's key, per row read (a scalar
    # subquery): a join let the planner hash the project's whole generation to price a few
    # thousand tasks in hand (243 ms at 1,000,000 tasks, benchmarks/README.md).
    joined = (
        f"SELECT t.id, (SELECT q.priority FROM {QUEUE} q"  # noqa: S608
        f" WHERE q.task_id = t.id AND q.gen = {gen}) AS priority"
        f" FROM {TASK} t WHERE t.project_id = %(project)s"
    )
    gold = f"SELECT g.id FROM {TASK} g WHERE g.project_id = %(project)s AND g.is_gold"  # noqa: S608
    parts, params = [], {"project": project_id, "limit": limit}
    for number, state in enumerate(states):
        if state == AnnotationTask.State.PENDING:
            parts += [
                f"SELECT task_id, priority FROM {QUEUE} WHERE gen = {gen}"  # noqa: S608
                " AND project_id = %(project)s AND queued"
                " ORDER BY priority DESC, task_id LIMIT %(limit)s",
                f"{joined} AND t.state = 'pending' AND t.audit_drawn_at IS NOT NULL"
                " ORDER BY t.audit_order, t.id LIMIT %(limit)s",
                # Gold tasks and their copies, each from its own partial index.
                f"{joined} AND t.state = 'pending' AND t.audit_drawn_at IS NULL AND t.is_gold"
                " ORDER BY priority DESC NULLS LAST, t.id LIMIT %(limit)s",
                f"{joined} AND t.state = 'pending' AND t.audit_drawn_at IS NULL"
                f" AND t.gold_of_id IN ({gold})"
                " ORDER BY priority DESC NULLS LAST, t.id LIMIT %(limit)s",
            ]
        else:
            params[f"state_{number}"] = str(state)
            parts.append(
                f"{joined} AND t.state = %(state_{number})s"
                " ORDER BY priority DESC NULLS LAST, t.id LIMIT %(limit)s"
            )
    if not parts or limit <= start:
        return []
    sql = (
        " UNION ALL ".join(f"({part})" for part in parts)
        + " ORDER BY 2 DESC NULLS LAST, 1 OFFSET %(start)s LIMIT %(count)s"
    )
    params.update(start=int(start), count=limit - int(start))
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return [row[0] for row in cursor.fetchall()]


def active_lease(*, task_id: int, user) -> TaskLease | None:
    """The user's active lease of the task, if they hold it."""
    if not getattr(user, "is_authenticated", False):
        return None
    return TaskLease.objects.filter(
        task_id=task_id, user=user, state=TaskLease.State.ACTIVE
    ).first()


def has_own_versions(task: AnnotationTask, user) -> bool:
    """Whether `user` works on a chain of versions of their own on the task: when the task
    is shared by several annotators (annotators_per_task > 1) and the user is one of them
    (has a lease of it), so that holders never see, overwrite or conflict with each other's
    drafts. A reviewer or manager works on the task's versions, whose newest, once all k
    submitted, is their consensus (annotate.services.consensus)."""
    if getattr(user, "pk", None) is None:
        return False
    if queue_settings_for(task.project_id).annotators_per_task == 1:
        return False
    return TaskLease.objects.filter(task=task, user=user).exists()


def version_chain(task: AnnotationTask, user) -> QuerySet[Annotation]:
    """The versions of the task that `user` works on (see has_own_versions)."""
    versions = Annotation.objects.filter(task=task)
    return versions.filter(author=user) if has_own_versions(task, user) else versions


def budget_remaining(*, project: Project) -> dict:
    """Limits, what the queue has committed (submitted plus reserved), and what is left."""
    budget = Budget.objects.filter(project=project).first()
    ledger = BudgetLedger.objects.filter(project=project).first()
    if ledger is not None:
        units, money = ledger.units, ledger.money
    else:
        units, money = ledger_derived(project.pk)
    cap = label_money(budget) if budget is not None else None
    task_limit = budget.task_limit if budget is not None else None
    return {
        "currency": budget.currency if budget is not None else None,
        "label_money_limit": None if cap is None else str(cap.quantize(Decimal("0.01"))),
        "money_committed": str(money.quantize(Decimal("0.01"))),
        "money_left": None if cap is None else str(max(cap - money, 0).quantize(Decimal("0.01"))),
        "task_limit": task_limit,
        "tasks_committed": units,
        "tasks_left": None if task_limit is None else max(task_limit - units, 0),
    }
