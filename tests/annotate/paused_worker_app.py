"""The Celery app of the real worker that the fault tests start (`celery -A
tests.annotate.paused_worker_app worker`): the project's own app and tasks, and a pause in
every export and import, after its claim and before it writes, so a test can break something
(Redis, the database connection, the worker process) while a job is in flight, without
racing it.

A job about to write creates PAUSE_DIR/paused-<pid> and waits until PAUSE_DIR/go exists.
"""

from __future__ import annotations

import os
import time
from pathlib import Path

from celery.signals import worker_process_init

from config.celery import app

__all__ = ["app"]

PAUSE_DIR = os.environ.get("PAUSE_DIR")


def _paused(function):
    folder = Path(PAUSE_DIR)

    def wait_then_run(*args, **kwargs):
        (folder / f"paused-{os.getpid()}").touch()
        while not (folder / "go").exists():
            time.sleep(0.05)
        return function(*args, **kwargs)

    return wait_then_run


@worker_process_init.connect
def _pause_jobs(**_kwargs) -> None:
    if not PAUSE_DIR:
        return
    from annotate.exchange import services

    services.export_write = _paused(services.export_write)
    services.import_file = _paused(services.import_file)
