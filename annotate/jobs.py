"""Sending work to the Celery workers: the one way services of either app enqueue a job.

Jobs are sent by their task name (`name=` in each app's tasks.py), so a service never imports
a tasks module; the tasks modules import services, never the other way round. A job whose
message cannot be sent (the broker is down) stays queued in its row and says so through
`on_failure`; the periodic sweep (config/celery.py) sends it again later.
"""

from __future__ import annotations

import logging
from collections.abc import Callable
from functools import partial

from django.db import transaction

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
