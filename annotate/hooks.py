"""How annotate tells the learning loop that something happened, without importing it.

settings.TASKS_ADDED_HOOKS lists dotted paths of callables `f(*, project_id: int)`, run after
the transaction that made new tasks commits (new tasks need a place in the queue: the
cold-start coverage order before any model exists, model scores after).
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
