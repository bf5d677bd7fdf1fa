"""Real Celery workers a test starts itself, on the queues it names (one per kind of work,
config.celery.work_queue) and with an environment of its own (object storage, a pause in
exports: tests/annotate/paused_worker_app.py)."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path

from django.conf import settings
from django.db import connection

from config.celery import app
from tests.conftest import ROOT, _database_url


def wait_until(check, what: str, seconds: float = 60):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.1)
    raise AssertionError(f"{what} did not happen within {seconds:.0f} s")


class Worker:
    """A worker process (its own process group) on `queues`, against the test database."""

    def __init__(
        self,
        name: str,
        queues: list[str],
        log: Path,
        *,
        env: dict[str, str] | None = None,
        app_module: str = "tests.annotate.paused_worker_app",
        concurrency: int = 1,
    ) -> None:
        self.name = f"{name}-{uuid.uuid4().hex[:6]}"
        full_env = {
            **os.environ,
            "DATABASE_URL": _database_url(connection.settings_dict),
            "CELERY_QUEUE": app.conf.task_default_queue,
            "CELERY_QUEUE_PREFIX": settings.WORK_QUEUE_PREFIX,
            "PYTHONUNBUFFERED": "1",
            **(env or {}),
        }
        full_env.pop("TEST_DB_NAME", None)
        self.log = log
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                app_module,
                "worker",
                "-Q",
                ",".join(queues),
                "-n",
                f"{self.name}@%h",
                "--concurrency",
                str(concurrency),
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],  # fmt: skip
            cwd=ROOT,
            env=full_env,
            stdout=log.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: (
                self.process.poll() is None
                and app.control.ping(destination=[f"{self.name}@{os.uname().nodename}"])
            ),
            f"worker {self.name} answering (log {log})",
        )

    def stop(self) -> None:
        if self.process.poll() is not None:
            return
        os.killpg(self.process.pid, 15)
        try:
            self.process.wait(timeout=20)
        except subprocess.TimeoutExpired:
            os.killpg(self.process.pid, 9)
            self.process.wait()
