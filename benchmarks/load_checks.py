"""What benchmarks/load.py measures and counts: the jobs past their deadline, watched every
second; per phase of the run, requests/s, latency and errors; how long each fault took to
recover from; and, afterwards, lost saves, doubled tasks and budget drift, from the database
and the clients' records."""

from __future__ import annotations

import threading
import time
from collections import Counter, defaultdict
from dataclasses import dataclass
from decimal import Decimal

from load_people import Call, Records


def percentile(values: list[float], q: float) -> float:
    ordered = sorted(values)
    if not ordered:
        return float("nan")
    return ordered[min(len(ordered) - 1, max(0, round(q * (len(ordered) - 1))))]


# --- watching the jobs ----------------------------------------------------------------------


def overdue_jobs(conn, tables: list[str], grace_s: float = 0) -> int:
    """Live jobs past their deadline (a job without one counts from its creation)."""
    total = 0
    for table in tables:
        total += conn.execute(
            f"SELECT count(*) FROM {table} WHERE state IN ('queued', 'running') AND"  # noqa: S608
            " coalesce(deadline_at, created_at + interval '120 seconds')"
            " < now() - make_interval(secs => %s)",
            [grace_s],
        ).fetchone()[0]
    return total


def running_jobs(conn, tables: list[str]) -> int:
    return sum(
        conn.execute(f"SELECT count(*) FROM {table} WHERE state = 'running'").fetchone()[0]  # noqa: S608
        for table in tables
    )


def watch_jobs(url: str, tables: list[str], started_at: float, stop: threading.Event, out: list):
    """Every second: (seconds since the start, jobs past their deadline), on a connection of
    its own that it opens again when a fault ends it."""
    import psycopg

    conn = None
    while not stop.is_set():
        try:
            if conn is None:
                conn = psycopg.connect(url, autocommit=True)
            out.append((time.monotonic() - started_at, overdue_jobs(conn, tables)))
        except psycopg.Error:
            conn = None
        stop.wait(1)
    if conn is not None:
        conn.close()


@dataclass
class Fault:
    name: str
    at: float  # when it started (seconds since the run began)
    ended: float  # when it was over (the worker killed, Redis started, the last termination)


def phases_of(faults: list[Fault], duration: float) -> list[tuple[str, float, float]]:
    by_name = {fault.name.split(" (")[0]: fault for fault in faults}
    marks = [("before faults", 0.0)]
    if "worker killed" in by_name:
        marks.append(("worker killed", by_name["worker killed"].at))
    if "Redis down" in by_name:
        marks.append(("Redis down", by_name["Redis down"].at))
        marks.append(("Redis back", by_name["Redis down"].ended))
    if "database connections ended" in by_name:
        fault = by_name["database connections ended"]
        marks.append(("database connections ended", fault.at))
        marks.append(("after faults", fault.ended + 10))
    ends = [start for _, start in marks[1:]] + [duration]
    return [(name, start, end) for (name, start), end in zip(marks, ends, strict=True)]


def is_failure(outcome: str) -> bool:
    return not outcome.isdigit() or int(outcome) >= 500


def phase_table(calls: list[Call], phases) -> list[str]:
    lines = [
        f"{'phase':28s} {'s':>5s} {'requests':>8s} {'req/s':>6s} {'p50 ms':>7s} {'p99 ms':>8s}"
        "  errors by kind"
    ]
    for name, start, end in phases:
        inside = [c for c in calls if start <= c.ended < end]
        kinds = Counter(c.outcome for c in inside if not c.outcome.startswith("2"))
        errors = ", ".join(f"{k}: {n}" for k, n in sorted(kinds.items())) or "none"
        ms = [c.ms for c in inside]
        span = max(end - start, 1e-9)
        lines.append(
            f"{name:28s} {span:5.0f} {len(inside):8d} {len(inside) / span:6.1f} "
            f"{percentile(ms, 0.5):7.1f} {percentile(ms, 0.99):8.1f}  {errors}"
        )
    return lines


def recovered_after(faults: list[Fault], calls: list[Call], overdue: list, duration: float):
    """Per fault: seconds from its end to its last client failure or job past its deadline
    before the next fault began."""
    found = {}
    for i, fault in enumerate(faults):
        until = faults[i + 1].at if i + 1 < len(faults) else float("inf")
        last = fault.ended
        for call in calls:
            if fault.at <= call.ended < until and is_failure(call.outcome):
                last = max(last, call.ended)
        for t, count in overdue:
            if fault.at <= t < until and count:
                last = max(last, t + 1)
        found[fault.name] = last - fault.ended
    return found


def check(project_id: int, records: Records) -> dict:
    """lost, doubles and budget drift, from the database and the clients' records."""
    from django.db import connections
    from django.db.models import Count, Q, Sum

    from annotate.models import Annotation, BudgetLedger, TaskLease
    from annotate.models import Project as ProjectModel
    from annotate.queue.ledger import ledger_derived
    from annotate.selectors import budget_spent

    connections.close_all()  # ours may have been ended by the fault
    stored = {
        (row["task_id"], row["version"]): (row["kind"], row["box_count"])
        for row in Annotation.objects.filter(task__project_id=project_id)
        .annotate(box_count=Count("boxes"))
        .values("task_id", "version", "kind", "box_count")
    }
    lost = sum(
        1
        for task, version, kind, boxes in records.saved
        if stored.get((task, version)) != (kind, boxes)
    )

    doubled: set[int] = set()
    by_task = defaultdict(list)
    for task, who, start, end in records.holds:
        by_task[task].append((start, end, who))
    for task, holds in by_task.items():
        holds.sort()
        for (_, end_a, who_a), (start_b, _, who_b) in zip(holds, holds[1:], strict=False):
            if who_a != who_b and start_b < end_a:
                doubled.add(task)
    leases = TaskLease.objects.filter(task__project_id=project_id)
    doubled |= set(
        leases.filter(state="active")
        .values("task_id")
        .annotate(n=Count("id"))
        .filter(n__gt=1)
        .values_list("task_id", flat=True)
    )
    doubled |= set(
        leases.filter(state__in=["active", "submitted"])
        .values("task_id")
        .annotate(people=Count("user_id", distinct=True))
        .filter(people__gt=1)
        .values_list("task_id", flat=True)
    )

    ledger = BudgetLedger.objects.get(project_id=project_id)
    units, money = ledger_derived(project_id)
    paid = leases.filter(submitted_at__isnull=False).aggregate(
        money=Sum("charged"), reserved=Sum("charged", filter=Q(state="active"))
    )
    spent = budget_spent(ProjectModel.objects.get(pk=project_id))
    drift = (
        abs(ledger.money - money)
        + abs(Decimal(ledger.units - units))
        + abs((paid["money"] or Decimal(0)) - spent.label.money)
    )
    return {
        "lost": lost,
        "doubles": len(doubled),
        "budget_drift": drift,
        "saves": len(records.saved),
        "submitted": sum(1 for s in records.saved if s[2] == "submission"),
        "label_spend": spent.label.money,
        "ledger": (ledger.units, ledger.money),
    }


def job_summary(tables: list[str], url: str) -> str:
    import psycopg

    parts = []
    with psycopg.connect(url, autocommit=True) as conn:
        for table in tables:
            rows = conn.execute(
                f"SELECT state, count(*) FROM {table} GROUP BY state ORDER BY state"  # noqa: S608
            ).fetchall()
            if rows:
                kind = table.split("_", 1)[1]
                parts.append(f"{kind} " + ", ".join(f"{state} {n}" for state, n in rows))
            for pk, error in conn.execute(
                f"SELECT id, error FROM {table} WHERE state = 'failed' ORDER BY id"  # noqa: S608
            ).fetchall():
                parts.append(f"{table.split('_', 1)[1]} {pk} failed: {error[:160]}")
    return "; ".join(parts) or "none"
