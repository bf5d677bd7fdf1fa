"""`manage.py serve`, run for real on the newcomer's default: embedded PostgreSQL, private
Redis, Celery worker and web server come up together, answer, and go away together on Ctrl-C
or when one of them dies."""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import time
import urllib.error
import urllib.request
from pathlib import Path

import psutil
import pytest
import redis
from celery import Celery

ROOT = Path(__file__).resolve().parents[2]
pytestmark = pytest.mark.worker


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


@pytest.fixture
def embedded_env(tmp_path) -> dict[str, str]:
    """The `make run` environment: DEBUG on, no DATABASE_URL (the embedded PostgreSQL), no
    REDIS_URL, everything under tmp."""
    unset = {"DATABASE_URL", "EMBEDDED_POSTGRES_DATA", "REDIS_URL", "TEST_DB_NAME", "PORT"}
    env = {k: v for k, v in os.environ.items() if k not in unset}
    env.update(
        DEBUG="1",
        MEDIA_ROOT=str(tmp_path / "media"),
        VAR_DIR=str(tmp_path / "var"),
        STATIC_ROOT=str(tmp_path / "static"),
        PYTHONUNBUFFERED="1",
    )
    migrate = subprocess.run(
        [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
        cwd=ROOT,
        env=env,
        capture_output=True,
        text=True,
        timeout=180,
    )
    assert migrate.returncode == 0, migrate.stderr
    return env


class Serve:
    def __init__(self, env: dict[str, str], log_path: Path, *extra: str) -> None:
        self.port = free_port()
        self.log_path = log_path
        self.var_dir = env["VAR_DIR"]
        self.process = subprocess.Popen(
            [
                sys.executable,
                "manage.py",
                "serve",
                "--port",
                str(self.port),
                "--web-workers",
                "1",
                *extra,
            ],  # fmt: skip
            cwd=ROOT,
            env=env,
            stdout=log_path.open("wb"),
            stderr=subprocess.STDOUT,
            start_new_session=True,
        )

    @property
    def log(self) -> str:
        """The end of serve's output, for failure messages."""
        return self.text[-5000:]

    @property
    def text(self) -> str:
        return self.log_path.read_text(errors="replace")

    def wait_until_up(self, timeout: float = 120) -> None:
        url = f"http://127.0.0.1:{self.port}/accounts/login/"
        deadline = time.monotonic() + timeout
        while time.monotonic() < deadline:
            assert self.process.poll() is None, f"serve exited early:\n{self.log}"
            try:
                with urllib.request.urlopen(url, timeout=2) as response:
                    if response.status == 200 and "Annotate is running" in self.log:
                        return
            except (urllib.error.URLError, ConnectionError, TimeoutError):
                pass
            time.sleep(0.3)
        raise AssertionError(f"serve did not answer in {timeout} s:\n{self.log}")

    def children(self) -> list[psutil.Process]:
        return psutil.Process(self.process.pid).children(recursive=True)

    def cleanup(self) -> None:
        """Whatever a failed test left running goes (only this test's process group tree)."""
        leftovers = []
        if self.process.poll() is None:
            leftovers = self.children()
            os.killpg(self.process.pid, signal.SIGKILL)
            self.process.wait()
        for child in leftovers:
            with contextlib.suppress(ProcessLookupError, PermissionError):
                os.killpg(child.pid, signal.SIGKILL)
        # A serve killed outright cannot stop its embedded PostgreSQL (not its child: the
        # wheel's pg_ctl daemonises it); stop it as pg_ctl's fast mode does.
        database = postmaster(self.var_dir)
        if database is not None:
            with contextlib.suppress(psutil.NoSuchProcess):
                database.send_signal(signal.SIGINT)
                database.wait(timeout=30)


def postmaster(var_dir: str) -> psutil.Process | None:
    """The embedded PostgreSQL server of `var_dir`, if it runs."""
    pid_file = Path(var_dir) / "postgres" / "postmaster.pid"
    if not pid_file.exists():
        return None
    try:
        return psutil.Process(int(pid_file.read_text().split()[0]))
    except psutil.NoSuchProcess:
        return None


def still_running(processes: list[psutil.Process]) -> list[psutil.Process]:
    alive = []
    for process in processes:
        try:
            if process.is_running() and process.status() != psutil.STATUS_ZOMBIE:
                alive.append(process)
        except psutil.NoSuchProcess:
            pass
    return alive


def command_lines(processes: list[psutil.Process]) -> str:
    return "\n".join(" ".join(p.cmdline()) for p in processes)


@pytest.fixture
def serve(embedded_env, tmp_path):
    running = Serve(embedded_env, tmp_path / "serve.log")
    yield running
    running.cleanup()


def test_serve_runs_redis_worker_and_web_and_ctrl_c_stops_them_all(serve, embedded_env):
    serve.wait_until_up()
    database = postmaster(embedded_env["VAR_DIR"])
    assert database is not None and database.is_running(), serve.log
    assert "PostgreSQL: embedded" in serve.text
    # Work made before Redis was up does not wait for the periodic jobs' first interval.
    assert "Periodic jobs sent once at start" in serve.text
    children = serve.children()
    lines = command_lines(children)
    assert "redis-server" in lines
    assert "celery -A config worker" in lines
    assert "granian --interface wsgi config.wsgi:application" in lines

    # The private Redis is a new one, on loopback, and wants its password.
    url = (Path(embedded_env["VAR_DIR"]) / "serve" / "redis.url").read_text().strip()
    assert url.startswith("redis://:") and "@127.0.0.1:" in url
    assert not url.endswith(":6379/0")
    port = int(url.rsplit(":", 1)[1].split("/")[0])
    with pytest.raises(redis.AuthenticationError):
        redis.Redis(host="127.0.0.1", port=port, socket_timeout=2).ping()
    probe = Celery(broker=url)
    try:
        replies = probe.control.ping(timeout=3)
    finally:
        probe.close()
    assert replies, "the worker did not answer a ping through the private Redis"

    serve.process.send_signal(signal.SIGINT)
    assert serve.process.wait(timeout=60) == 0, serve.log
    assert still_running(children) == [], command_lines(still_running(children))
    assert still_running([database]) == [], "the embedded PostgreSQL outlived serve"
    assert not (Path(embedded_env["VAR_DIR"]) / "serve" / "redis.url").exists()


def test_a_second_serve_keeps_the_data_of_the_first(embedded_env, tmp_path):
    """`make run` twice: the embedded database of the first run is there in the second."""
    create = subprocess.run(
        [sys.executable, "manage.py", "shell", "-c",
         "from django.contrib.auth.models import User; User.objects.create_user('kept')"],
        cwd=ROOT, env=embedded_env, capture_output=True, text=True, timeout=120,
    )  # fmt: skip
    assert create.returncode == 0, create.stderr
    assert postmaster(embedded_env["VAR_DIR"]) is None, "a one-off command left the server up"
    running = Serve(embedded_env, tmp_path / "serve.log")
    try:
        running.wait_until_up()
        count = subprocess.run(
            [sys.executable, "manage.py", "shell", "-c",
             "from django.contrib.auth.models import User;"
             "print(User.objects.filter(username='kept').count())"],
            cwd=ROOT, env=embedded_env, capture_output=True, text=True, timeout=120,
        )  # fmt: skip
        assert count.stdout.strip().splitlines()[-1] == "1", count.stderr
        running.process.send_signal(signal.SIGINT)
        assert running.process.wait(timeout=60) == 0, running.log
    finally:
        running.cleanup()


def _worker(serve: Serve) -> psutil.Process:
    return next(
        p
        for p in serve.children()
        if "celery" in " ".join(p.cmdline()) and p.ppid() == serve.process.pid
    )


def _answers(url: str) -> bool:
    try:
        with urllib.request.urlopen(url, timeout=2) as response:
            return response.status == 200
    except (urllib.error.URLError, ConnectionError, TimeoutError):
        return False


def test_a_worker_that_dies_is_restarted_and_the_web_stays_up(serve, embedded_env):
    serve.wait_until_up()
    killed = _worker(serve)
    os.killpg(killed.pid, signal.SIGKILL)
    url = (Path(embedded_env["VAR_DIR"]) / "serve" / "redis.url").read_text().strip()
    deadline = time.monotonic() + 60
    restarted = None
    while time.monotonic() < deadline and restarted is None:
        assert serve.process.poll() is None, f"serve gave up:\n{serve.log}"
        assert _answers(f"http://127.0.0.1:{serve.port}/accounts/login/")
        with contextlib.suppress(StopIteration, psutil.NoSuchProcess):
            candidate = _worker(serve)
            if candidate.pid != killed.pid:
                restarted = candidate
        time.sleep(0.3)
    assert restarted is not None, serve.log
    assert "Celery worker exited with code" in serve.text and "restarting it in" in serve.text
    probe = Celery(broker=url)
    try:
        deadline = time.monotonic() + 60
        while not probe.control.ping(timeout=1) and time.monotonic() < deadline:
            pass
        assert probe.control.ping(timeout=3), "the restarted worker does not answer"
    finally:
        probe.close()


def test_a_worker_that_keeps_dying_stops_serve_and_fails(embedded_env, tmp_path):
    running = Serve(embedded_env, tmp_path / "serve.log", "--max-restarts", "1")
    try:
        running.wait_until_up()
        children = running.children()
        first = _worker(running)
        os.killpg(first.pid, signal.SIGKILL)
        deadline = time.monotonic() + 60
        second = first
        while second.pid == first.pid and time.monotonic() < deadline:
            with contextlib.suppress(StopIteration, psutil.NoSuchProcess):
                second = _worker(running)
            time.sleep(0.2)
        assert second.pid != first.pid, running.log
        os.killpg(second.pid, signal.SIGKILL)
        assert running.process.wait(timeout=60) != 0
        assert "giving up" in running.text
        assert still_running(children) == [], command_lines(still_running(children))
    finally:
        running.cleanup()


def test_serve_refuses_a_port_in_use(embedded_env):
    with socket.socket() as taken:
        taken.bind(("127.0.0.1", 0))
        taken.listen()
        port = taken.getsockname()[1]
        result = subprocess.run(
            [sys.executable, "manage.py", "serve", "--port", str(port)],
            cwd=ROOT,
            env=embedded_env,
            capture_output=True,
            text=True,
            timeout=60,
        )
    assert result.returncode != 0
    assert f"127.0.0.1:{port} is in use" in result.stderr
