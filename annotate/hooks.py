"""How annotate tells the learning loop that something happened, without importing it.

settings.TASKS_ADDED_HOOKS lists dotted paths of callables `f(*, project_id: int)`, run after
the transaction that made new tasks commits (new tasks need a place in the queue: the
cold-start coverage order before any model exists, model scores after). LABELS_SUBMITTED_HOOKS
and LABELS_ACCEPTED_HOOKS run after a submission or an accept commits (the loop counts labels);
DEMO_SEEDED_HOOKS when seed_demo has made its project (the loop's demo settings).
"""

from __future__ import annotations

import logging
from functools import partial

from django.conf import settings
from django.db import transaction
from django.utils.module_loading import import_string

logger = logging.getLogger(__name__)


def _call(path: str, project_id: int) -> None:
    try:
        import_string(path)(project_id=project_id)
    except Exception:
        # The tasks are stored; a failed hook must not turn a good upload into an error.
        logger.exception("hook %s failed for project %s", path, project_id)


def tasks_added(*, project_id: int) -> None:
    for path in getattr(settings, "TASKS_ADDED_HOOKS", []):
        transaction.on_commit(partial(_call, path, project_id))


def labels_accepted(*, project_id: int) -> None:
    """A reviewer accepted work; settings.LABELS_ACCEPTED_HOOKS run after the commit."""
    for path in getattr(settings, "LABELS_ACCEPTED_HOOKS", []):
        transaction.on_commit(partial(_call, path, project_id))


def labels_submitted(*, project_id: int) -> None:
    """An annotator submitted work; settings.LABELS_SUBMITTED_HOOKS run after the commit."""
    for path in getattr(settings, "LABELS_SUBMITTED_HOOKS", []):
        transaction.on_commit(partial(_call, path, project_id))


def demo_seeded(*, project_id: int) -> None:
    """seed_demo made (or found) its project; settings.DEMO_SEEDED_HOOKS give it what other
    apps need for a demo. Run at once and not caught: a demo that cannot show the loop
    should stop the command with the reason, not start half set up."""
    for path in getattr(settings, "DEMO_SEEDED_HOOKS", []):
        import_string(path)(project_id=project_id)
