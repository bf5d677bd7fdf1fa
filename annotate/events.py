"""What annotate tells the rest of the product, as Django signals: the one registry of events.

annotate never imports the apps that listen (activelearn connects its receivers in its
AppConfig.ready). Every event but demo_seeded is sent after the transaction that caused it
commits, with `project_id` as its only argument:

- TASKS_ADDED (sent by `tasks_added(project_id=...)`): new tasks exist (an upload, a
  processed video, an import); they need a place in the queue.
- LABELS_SUBMITTED (`labels_submitted`): an annotator submitted work.
- LABELS_ACCEPTED (`labels_accepted`): a reviewer accepted work.
- DEMO_SEEDED (`demo_seeded`): seed_demo made (or found) its project. Sent at once and not
  caught: a demo that cannot show the loop should stop the command with the reason.

A receiver that fails is logged with its traceback and does not turn the user's request into
an error. Receivers must be idempotent catch-up functions ("bring the queue up to date for
this project"), because the listening app's periodic sweep calls them again: a failure is
caught up there, never lost.
"""

from __future__ import annotations

import logging
from functools import partial

from django.db import transaction
from django.dispatch import Signal

logger = logging.getLogger(__name__)

TASKS_ADDED = Signal()
LABELS_SUBMITTED = Signal()
LABELS_ACCEPTED = Signal()
DEMO_SEEDED = Signal()


def _send(signal: Signal, name: str, project_id: int) -> None:
    for receiver, result in signal.send_robust(sender=None, project_id=project_id):
        if isinstance(result, Exception):
            logger.error(
                "receiver %s of %s failed for project %s (the periodic sweep catches up)",
                getattr(receiver, "__qualname__", receiver),
                name,
                project_id,
                exc_info=result,
            )


def tasks_added(*, project_id: int) -> None:
    transaction.on_commit(partial(_send, TASKS_ADDED, "tasks_added", project_id))


def labels_submitted(*, project_id: int) -> None:
    transaction.on_commit(partial(_send, LABELS_SUBMITTED, "labels_submitted", project_id))


def labels_accepted(*, project_id: int) -> None:
    transaction.on_commit(partial(_send, LABELS_ACCEPTED, "labels_accepted", project_id))


def demo_seeded(*, project_id: int) -> None:
    DEMO_SEEDED.send(sender=None, project_id=project_id)
