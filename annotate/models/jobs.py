"""The one job model: every long piece of work (a scoring run, an export, an import, a
retraining round, a webhook delivery) is a row of a `Job` subclass, with the same states,
progress, timestamps, error and attempts.

The row is the job (as in healthchecks): a worker claims it with a compare-and-set from
queued to running, reports progress on it, and finishes or fails it; the periodic sweep
(annotate.jobs.jobs_sweep, listed in config/celery.py) reads only these columns to send again
what the broker never got and to fail, or run again, what a dead worker left running.
It lives in annotate because both apps' jobs derive from it and annotate never imports
activelearn.
"""

from __future__ import annotations

from typing import ClassVar

from django.conf import settings
from django.db import models
from django.db.models import Q


class JobState(models.TextChoices):
    """The states of every job kind; a kind uses the ones that apply to it."""

    QUEUED = "queued", "Queued"
    RUNNING = "running", "Running"
    DONE = "done", "Done"
    FAILED = "failed", "Failed"
    # A newer job of the same kind took over before this one finished: not a failure.
    SUPERSEDED = "superseded", "Superseded"
    # Ran, and found nothing to do (a retraining round with too few labels): not a failure.
    SKIPPED = "skipped", "Skipped"


LIVE_STATES = (JobState.QUEUED, JobState.RUNNING)

# Seconds a job may stay queued without a worker taking it before the sweep sends it again
# (the broker was down, or the message was lost): long enough that a message still on its
# way is not doubled every minute; a double would be harmless anyway (claims compare-and-set).
# Settings JOB_RESEND_AFTER_S (default 120).
RESEND_AFTER_S = settings.JOB_RESEND_AFTER_S
# A queued job no worker took for this long is failed with that reason, so the sweep's
# re-sends are bounded and a job nobody will ever run does not look as if it waits.
GIVE_UP_AFTER_S = 24 * 3600
# Beyond Celery's hard time limit: a worker that is alive either reported progress or was
# stopped by the time limit (and its task then failed the job itself) within this margin.
DEADLINE_GRACE_S = 120


class Job(models.Model):
    """Fields and per-kind facts shared by every job kind (abstract)."""

    State = JobState

    # The Celery task that runs a job of this kind, called with the job's id.
    task_name: ClassVar[str] = ""
    # The kind in words, for the reasons the sweep writes ("the worker running this export").
    kind_name: ClassVar[str] = "job"
    # How many times workers may start a job of this kind. More than one only where running it
    # again is harmless (its writes are upserts or replace the previous result); the sweep
    # then runs a job whose worker died again instead of failing it.
    max_attempts: ClassVar[int] = 1
    # Fields a run again starts from (counters of the run that died).
    restart_fields: ClassVar[dict[str, object]] = {}

    state = models.CharField(max_length=10, choices=JobState.choices, default=JobState.QUEUED)
    progress = models.FloatField(default=0.0, help_text="0 to 1.")
    error = models.TextField(blank=True, help_text="Why it failed, or why it waits, in words.")
    attempts = models.PositiveIntegerField(
        default=0, help_text="How many times a worker started it."
    )
    created_at = models.DateTimeField(auto_now_add=True)
    started_at = models.DateTimeField(null=True, blank=True)
    deadline_at = models.DateTimeField(
        null=True,
        blank=True,
        help_text="When the sweep acts unless the job is heard from first: sends a queued "
        "job again, or takes a running one's worker for dead. Moved on by each progress "
        "report. Empty: the creation time plus a couple of minutes.",
    )
    finished_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        abstract = True
        constraints = [
            models.CheckConstraint(
                condition=Q(progress__gte=0) & Q(progress__lte=1),
                name="%(class)s_progress_range",
            ),
            models.CheckConstraint(
                condition=~Q(state="failed") | ~Q(error=""), name="%(class)s_failure_has_error"
            ),
        ]
        indexes = [
            # The sweep: live jobs by deadline, nothing else.
            models.Index(
                fields=["state", "deadline_at"],
                condition=Q(state__in=["queued", "running"]),
                name="%(class)s_live_idx",
            ),
        ]

    @classmethod
    def run_deadline_s(cls) -> float:
        """Seconds a running job may go without a sign of life before its worker counts as
        dead: Celery's hard time limit (a live worker's task is stopped by then) plus grace."""
        return settings.CELERY_TASK_TIME_LIMIT + DEADLINE_GRACE_S

    @property
    def is_live(self) -> bool:
        return self.state in LIVE_STATES
