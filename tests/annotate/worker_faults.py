"""Fixtures of the worker fault tests: a private Redis that a test may stop and start again
(same port, same password), and a real Celery worker on it (tests/annotate/
paused_worker_app.py) with a short job heartbeat, against the test database. The test
process sends its jobs there too, through annotate.jobs.job_send."""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

from celery import Celery

from annotate.embedded.redis import redis_answers, start_private_redis
from tests.conftest import ROOT, _database_url

# The worker's heartbeat: every second, deadlines 3 s ahead (settings JOB_*).
HEARTBEAT_S = 1
DEAD_AFTER_S = 3


def wait_until(check, what: str, seconds: float = 60):
    """Poll `check` until it returns something true; fail saying `what` never happened."""
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        found = check()
        if found:
            return found
        time.sleep(0.05)
    raise AssertionError(f"{what} did not happen within {seconds:.0f} s")


class PrivateRedis:
    def __init__(self, run_dir: Path) -> None:
        self.run_dir = run_dir
        self.argv: list[str] = []
        self.process, self.url = start_private_redis(run_dir, self._spawn)

    def _spawn(self, argv: list[str]) -> subprocess.Popen:
        self.argv = argv
        return subprocess.Popen(argv, stdout=subprocess.DEVNULL, start_new_session=True)

    def stop(self) -> None:
        self.process.terminate()
        self.process.wait(timeout=10)

    def start(self) -> None:
        """The same server again (its config file keeps port and password), empty."""
        self.process = self._spawn(self.argv)
        wait_until(lambda: redis_answers(self.url), "Redis answering again", 15)


class PausedWorker:
    def __init__(self, redis: PrivateRedis, pause_dir: Path, log_path: Path, db_url: str):
        self.queue = f"faults-{uuid.uuid4().hex[:10]}"
        self.redis = redis
        self.pause_dir = pause_dir
        self.log_path = log_path
        self.env = {
            **os.environ,
            "DATABASE_URL": db_url,
            "REDIS_URL": redis.url,
            "CELERY_QUEUE": self.queue,
            "PAUSE_DIR": str(pause_dir),
            "JOB_HEARTBEAT_S": str(HEARTBEAT_S),
            "JOB_DEAD_AFTER_S": str(DEAD_AFTER_S),
            "PYTHONUNBUFFERED": "1",
        }
        self.env.pop("TEST_DB_NAME", None)
        self.process: subprocess.Popen | None = None
        self.sender = Celery(broker=redis.url)

    def start(self) -> None:
        self.process = subprocess.Popen(
            [
                sys.executable,
                "-m",
                "celery",
                "-A",
                "tests.annotate.paused_worker_app",
                "worker",
                "-Q",
                self.queue,
                "-n",
                f"{self.queue}@%h",
                "--concurrency",
                "1",
                "--loglevel",
                "INFO",
                "--without-gossip",
                "--without-mingle",
            ],  # fmt: skip
            cwd=ROOT,
            env=self.env,
            stdout=self.log_path.open("ab"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )
        wait_until(
            lambda: self.sender.control.ping(
                destination=[f"{self.queue}@{os.uname().nodename}"], timeout=0.5
            ),
            f"the worker answering (log: {self.log_path})",
        )

    def stop(self) -> None:
        if self.process and self.process.poll() is None:
            os.killpg(self.process.pid, 15)
            try:
                self.process.wait(timeout=20)
            except subprocess.TimeoutExpired:
                os.killpg(self.process.pid, 9)
                self.process.wait()

    def send(self, name: str, args: list) -> None:
        self.sender.send_task(name, args=args, queue=self.queue, ignore_result=True)

    def log(self) -> str:
        return self.log_path.read_text(errors="replace")

    def paused_pid(self) -> int:
        """The pool process whose export waits at the pause (waits for one to get there)."""
        found = wait_until(lambda: sorted(self.pause_dir.glob("paused-*")), "an export pausing")
        return int(found[-1].name.split("-")[1])

    def go(self) -> None:
        (self.pause_dir / "go").touch()

    def pause_again(self) -> None:
        for path in self.pause_dir.iterdir():
            path.unlink()


def paused_worker_running(tmp_path: Path, monkeypatch) -> Iterator[PausedWorker]:
    """For a test module's fixture (with transactional_db): a private Redis and a worker on
    it whose exports and imports pause; the test's jobs are sent there. Its `.redis` may be
    stopped and started again."""
    from django.db import connection

    redis = PrivateRedis(tmp_path / "redis")
    pause_dir = tmp_path / "pause"
    pause_dir.mkdir()
    worker = PausedWorker(
        redis, pause_dir, tmp_path / "worker.log", _database_url(connection.settings_dict)
    )
    monkeypatch.setattr("annotate.jobs.job_send", worker.send)
    try:
        worker.start()
        yield worker
    finally:
        worker.go()  # nothing left waiting at the pause
        worker.stop()
        worker.sender.close()
        if redis.process.poll() is None:
            redis.stop()
