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

A job claimed inside a worker's task is held by that process: a thread there moves its
deadline on every JOB_HEARTBEAT_S, to JOB_DEAD_AFTER_S ahead, for as long as the task runs,
so a worker killed mid-job is noticed within a minute or two instead of after Celery's time
limit. Job tasks use JobTask, the one way both apps' tasks survive database faults: an
idempotent task that loses its database connection hands its claimed jobs back (queued) and
is retried with backoff; one that is not idempotent fails them with the reason in words.
"""

from __future__ import annotations

import contextvars
import logging
import os
import sys
import threading
import time
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import datetime, timedelta
from functools import partial

from celery import Task
from django.apps import apps
from django.conf import settings
from django.db import connections, transaction
from django.db.models import F, Q
from django.utils import timezone

from annotate.faults import DATABASE_FAULTS, fresh_connections
from annotate.models.jobs import GIVE_UP_AFTER_S, LIVE_STATES, RESEND_AFTER_S, Job, JobState
from config.celery import app

logger = logging.getLogger(__name__)


def job_send(task_name: str, args: list) -> None:
    """Send one message now. Raises what the broker client raises when it is unreachable.

    No result is kept (the job's row is its result): asking for one would make the sender
    subscribe to it in Redis first, which, with Redis down, retries for some 20 s before the
    send is even tried (a web request waiting that long instead of answering 503)."""
    app.send_task(task_name, args=args, ignore_result=True)


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
    """The deadline of a running job nobody holds (a scoring run between its chunks, a job
    run outside a worker): Celery's time limit and some grace from now."""
    return now + timedelta(seconds=model.run_deadline_s())


def job_held_deadline(now: datetime) -> datetime:
    """The deadline of a running job a worker process holds, moved on by its heartbeat."""
    return now + timedelta(seconds=settings.JOB_DEAD_AFTER_S)


def job_claim(model: type[Job], job_id: int, **fields: object) -> bool:
    """Move a queued job to running for this worker (compare-and-set: of two deliveries of
    one message, one wins). Counts the attempt and sets the deadline. True when claimed.

    Inside a JobTask the claim is held by this process (see JobHolds): a short deadline,
    kept ahead by its heartbeat thread while a worker runs the task."""
    now = timezone.now()
    delivery = _delivery.get()
    beats = delivery is not None and delivery.in_worker
    claimed = model.objects.filter(pk=job_id, state=JobState.QUEUED).update(
        state=JobState.RUNNING,
        started_at=now,
        deadline_at=job_held_deadline(now) if beats else job_run_deadline(model, now),
        attempts=F("attempts") + 1,
        progress=0.0,
        error="",
        **fields,
    )
    if claimed and delivery is not None:
        holds.hold(delivery, model, job_id, started_at=now)
    return bool(claimed)


def job_heartbeat(
    model: type[Job], job_id: int, *, progress: float | None = None, **fields: object
) -> bool:
    """A running job's sign of life: its deadline moves on, with progress (0..1) and other
    fields when given. False when the job is not running any more (failed by the sweep,
    superseded), so the worker may stop."""
    now = timezone.now()
    deadline = job_held_deadline(now) if holds.beats_for(model, job_id) else None
    values: dict[str, object] = {"deadline_at": deadline or job_run_deadline(model, now), **fields}
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
    finished = model.objects.filter(pk=job_id, state__in=LIVE_STATES).update(**values)
    holds.release(model, job_id)
    return bool(finished)


def job_fail(model: type[Job], job_id: int, error: str, **fields: object) -> bool:
    """Fail a live job with the reason in words (never empty: the database checks it).

    Called while handling a lost database connection (a service's `except Exception`) in a
    JobTask that retries those, it fails nothing and raises the fault again instead: the
    task then hands the job back and is retried, as if the service had not caught it."""
    fault = sys.exc_info()[1]
    delivery = _delivery.get()
    if isinstance(fault, DATABASE_FAULTS) and delivery is not None and delivery.retries:
        raise fault
    return job_finish(
        model,
        job_id,
        state=JobState.FAILED,
        error=(error or f"The {model.kind_name} failed for no stated reason.")[:4000],
        **fields,
    )


# --- jobs held by a worker process, and their heartbeat -------------------------------------


@dataclass(frozen=True)
class Delivery:
    """One run of a JobTask: its Celery task id, and whether a worker runs it (not called
    directly or eagerly, as tests and management commands do)."""

    task_id: str
    in_worker: bool
    retries: bool = False  # retried when the database connection is lost


# The JobTask running in this thread, if any (set by JobTask.__call__).
_delivery: contextvars.ContextVar[Delivery | None] = contextvars.ContextVar(
    "annotate_job_delivery", default=None
)


@dataclass(frozen=True)
class Hold:
    """A job claimed by a running JobTask. `started_at`, written by the claim, tells this
    claim from a later one of the same job (after the sweep ran it again elsewhere)."""

    model: type[Job]
    job_id: int
    started_at: datetime
    delivery: Delivery


class JobHolds:
    """The jobs this process's running tasks claimed. For those a worker runs, a daemon
    thread moves the deadline on every JOB_HEARTBEAT_S (to JOB_DEAD_AFTER_S ahead) while the
    task runs, whatever the task is doing (a long training step reports no progress): when
    the process dies, the beats stop, and the sweep takes the job for lost soon after. The
    thread lives only while something is held, with its own database connection."""

    def __init__(self) -> None:
        self._lock = threading.Lock()
        self._holds: dict[tuple[str, int], Hold] = {}
        self._thread: threading.Thread | None = None
        self._thread_pid: int | None = None

    @staticmethod
    def _key(model: type[Job], job_id: int) -> tuple[str, int]:
        return (model._meta.label, int(job_id))

    def hold(
        self, delivery: Delivery, model: type[Job], job_id: int, *, started_at: datetime
    ) -> None:
        with self._lock:
            self._holds[self._key(model, job_id)] = Hold(model, int(job_id), started_at, delivery)
            if delivery.in_worker:
                self._ensure_thread()

    def beats_for(self, model: type[Job], job_id: int) -> bool:
        """Whether this process's heartbeat keeps the job alive (its deadline is short)."""
        with self._lock:
            held = self._holds.get(self._key(model, job_id))
        return held is not None and held.delivery.in_worker

    def release(self, model: type[Job], job_id: int) -> None:
        with self._lock:
            self._holds.pop(self._key(model, job_id), None)

    def release_delivery(self, delivery: Delivery) -> list[Hold]:
        """Forget, and return, what one task run holds (it ended, or lost its database)."""
        with self._lock:
            mine = [key for key, held in self._holds.items() if held.delivery == delivery]
            return [self._holds.pop(key) for key in mine]

    def _ensure_thread(self) -> None:
        # A forked pool process inherits no threads, only this object's record of one.
        alive = self._thread is not None and self._thread.is_alive()
        if alive and self._thread_pid == os.getpid():
            return
        self._thread = threading.Thread(target=self._run, name="job-heartbeat", daemon=True)
        self._thread_pid = os.getpid()
        self._thread.start()

    def _run(self) -> None:
        try:
            while True:
                time.sleep(settings.JOB_HEARTBEAT_S)
                with self._lock:
                    beating = [held for held in self._holds.values() if held.delivery.in_worker]
                    if not beating:
                        self._thread = None
                        return
                try:
                    self._beat(beating)
                except Exception:  # the database is away: beat again next time
                    logger.warning("job heartbeat failed; trying again", exc_info=True)
                    connections.close_all()
        finally:
            connections.close_all()  # this thread's own connection

    @staticmethod
    def _beat(beating: list[Hold]) -> None:
        for conn in connections.all(initialized_only=True):
            conn.close_if_unusable_or_obsolete()
        deadline = job_held_deadline(timezone.now())
        for held in beating:
            held.model.objects.filter(
                pk=held.job_id, state=JobState.RUNNING, started_at=held.started_at
            ).update(deadline_at=deadline)


holds = JobHolds()


# --- job tasks: the one way tasks of either app survive a lost database ---------------------


class JobTask(Task):
    """Base of every task that runs a job or other idempotent work (`shared_task(base=
    JobTask, name=...)`): late acks, redelivered when its worker dies, and retried with
    backoff (2, 4, 8 ... s, jittered, at most 2 min apart, 8 times) when the database
    connection is lost mid-task. Before the retry is sent, the jobs the run had claimed are
    handed back (running -> queued, only if still this run's claim), so the retry can claim
    them again; if the database cannot even take that, the jobs' heartbeat has stopped and
    the sweep runs them again.

    A task that is not idempotent (an import: it may have committed before the connection
    broke) sets `retries_database_faults = False`: its claimed jobs are failed instead, with
    the reason in words, and it is not retried."""

    acks_late = True
    reject_on_worker_lost = True
    retries_database_faults = True
    autoretry_for = DATABASE_FAULTS
    retry_backoff = 2
    retry_backoff_max = 120
    retry_jitter = True
    max_retries = 8

    def __call__(self, *args, **kwargs):
        request = self.request
        delivery = Delivery(
            task_id=str(request.id or ""),
            in_worker=not (request.called_directly or request.is_eager),
            retries=self.retries_database_faults,
        )
        token = _delivery.set(delivery)
        try:
            return super().__call__(*args, **kwargs)
        except DATABASE_FAULTS as error:
            if not self.retries_database_faults:
                _held_jobs_fail(holds.release_delivery(delivery), error)
            raise
        finally:
            _delivery.reset(token)
            holds.release_delivery(delivery)

    def retry(self, *args, exc: BaseException | None = None, **kwargs):
        if isinstance(exc, DATABASE_FAULTS):
            delivery = _delivery.get()
            if delivery is not None:
                _held_jobs_hand_back(holds.release_delivery(delivery), exc)
        return super().retry(*args, exc=exc, **kwargs)


def _held_jobs_hand_back(held: list[Hold], error: BaseException) -> None:
    fresh_connections()
    now = timezone.now()
    for job in held:
        try:
            job.model.objects.filter(
                pk=job.job_id, state=JobState.RUNNING, started_at=job.started_at
            ).update(
                state=JobState.QUEUED,
                deadline_at=now + timedelta(seconds=RESEND_AFTER_S),
                error=f"The database connection was lost while this {job.model.kind_name} "
                f"ran ({str(error).strip()[:200]}); it is tried again shortly.",
            )
        except DATABASE_FAULTS:
            logger.warning(
                "cannot hand back %s %s: the database is still away; the jobs sweep will",
                job.model.kind_name,
                job.job_id,
            )


def _held_jobs_fail(held: list[Hold], error: BaseException) -> None:
    fresh_connections()
    now = timezone.now()
    for job in held:
        kind = job.model.kind_name
        try:
            job.model.objects.filter(
                pk=job.job_id, state=JobState.RUNNING, started_at=job.started_at
            ).update(
                state=JobState.FAILED,
                error=f"The database connection was lost while this {kind} ran "
                f"({str(error).strip()[:200]}). It is not run again on its own, since part of "
                "it may have been saved: check what it left, then start it again.",
                finished_at=now,
                deadline_at=None,
            )
        except DATABASE_FAULTS:
            logger.warning(
                "cannot fail %s %s: the database is still away; the jobs sweep will",
                kind,
                job.job_id,
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

    # Running past the deadline: the worker died (a live one's heartbeat moves it on, or its
    # task was stopped by the time limit and failed the job itself).
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
        "no sign of life from it before its deadline"
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
