"""Sending work to the Celery workers and keeping job rows honest: the one way services of
either app enqueue a job, and the one sweep that watches them all.

Jobs are sent by their task name (`name=` in each app's tasks.py), so a service never imports
a tasks module; the tasks modules import services, never the other way round. A job whose
message cannot be sent (the broker is down) stays queued in its row and says so in `error`;
the periodic sweep (`jobs_sweep`, config/celery.py) sends it again later.

Every job kind is a subclass of annotate.models.jobs.Job. Its life, for every kind alike:
`job_enqueue` (queued, sent after commit) -> `job_claim` by a worker (running, attempts + 1,
a deadline) -> `job_heartbeat` while it works (progress, the deadline moved on) ->
`job_finish` or `job_fail`. The sweep acts on live rows whose deadline passed: a queued one
is sent again (the broker never got it, or lost it), a running one lost its worker (killed,
restarted, out of memory) and is run again while its kind allows more attempts, or failed
with the reason in words.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from django.apps import apps
from django.db import transaction
from django.db.models import F, Q
from django.utils import timezone

from annotate.models.jobs import GIVE_UP_AFTER_S, LIVE_STATES, RESEND_AFTER_S, Job, JobState
from config.celery import app

logger = logging.getLogger(__name__)


def job_send(task_name: str, args: list) -> None:
    """Send one message now. Raises what the broker client raises when it is unreachable."""
    app.send_task(task_name, args=args)


def job_send_now(
    task_name: str, *args: object, on_failure: Callable[[Exception], None] | None = None
) -> bool:
    """Send now; a broker error is logged and given to `on_failure` (for the job's row to say
    it waits), never raised. Returns whether the message went out."""
    try:
        job_send(task_name, list(args))
    except Exception as error:  # kombu and redis raise several types when Redis is down
        logger.exception("cannot send %s%s", task_name, tuple(args))
        if on_failure is not None:
            on_failure(error)
        return False
    return True


def enqueue_on_commit(
    task_name: str,
    *args: object,
    on_failure: Callable[[Exception], None] | None = None,
) -> None:
    """Send `task_name(*args)` once the current transaction commits (at once outside one), so
    a worker never looks for a row that is not there yet; failures as in job_send_now."""
    transaction.on_commit(partial(job_send_now, task_name, *args, on_failure=on_failure))


# --- one job's life -------------------------------------------------------------------------


def job_enqueue(job: Job) -> None:
    """Send the job's task with its id after commit. When the broker is unreachable the job
    stays queued with the reason in `error`, and the sweep sends it again."""
    model = type(job)
    enqueue_on_commit(model.task_name, job.pk, on_failure=partial(job_not_sent, model, job.pk))


def job_not_sent(model: type[Job], job_id: int, error: Exception) -> None:
    """Say on a still-queued row that its message could not be sent, and that it waits."""
    model.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        error=f"The task queue is unreachable ({error}); this {model.kind_name} waits and is "
        f"sent again within a few minutes of the queue coming back."
    )


def job_run_deadline(model: type[Job], now: datetime) -> datetime:
    return now + timedelta(seconds=model.run_deadline_s())


def job_claim(model: type[Job], job_id: int, **fields: object) -> bool:
    """Move a queued job to running for this worker (compare-and-set: of two deliveries of
    one message, one wins). Counts the attempt and sets the deadline. True when claimed."""
    now = timezone.now()
    return bool(
        model.objects.filter(pk=job_id, state=JobState.QUEUED).update(
            state=JobState.RUNNING,
            started_at=now,
            deadline_at=job_run_deadline(model, now),
            attempts=F("attempts") + 1,
            progress=0.0,
            error="",
            **fields,
        )
    )


def job_heartbeat(
    model: type[Job], job_id: int, *, progress: float | None = None, **fields: object
) -> bool:
    """A running job's sign of life: its deadline moves on, with progress (0..1) and other
    fields when given. False when the job is not running any more (failed by the sweep,
    superseded), so the worker may stop."""
    values: dict[str, object] = {"deadline_at": job_run_deadline(model, timezone.now()), **fields}
    if progress is not None:
        values["progress"] = min(max(float(progress), 0.0), 1.0)
    return bool(model.objects.filter(pk=job_id, state=JobState.RUNNING).update(**values))


def job_finish(
    model: type[Job], job_id: int, *, state: str = JobState.DONE, **fields: object
) -> bool:
    """End a live job (done, skipped or superseded) with its results in `fields`."""
    values: dict[str, object] = {
        "state": state,
        "finished_at": timezone.now(),
        "deadline_at": None,
        **fields,
    }
    if state == JobState.DONE:
        values.setdefault("progress", 1.0)
    return bool(model.objects.filter(pk=job_id, state__in=LIVE_STATES).update(**values))


def job_fail(model: type[Job], job_id: int, error: str, **fields: object) -> bool:
    """Fail a live job with the reason in words (never empty: the database checks it)."""
    return job_finish(
        model,
        job_id,
        state=JobState.FAILED,
        error=(error or f"The {model.kind_name} failed for no stated reason.")[:4000],
        **fields,
    )


# --- the sweep ------------------------------------------------------------------------------


def job_models() -> list[type[Job]]:
    """Every concrete job kind of the installed apps (annotate's and activelearn's)."""
    return [
        model
        for model in apps.get_models()
        if issubclass(model, Job) and not model._meta.abstract and model.task_name
    ]


@dataclass
class SweepReport:
    """What one sweep did, per kind (model label): ids sent again, run again, failed."""

    sent: dict[str, list[int]] = field(default_factory=dict)
    restarted: dict[str, list[int]] = field(default_factory=dict)
    failed: dict[str, list[int]] = field(default_factory=dict)

    @property
    def total(self) -> int:
        return sum(
            len(ids) for part in (self.sent, self.restarted, self.failed) for ids in part.values()
        )


def _overdue(now: datetime, *, created_before: datetime) -> Q:
    """Past its deadline; a row without one (made before the deadline existed, or never
    sent) counts from its creation."""
    return Q(deadline_at__lt=now) | Q(deadline_at__isnull=True, created_at__lt=created_before)


def _minutes(seconds: float) -> str:
    minutes = max(1, round(seconds / 60))
    return f"{minutes} minute{'s' * (minutes != 1)}"


def _sweep_kind(
    model: type[Job], now: datetime, report: SweepReport, *, all_queued: bool = False
) -> None:
    label = model._meta.label
    kind = model.kind_name
    resend = now + timedelta(seconds=RESEND_AFTER_S)

    # Queued for a day without a worker ever taking it: nothing will; say so.
    given_up = list(
        model.objects.filter(
            _overdue(now, created_before=now - timedelta(seconds=RESEND_AFTER_S)),
            state=JobState.QUEUED,
            created_at__lt=now - timedelta(seconds=GIVE_UP_AFTER_S),
        ).values_list("pk", flat=True)
    )
    if given_up:
        model.objects.filter(pk__in=given_up, state=JobState.QUEUED).update(
            state=JobState.FAILED,
            error=f"No worker took this {kind} within {_minutes(GIVE_UP_AFTER_S)} of its "
            "creation (is a Celery worker running?); start it again.",
            finished_at=now,
            deadline_at=None,
        )
        report.failed.setdefault(label, []).extend(given_up)

    # Running past the deadline: the worker died (a live one reports progress, or its task
    # was stopped by the time limit and failed the job itself).
    run_window = model.run_deadline_s()
    dead = list(
        model.objects.filter(
            Q(deadline_at__lt=now)
            | Q(deadline_at__isnull=True, created_at__lt=now - timedelta(seconds=run_window)),
            state=JobState.RUNNING,
        ).values_list("pk", "attempts")
    )
    stopped = (
        f"The worker running this {kind} stopped (killed or restarted) without finishing it: "
        f"no sign of life for {_minutes(run_window)}"
    )
    for pk, attempts in dead:
        if attempts < model.max_attempts:
            changed = model.objects.filter(pk=pk, state=JobState.RUNNING).update(
                state=JobState.QUEUED,
                deadline_at=resend,
                error=f"{stopped}; it runs again (attempt {attempts + 1} of {model.max_attempts}).",
                **model.restart_fields,
            )
            if changed:
                report.restarted.setdefault(label, []).append(pk)
                job_send_now(model.task_name, pk, on_failure=partial(job_not_sent, model, pk))
        else:
            tried = f"{attempts} time{'s' * (attempts != 1)}"
            changed = model.objects.filter(pk=pk, state=JobState.RUNNING).update(
                state=JobState.FAILED,
                error=f"{stopped}. It was started {tried}, the most this {kind} is tried; "
                "start it again.",
                finished_at=now,
                deadline_at=None,
            )
            if changed:
                report.failed.setdefault(label, []).append(pk)

    # Queued past the deadline: the broker never got the message (it was down) or lost it.
    # Sending again is harmless: a worker claims the row with a compare-and-set.
    overdue = (
        Q() if all_queued else _overdue(now, created_before=now - timedelta(seconds=RESEND_AFTER_S))
    )
    waiting = list(
        model.objects.filter(overdue, state=JobState.QUEUED)
        .exclude(pk__in=report.restarted.get(label, []))
        .order_by("pk")
        .values_list("pk", flat=True)
    )
    for pk in waiting:
        if model.objects.filter(pk=pk, state=JobState.QUEUED).update(deadline_at=resend):
            report.sent.setdefault(label, []).append(pk)
            job_send_now(model.task_name, pk, on_failure=partial(job_not_sent, model, pk))


def jobs_sweep(*, now: datetime | None = None, all_queued: bool = False) -> SweepReport:
    """Periodic (config/celery.py): for every job kind, send again what the broker never got
    and fail, or run again, what a dead worker left running. Repeating it is harmless.

    `all_queued` sends every queued job, due or not: for a broker known to be new and empty
    (`serve`'s private Redis at start), where no queued job's message can be waiting."""
    now = now or timezone.now()
    report = SweepReport()
    for model in job_models():
        _sweep_kind(model, now, report, all_queued=all_queued)
    if report.total:
        logger.info(
            "jobs sweep: sent %s, restarted %s, failed %s",
            report.sent,
            report.restarted,
            report.failed,
        )
    return report
