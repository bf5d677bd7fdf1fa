"""`manage.py serve`: the whole product from one terminal. Starts a private Redis (only when
REDIS_URL is unset), a Celery worker on every queue (one per kind of work, settings
WORK_QUEUES) and the web server as child processes; Ctrl-C stops them
all. A child that dies is restarted after a growing pause; one that keeps dying is given
up, and then the others are stopped and the command fails. The embedded PostgreSQL
(when DATABASE_URL is unset) was started by manage.py before Django read its settings and
stops when this command exits (annotate/embedded/postgres.py).
"""

from __future__ import annotations

import contextlib
import os
import signal
import socket
import subprocess
import sys
import threading
import time
from collections import deque
from collections.abc import Callable
from dataclasses import dataclass, field
from pathlib import Path

from celery import Celery
from django.conf import settings
from django.core.management import call_command
from django.core.management.base import BaseCommand, CommandError, CommandParser

from annotate.embedded.redis import RedisUnavailable, redis_answers, start_private_redis
from config.celery import all_queues, app
from config.webserver import web_server_argv

STOP_TIMEOUT_S = 20.0
START_TIMEOUT_S = 60.0
MAX_RESTARTS = 5
JOBS_SWEEP = "annotate.jobs_sweep"  # annotate/tasks.py
RESTART_WINDOW_S = 300.0


def port_is_free(host: str, port: int) -> bool:
    with socket.socket(socket.AF_INET, socket.SOCK_STREAM) as probe:
        probe.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        try:
            probe.bind((host, port))
        except OSError:
            return False
        return True


def accepts_connections(host: str, port: int) -> bool:
    try:
        with socket.create_connection((host, port), timeout=0.5):
            return True
    except OSError:
        return False


class ChildDied(Exception):
    def __init__(self, name: str, returncode: int) -> None:
        super().__init__(f"{name} exited with code {returncode}")
        self.name = name
        self.returncode = returncode


@dataclass
class Child:
    name: str
    argv: list[str]
    env: dict[str, str]
    process: subprocess.Popen
    restarts: deque = field(default_factory=deque)  # monotonic times of recent restarts
    restart_at: float | None = None  # when a dead child is due to start again
    on_restart: Callable[[], None] | None = None  # run in a thread after each restart


class Supervisor:
    """Child processes, each in its own process group so that stopping one also stops the
    processes it forked (the web server's and Celery's workers). A child that dies is started again
    after a growing pause (1, 2, 4, ... s); one that dies again after `max_restarts`
    restarts within RESTART_WINDOW_S is given up, and then the others are stopped too."""

    def __init__(self, write, *, max_restarts: int = MAX_RESTARTS) -> None:
        self.write = write
        self.max_restarts = max_restarts
        self.children: list[Child] = []

    def start(
        self,
        name: str,
        argv: list[str],
        env: dict[str, str],
        *,
        on_restart: Callable[[], None] | None = None,
    ) -> subprocess.Popen:
        child = Child(name, argv, env, self._spawn(argv, env), on_restart=on_restart)
        self.children.append(child)
        return child.process

    @staticmethod
    def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
        return subprocess.Popen(argv, env=env, cwd=settings.BASE_DIR, start_new_session=True)

    def forget_dead(self) -> None:
        self.children = [child for child in self.children if child.process.poll() is None]

    def check(self, *, restart: bool = True) -> None:
        """Raise ChildDied for a child that died and may not (or may no longer) be
        restarted; start again those whose pause is over."""
        now = time.monotonic()
        for child in self.children:
            returncode = child.process.poll()
            if returncode is None:
                continue
            if child.restart_at is not None:
                if now >= child.restart_at:
                    self.write(f"{child.name}: starting again")
                    self._signal_group(child.process, signal.SIGKILL)  # orphans of the old one
                    child.process = self._spawn(child.argv, child.env)
                    child.restart_at = None
                    if child.on_restart is not None:
                        threading.Thread(target=child.on_restart, daemon=True).start()
                continue
            while child.restarts and now - child.restarts[0] > RESTART_WINDOW_S:
                child.restarts.popleft()
            if not restart:
                raise ChildDied(child.name, returncode)
            if len(child.restarts) >= self.max_restarts:
                self.write(
                    f"{child.name} died again after {len(child.restarts)} restarts within "
                    f"{RESTART_WINDOW_S / 60:.0f} min: giving up"
                )
                raise ChildDied(child.name, returncode)
            pause = 2.0 ** len(child.restarts)
            child.restarts.append(now)
            child.restart_at = now + pause
            self.write(
                f"{child.name} exited with code {returncode}: restarting it in {pause:.0f} s "
                f"(restart {len(child.restarts)} of at most {self.max_restarts} in "
                f"{RESTART_WINDOW_S / 60:.0f} min)"
            )

    def stop_all(self) -> None:
        """SIGTERM every group (web first, Redis last), wait, then SIGKILL what is left."""
        for child in reversed(self.children):
            self._signal_group(child.process, signal.SIGTERM)
        deadline = time.monotonic() + STOP_TIMEOUT_S
        for child in reversed(self.children):
            try:
                child.process.wait(timeout=max(0.1, deadline - time.monotonic()))
            except subprocess.TimeoutExpired:
                self.write(f"{child.name} did not stop in {STOP_TIMEOUT_S:.0f} s: killing it")
                self._signal_group(child.process, signal.SIGKILL)
                child.process.wait()
            # Grandchildren left behind by a leader that died first.
            self._signal_group(child.process, signal.SIGKILL)

    @staticmethod
    def _signal_group(process: subprocess.Popen, signum: int) -> None:
        with contextlib.suppress(ProcessLookupError, PermissionError):
            os.killpg(process.pid, signum)


class Command(BaseCommand):
    help = (
        "Run the web server, a Celery worker and (when REDIS_URL is unset) a private Redis "
        "together; Ctrl-C stops them all."
    )
    requires_system_checks = []

    def add_arguments(self, parser: CommandParser) -> None:
        parser.add_argument(
            "--port",
            type=int,
            default=int(os.environ.get("PORT") or 8000),
            help="Default: PORT or 8000.",
        )
        parser.add_argument(
            "--host", default="127.0.0.1", help="Address to bind (default 127.0.0.1)."
        )
        parser.add_argument(
            "--web-workers",
            type=int,
            default=int(os.environ.get("WEB_CONCURRENCY") or 2),
            help="Web server worker processes (default: WEB_CONCURRENCY or 2).",
        )
        parser.add_argument(
            "--max-restarts",
            type=int,
            default=MAX_RESTARTS,
            help=f"Restarts of a child that died, within {RESTART_WINDOW_S / 60:.0f} minutes, "
            f"before serve gives up and stops (default {MAX_RESTARTS}).",
        )
        parser.add_argument(
            "--concurrency", type=int, default=2, help="Celery worker processes (default 2)."
        )

    def handle(self, *args, **options) -> None:
        host, port = options["host"], options["port"]
        if not port_is_free(host, port):
            raise CommandError(f"{host}:{port} is in use: pass --port or set PORT.")
        run_dir = Path(settings.VAR_DIR) / "serve"
        run_dir.mkdir(parents=True, exist_ok=True, mode=0o700)
        # Static files: whitenoise serves them from STATIC_ROOT (DEBUG also reads static/).
        call_command("collectstatic", interactive=False, verbosity=0)

        stop_requested: list[int] = []

        def request_stop(signum, _frame) -> None:
            stop_requested.append(signum)

        previous = {
            sig: signal.signal(sig, request_stop) for sig in (signal.SIGINT, signal.SIGTERM)
        }
        supervisor = Supervisor(
            lambda line: self.stderr.write(line), max_restarts=options["max_restarts"]
        )
        env = {**os.environ, "PYTHONUNBUFFERED": "1"}
        failure: ChildDied | None = None
        embedded = os.environ.get("EMBEDDED_POSTGRES_DATA")
        if embedded:
            self.stdout.write(f"PostgreSQL: embedded, data in {embedded}")
        else:
            self.stdout.write("PostgreSQL: using DATABASE_URL from the environment")
        try:
            if os.environ.get("REDIS_URL"):
                self.stdout.write("Redis: using REDIS_URL from the environment")
            else:
                env["REDIS_URL"] = self._start_private_redis(supervisor, env, run_dir)
            supervisor.start(
                "Celery worker",
                [
                    sys.executable, "-m", "celery", "-A", "config", "worker",
                    # The one embedded worker takes every kind of work (settings WORK_QUEUES).
                    "-Q", ",".join(all_queues()),
                    "--concurrency", str(options["concurrency"]), "--loglevel", "INFO",
                    # It also runs the periodic jobs (config/celery.py).
                    "--beat", "--schedule", str(run_dir / "celerybeat-schedule"),
                ],
                env,
            )  # fmt: skip
            supervisor.start(
                "web server",
                web_server_argv(
                    host=host, port=port, workers=options["web_workers"], access_log=True
                ),
                env,
            )  # fmt: skip
            self._wait_for(
                lambda: accepts_connections(host, port), supervisor, stop_requested, "web server"
            )
            self._wait_for(
                lambda: _worker_answers(env.get("REDIS_URL") or settings.CELERY_BROKER_URL),
                supervisor,
                stop_requested,
                "Celery worker",
            )
            if not stop_requested:
                self._periodic_jobs_once(
                    env.get("REDIS_URL") or settings.CELERY_BROKER_URL,
                    private=not os.environ.get("REDIS_URL"),
                )
                self.stdout.write(
                    self.style.SUCCESS(f"Annotate is running at http://{host}:{port}/")
                    + "  (Ctrl-C stops the web server, the worker and Redis)"
                )
            while not stop_requested:
                supervisor.check()
                time.sleep(0.2)
        except ChildDied as died:
            failure = died
        finally:
            self.stdout.write("Stopping...")
            supervisor.stop_all()
            for path in (run_dir / "redis.url", run_dir / "redis.conf"):
                path.unlink(missing_ok=True)
            for sig, handler in previous.items():
                signal.signal(sig, handler)
        if failure:
            raise CommandError(f"{failure}; stopped the others.", returncode=1)
        self.stdout.write("Stopped.")

    def _start_private_redis(self, supervisor: Supervisor, env: dict, run_dir: Path) -> str:
        def started_again() -> None:
            # A private Redis keeps nothing: the messages of queued jobs were lost with it.
            deadline = time.monotonic() + START_TIMEOUT_S
            while not redis_answers(url) and time.monotonic() < deadline:
                time.sleep(0.2)
            self._periodic_jobs_once(url, private=True)

        url = ""
        try:
            process, url = start_private_redis(
                run_dir, lambda argv: supervisor.start("Redis", argv, env, on_restart=started_again)
            )
        except RedisUnavailable as error:
            raise CommandError(str(error)) from None
        finally:
            supervisor.forget_dead()  # attempts that failed are not children to restart
        url_file = run_dir / "redis.url"
        url_file.touch(mode=0o600)
        url_file.write_text(url + "\n")
        port = url.rsplit(":", 1)[1].split("/")[0]
        self.stdout.write(
            f"Redis: private, 127.0.0.1:{port} (pid {process.pid}; URL in {url_file})"
        )
        return url

    def _periodic_jobs_once(self, broker_url: str, *, private: bool) -> None:
        """Send every periodic job once now that a worker listens: work made before Redis
        was up (seed_demo's cold-start run, a video uploaded meanwhile) then starts at once
        instead of at the job's first interval."""
        probe = Celery(broker=broker_url)
        try:
            for entry in app.conf.beat_schedule.values():
                # A private Redis starts empty: every queued job's message must be sent now.
                kwargs = {"all_queued": True} if private and entry["task"] == JOBS_SWEEP else {}
                probe.send_task(
                    entry["task"], kwargs=kwargs, queue=_queue_of(entry["task"]), ignore_result=True
                )
        except Exception as error:  # the broker went away again: the schedule still runs
            self.stderr.write(f"Could not send the periodic jobs once at start: {error}")
        else:
            self.stdout.write("Periodic jobs sent once at start (config/celery.py).")
        finally:
            probe.close()

    @staticmethod
    def _wait_for(ready, supervisor: Supervisor, stop_requested: list, what: str, timeout=None):
        deadline = time.monotonic() + (timeout or START_TIMEOUT_S)
        while not stop_requested:
            supervisor.check(restart=False)  # a child that cannot even start is not retried
            if ready():
                return
            if time.monotonic() > deadline:
                raise CommandError(f"{what} did not start in {timeout or START_TIMEOUT_S:.0f} s.")
            time.sleep(0.2)


def _queue_of(task_name: str) -> str:
    """The queue app's router picks for a task (the probe app, made for another broker URL,
    has no router of its own)."""
    route = app.amqp.router.route({}, task_name)
    return route["queue"].name


def _worker_answers(broker_url: str) -> bool:
    """Whether some Celery worker on this broker answers a ping (the broker of this run,
    which may differ from the one this process's settings were loaded with)."""
    probe = Celery(broker=broker_url)
    try:
        return bool(probe.control.ping(timeout=0.5))
    except Exception:  # the broker not being ready yet is a "no"
        return False
    finally:
        probe.close()
