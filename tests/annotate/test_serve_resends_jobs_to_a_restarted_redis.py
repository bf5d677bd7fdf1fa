"""serve's private Redis keeps nothing: when it dies and serve starts it again, the messages
of every queued job were lost with it, so serve sends the jobs sweep (every queued job) once
the new one answers, instead of leaving them to the sweep's two-minute re-send."""

from __future__ import annotations

import os
import signal
import sys
import threading
import time

from annotate.management.commands.serve import Supervisor


def test_a_child_started_again_by_the_supervisor_runs_its_restart_step(settings):
    restarted = threading.Event()
    lines: list[str] = []
    supervisor = Supervisor(lines.append)
    child = supervisor.start(
        "Redis",
        [sys.executable, "-c", "import time; time.sleep(60)"],
        dict(os.environ),
        on_restart=restarted.set,
    )
    try:
        os.killpg(child.pid, signal.SIGKILL)
        child.wait()
        deadline = time.monotonic() + 30
        while not restarted.is_set() and time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.1)

        assert restarted.wait(5)
        assert supervisor.children[0].process.pid != child.pid
        assert "Redis: starting again" in lines
    finally:
        supervisor.stop_all()


def test_serve_sends_every_queued_job_when_its_private_redis_was_started_again(
    monkeypatch, tmp_path
):
    from annotate.management.commands import serve

    sent: list[tuple[str, bool]] = []

    def fake_start(run_dir, spawn):
        process = spawn([sys.executable, "-c", "import time; time.sleep(60)"])
        return process, "redis://:pw@127.0.0.1:1/0"

    monkeypatch.setattr(serve, "start_private_redis", fake_start)
    monkeypatch.setattr(serve, "redis_answers", lambda url: True)
    command = serve.Command()
    monkeypatch.setattr(
        command, "_periodic_jobs_once", lambda url, *, private: sent.append((url, private))
    )
    supervisor = Supervisor(lambda line: None)
    try:
        command._start_private_redis(supervisor, dict(os.environ), tmp_path)
        assert sent == []  # at the first start, handle() sends them once the worker is up
        first = supervisor.children[0].process
        os.killpg(first.pid, signal.SIGKILL)
        first.wait()
        deadline = time.monotonic() + 30
        while not sent and time.monotonic() < deadline:
            supervisor.check()
            time.sleep(0.1)

        assert sent == [("redis://:pw@127.0.0.1:1/0", True)]
    finally:
        supervisor.stop_all()
