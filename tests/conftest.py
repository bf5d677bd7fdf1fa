"""Shared fixtures: named users and projects, a media folder, a real Celery worker.

alice and bob annotate `project`; carol annotates `other_project`; rita reviews `project`;
pat manages `project` (staff, Project manager group); eve is the ML engineer of `project`.
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
import uuid
from pathlib import Path
from urllib.parse import quote

import pytest
from django.contrib.auth.models import Group, Permission, User

from annotate.models import Budget, LabelClass, Membership, Project
from annotate.roles import (
    GROUP_ANNOTATOR,
    GROUP_ML_ENGINEER,
    GROUP_PROJECT_MANAGER,
    sync_groups,
)
from annotate.schema import skeleton_preset

ROOT = Path(__file__).resolve().parent.parent
PASSWORD = "correct-horse-battery-staple"
# Messages of this test session go to its own queue, never to a queue another run consumes.
TEST_QUEUE = f"test-{uuid.uuid4().hex[:12]}"
TEST_QUEUE_PREFIX = f"{TEST_QUEUE}."


@pytest.fixture(scope="session", autouse=True)
def _static_root():
    """whitenoise warns on every request when STATIC_ROOT is missing (no collectstatic here)."""
    from django.conf import settings

    Path(settings.STATIC_ROOT).mkdir(parents=True, exist_ok=True)


@pytest.fixture(scope="session", autouse=True)
def _private_celery_queue():
    from django.conf import settings

    from config.celery import all_queues, app

    app.conf.task_default_queue = TEST_QUEUE
    # The queues per kind of work of this session: TEST_QUEUE.scoring and so on.
    settings.WORK_QUEUE_PREFIX = TEST_QUEUE_PREFIX
    yield
    try:
        with app.connection_for_write() as connection:
            connection.default_channel.client.delete(*all_queues())
    except Exception:  # Redis down: nothing was queued either
        pass


@pytest.fixture(scope="session", autouse=True)
def _flush_waits_out_deadlocks():
    """A transactional test ends with a TRUNCATE of every table. A real worker or the live
    server may still be working for that test (a rescoring it started, chunk after chunk),
    and PostgreSQL then breaks the lock cycle by failing the TRUNCATE, which left the rows
    for the next test. The test is over: end the other sessions on its database (their
    Celery task retries or gives up) and flush again."""
    from django.core.management.base import CommandError
    from django.db import OperationalError, connection
    from django.test import TransactionTestCase

    original = TransactionTestCase._fixture_teardown

    def teardown(self):
        for attempt in range(3):
            try:
                return original(self)
            except (OperationalError, CommandError) as error:
                # flush wraps the database's error in a CommandError.
                if "deadlock detected" not in f"{error} {error.__cause__}" or attempt == 2:
                    raise
                with connection.cursor() as cursor:
                    cursor.execute(
                        "SELECT pg_terminate_backend(pid) FROM pg_stat_activity"
                        " WHERE datname = current_database() AND pid <> pg_backend_pid()"
                    )
                time.sleep(0.2)

    TransactionTestCase._fixture_teardown = teardown
    yield
    TransactionTestCase._fixture_teardown = original


@pytest.fixture(autouse=True)
def _fast_password_hashing(settings):
    """Real hashing costs ~0.3 s per user; tests check access, not hash strength."""
    settings.PASSWORD_HASHERS = ["django.contrib.auth.hashers.MD5PasswordHasher"]


@pytest.fixture(autouse=True)
def _api_answers_match_the_schema(monkeypatch):
    """Every /api/ answer a test gets is checked against the OpenAPI schema
    (tests/schema_check.py): a test that passes while the schema lies fails here."""
    from django.test.client import Client

    from tests.schema_check import answer_problem

    problems: list[str] = []
    send = Client.request

    def request(self, **kwargs):
        response = send(self, **kwargs)
        if response.request["PATH_INFO"].startswith("/api/") and not response.streaming:
            problem = answer_problem(response)
            if problem:
                problems.append(problem)
        return response

    monkeypatch.setattr(Client, "request", request)
    yield
    assert not problems, "Answers the schema does not describe:\n" + "\n".join(problems)


@pytest.fixture
def no_job_messages(monkeypatch):
    """No job message reaches a worker: one left running by another test of the session could
    take the work this test runs itself (a registration, a decoding, an export)."""
    monkeypatch.setattr("annotate.jobs.job_send", lambda name, args: None)


@pytest.fixture
def media_root(settings, tmp_path):
    """This test's own media folder (file-system storage), so it can see what was left."""
    root = tmp_path / "media"
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(root), "base_url": "/media/"},
        },
    }
    settings.MEDIA_ROOT = root
    return root


def make_project(name: str, *, keypoints: bool = True, tracks: bool = True) -> Project:
    project = Project.objects.create(
        name=name,
        description=f"{name} for tests",
        skeleton=skeleton_preset("upper_body"),
        keypoints_enabled=keypoints,
        tracks_enabled=tracks,
        frame_stride=1,
        segment_length=10,
    )
    LabelClass.objects.create(project=project, name="person", color="#e6194b", hotkey="1")
    LabelClass.objects.create(project=project, name="bicycle", color="#3cb44b", hotkey="2", order=1)
    Budget.objects.create(project=project)
    return project


def make_user(username: str, *, group: str | None = None, staff: bool = False) -> User:
    user = User.objects.create_user(username, f"{username}@example.com", PASSWORD)
    if staff:
        user.is_staff = True
        user.save(update_fields=["is_staff"])
    if group:
        if not Group.objects.filter(name=group).exists():
            # A transactional test's flush empties the tables the data migration filled.
            sync_groups(Group, Permission)
        user.groups.add(Group.objects.get(name=group))
    return user


@pytest.fixture
def project(db) -> Project:
    return make_project("Pedestrians")


@pytest.fixture
def other_project(db) -> Project:
    return make_project("Warehouse")


@pytest.fixture
def alice(project) -> User:
    user = make_user("alice", group=GROUP_ANNOTATOR)
    Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
    return user


@pytest.fixture
def bob(project) -> User:
    user = make_user("bob", group=GROUP_ANNOTATOR)
    Membership.objects.create(project=project, user=user, role=Membership.Role.ANNOTATOR)
    return user


@pytest.fixture
def carol(other_project) -> User:
    user = make_user("carol", group=GROUP_ANNOTATOR)
    Membership.objects.create(project=other_project, user=user, role=Membership.Role.ANNOTATOR)
    return user


@pytest.fixture
def rita(project) -> User:
    user = make_user("rita", group=GROUP_ANNOTATOR)
    Membership.objects.create(project=project, user=user, role=Membership.Role.REVIEWER)
    return user


@pytest.fixture
def pat(project) -> User:
    user = make_user("pat", group=GROUP_PROJECT_MANAGER, staff=True)
    Membership.objects.create(project=project, user=user, role=Membership.Role.MANAGER)
    return user


@pytest.fixture
def eve(project) -> User:
    user = make_user("eve", group=GROUP_ML_ENGINEER)
    Membership.objects.create(project=project, user=user, role=Membership.Role.ML_ENGINEER)
    return user


def _database_url(settings_dict: dict) -> str:
    """The URL of the test database (a socket directory, as the embedded server has, goes
    percent-encoded in the host part)."""
    user = quote(settings_dict.get("USER") or "", safe="")
    password = quote(settings_dict.get("PASSWORD") or "", safe="")
    auth = f"{user}:{password}@" if password else (f"{user}@" if user else "")
    host = settings_dict.get("HOST") or "127.0.0.1"
    if host.startswith("/"):
        return f"postgres://{auth}{quote(host, safe='')}/{settings_dict['NAME']}"
    port = settings_dict.get("PORT") or 5432
    return f"postgres://{auth}{host}:{port}/{settings_dict['NAME']}"


@pytest.fixture(scope="session")
def celery_worker(django_db_setup, django_db_blocker):
    """A real Celery worker process on its own queue, against the test database and Redis.

    Tests that use it must use `transactional_db` so the worker sees committed rows.
    Yields a handle with .queue, .process and .restart().
    """
    from django.db import connection

    from config.celery import all_queues, app

    queue = TEST_QUEUE
    env = {
        **os.environ,
        "DATABASE_URL": _database_url(connection.settings_dict),
        "CELERY_QUEUE": queue,
        "CELERY_QUEUE_PREFIX": TEST_QUEUE_PREFIX,
        "PYTHONUNBUFFERED": "1",
        # A pool pass of a few tasks swaps its order in as a fresh generation, as one of
        # 50,000 does in production (a run scored in one chunk has no pool pass).
        "SCORING_POOL_SWAP_MIN": "3",
    }
    env.pop("TEST_DB_NAME", None)
    queues = ",".join(all_queues())
    log_path = Path(os.environ.get("MEDIA_ROOT", "/tmp")) / f"{queue}.log"
    log_path.parent.mkdir(parents=True, exist_ok=True)

    class Worker:
        def __init__(self) -> None:
            self.queue = queue
            self.queues = queues.split(",")
            self.log_path = log_path
            self.process: subprocess.Popen | None = None

        def start(self) -> None:
            self.process = subprocess.Popen(
                [
                    sys.executable,
                    "-m",
                    "celery",
                    "-A",
                    "config",
                    "worker",
                    "-Q",
                    queues,
                    "-n",
                    f"{queue}@%h",
                    "--concurrency",
                    "2",
                    "--loglevel",
                    "INFO",
                    "--without-gossip",
                    "--without-mingle",
                ],
                cwd=ROOT,
                env=env,
                stdout=log_path.open("ab"),
                stderr=subprocess.STDOUT,
                start_new_session=True,
            )
            deadline = time.monotonic() + 60
            while time.monotonic() < deadline:
                if self.process.poll() is not None:
                    raise RuntimeError(f"worker exited early:\n{log_path.read_text()[-3000:]}")
                if app.control.ping(destination=[f"{queue}@{os.uname().nodename}"], timeout=0.5):
                    return
            raise RuntimeError(f"worker did not answer:\n{log_path.read_text()[-3000:]}")

        def stop(self) -> None:
            if self.process and self.process.poll() is None:
                os.killpg(self.process.pid, 15)
                try:
                    self.process.wait(timeout=20)
                except subprocess.TimeoutExpired:
                    os.killpg(self.process.pid, 9)
                    self.process.wait()

        def restart(self) -> None:
            self.stop()
            self.start()

    worker = Worker()
    with django_db_blocker.unblock():
        worker.start()
    yield worker
    worker.stop()
    # Close our connections so the test database can be dropped.
    from django.db import connections

    connections.close_all()


# A real S3-compatible server (moto's server process on loopback), for media on object storage.
from tests.annotate.s3_server import s3_server  # noqa: E402,F401
