"""Celery tasks of the active-learning loop. Each takes ids, loads rows and calls a service;
all are idempotent (upserts on natural keys, compare-and-set run updates), so they ack late
and are redelivered when their worker dies.

No periodic jobs yet: scoring starts from events (activation, pushed predictions, labels).
"""

from __future__ import annotations

import logging

from celery import shared_task
from django.db import InterfaceError, OperationalError
from kombu.exceptions import OperationalError as BrokerError

from activelearn.coldstart import coldstart_order
from activelearn.models import ScoringRun
from activelearn.scoring import (
    maybe_rescore_after_labels,
    rescore_project,
    scoring_run_fail,
    scoring_run_finish,
    scoring_run_split,
    scoring_runs_requeue_waiting,
)
from activelearn.scoring import (
    score_chunk as chunk_score,
)
from activelearn.scoring_model import ScoringError

logger = logging.getLogger(__name__)

# Database or broker hiccups: retried with exponential backoff. Anything else is a bug or
# a bad model, recorded on the run instead of retried forever.
TRANSIENT = (OperationalError, InterfaceError, BrokerError, ConnectionError, TimeoutError)
RETRY = {
    "acks_late": True,
    "reject_on_worker_lost": True,
    "autoretry_for": TRANSIENT,
    "retry_backoff": 2,
    "retry_backoff_max": 300,
    "retry_jitter": True,
    "max_retries": 8,
}

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


@shared_task(name="activelearn.requeue_waiting_runs")
def requeue_waiting_runs() -> int:
    """Periodic (config/celery.py): start scoring runs whose message never reached a worker."""
    return scoring_runs_requeue_waiting()


# The retraining loop's tasks (webhook deliveries, baseline retraining) live beside these.
from activelearn.tasks_retraining import retrain_baseline, webhook_deliver  # noqa: E402, F401
