"""Celery tasks of the active-learning loop. Each takes ids, loads rows and calls a service;
all are idempotent (upserts on natural keys, compare-and-set run updates), so they ack late
and are redelivered when their worker dies.

Services never import this module: they send work by task name (annotate.jobs).
"""

from __future__ import annotations

import logging

from celery import shared_task
from kombu.exceptions import OperationalError as BrokerError

from activelearn import receivers
from activelearn.audit.reports import audit_measure_run
from activelearn.inference.spec import ScoringError
from activelearn.models import ScoringRun
from activelearn.retraining.rounds import retraining_round_run
from activelearn.scoring.coldstart import coldstart_order
from activelearn.scoring.runs import (
    maybe_rescore_after_labels,
    rescore_project,
    scoring_run_fail,
    scoring_run_finish,
    scoring_run_split,
)
from activelearn.scoring.runs import (
    score_chunk as chunk_score,
)
from activelearn.webhooks.delivery import RETRY_BACKOFF_MAX_S, WebhookFailed, webhook_attempt
from annotate.jobs import DATABASE_FAULTS, JobTask

logger = logging.getLogger(__name__)

# Database or broker hiccups: retried with exponential backoff (JobTask's, annotate.jobs).
# Anything else is a bug or a bad model, recorded on the run instead of retried forever.
TRANSIENT = (*DATABASE_FAULTS, BrokerError, ConnectionError, TimeoutError)
RETRY = {"base": JobTask, "autoretry_for": TRANSIENT, "retry_backoff_max": 300}

__all__ = ["maybe_rescore_after_labels", "rescore_project", "score_chunk", "score_project"]


@shared_task(name="activelearn.score_project", **RETRY)
def score_project(run_id: int) -> int:
    """Split a queued run into chunks and send one score_chunk each (cold start: one step)."""
    run = ScoringRun.objects.filter(pk=run_id).select_related("project").first()
    if run is None:
        return 0
    if run.model_version_id is None:
        return coldstart_order(project=run.project, run_id=run_id)
    chunks = scoring_run_split(run_id=run_id)
    for number, chunk in enumerate(chunks):
        try:
            score_chunk.delay(run_id, chunk)
        except BrokerError as error:
            # The run is already split; a retry would find nothing to send. Say so.
            scoring_run_fail(
                run_id=run_id, error=f"could not send chunk {number + 1}/{len(chunks)}: {error}"
            )
            raise
    return len(chunks)


@shared_task(name="activelearn.score_chunk", **RETRY)
def score_chunk(run_id: int, task_ids: list[int]) -> int:
    """Score one chunk, then close the run if that was the last one."""
    try:
        scored = chunk_score(run_id=run_id, task_ids=task_ids)
        scoring_run_finish(run_id=run_id)
    except (ScoringError, ValueError) as error:
        logger.warning("scoring run %s failed: %s", run_id, error)
        scoring_run_fail(run_id=run_id, error=str(error))
        return 0
    return scored


@shared_task(name="activelearn.loop_catch_up")
def loop_catch_up() -> int:
    """Periodic (config/celery.py): the event receivers again for recently changed projects."""
    return receivers.loop_catch_up()


# --- the retraining loop: webhook deliveries and baseline retraining -------------------------
# Both jobs of the one job model, claimed with a compare-and-set on their state: a redelivered
# message finds the job taken or finished and does nothing; the jobs sweep handles the rest.

# 1 + 2 + 4 + ... seconds (capped at 10 min, jittered): about an hour. The delivery's own
# attempt count (WebhookDelivery.max_attempts, one try and these retries) ends it.
WEBHOOK_MAX_RETRIES = 8


@shared_task(
    base=JobTask,
    name="activelearn.webhook_deliver",
    autoretry_for=(WebhookFailed, *DATABASE_FAULTS),
    retry_backoff=1,
    retry_backoff_max=RETRY_BACKOFF_MAX_S,
    retry_jitter=True,
    max_retries=WEBHOOK_MAX_RETRIES,
)
def webhook_deliver(delivery_id: int) -> str:
    """One try of a delivery; Celery retries it with backoff while it fails."""
    return webhook_attempt(delivery_id=delivery_id)


@shared_task(base=JobTask, name="activelearn.retrain_baseline")
def retrain_baseline(round_id: int) -> str:
    """Train, measure and maybe activate a new baseline version for a retraining round."""
    return retraining_round_run(round_id=round_id)


@shared_task(name="activelearn.audit_measure", acks_late=True, reject_on_worker_lost=True)
def audit_measure(report_id: int) -> str:
    """Measure the audit's figures for one report (activelearn.audit.reports)."""
    return audit_measure_run(report_id=report_id)
