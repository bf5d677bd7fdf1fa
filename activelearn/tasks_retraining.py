"""Celery tasks of the retraining loop: webhook deliveries and baseline retraining.
Imported from activelearn.tasks so workers register them.

Both are idempotent: a delivery is sent only while pending (its log may then show one extra
try after a redelivery), a round is claimed with a compare-and-set on its state.
"""

from __future__ import annotations

import logging

from celery import shared_task

from activelearn.webhooks import WebhookFailed, webhook_attempt

logger = logging.getLogger(__name__)

WEBHOOK_MAX_RETRIES = 8  # 1 + 2 + 4 + ... seconds (capped at 10 min, jittered): about an hour


@shared_task(
    name="activelearn.webhook_deliver",
    bind=True,
    acks_late=True,
    reject_on_worker_lost=True,
    autoretry_for=(WebhookFailed,),
    retry_backoff=1,
    retry_backoff_max=600,
    retry_jitter=True,
    max_retries=WEBHOOK_MAX_RETRIES,
)
def webhook_deliver(self, delivery_id: int) -> str:
    """One try of a delivery; Celery retries it with backoff while it fails."""
    final = self.request.retries >= WEBHOOK_MAX_RETRIES
    return webhook_attempt(delivery_id=delivery_id, final=final)


@shared_task(
    name="activelearn.retrain_baseline",
    acks_late=True,
    reject_on_worker_lost=True,
)
def retrain_baseline(round_id: int) -> str:
    """Train, measure and maybe activate a new baseline version for a retraining round."""
    from activelearn.retraining import retraining_round_run

    return retraining_round_run(round_id=round_id)
