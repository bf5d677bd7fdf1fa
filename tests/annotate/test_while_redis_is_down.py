"""Redis stopped for real (a private server: the cache and the task queue both live there):
labeling goes on (next task, drafts, submit, review, reading spend); what needs the queue is
a 503 with Retry-After whose job waits, saying so, and is sent once Redis is back; logging in
fails closed with a 503 that says when to try again (its throttle counts in Redis)."""

from __future__ import annotations

from datetime import timedelta

import pytest
import redis
from celery import Celery
from django.utils import timezone
from rest_framework.test import APIClient

from annotate.jobs import jobs_sweep
from annotate.models import AnnotationTask, ExportJob
from annotate.models.jobs import RESEND_AFTER_S
from tests.conftest import PASSWORD

from .queue_fixtures import client_for, make_tasks
from .worker_faults import PrivateRedis

pytestmark = pytest.mark.django_db(transaction=True)

BOX = {"frame": None, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50}
QUEUE = "while-redis-is-down"


@pytest.fixture
def stopped_redis(tmp_path, settings, monkeypatch):
    """A private Redis holding the cache and the queue, stopped. `.start()` brings it back."""
    server = PrivateRedis(tmp_path / "redis")
    settings.CACHES = {
        "default": {
            "BACKEND": "django.core.cache.backends.redis.RedisCache",
            "LOCATION": server.url,
        }
    }
    sender = Celery(broker=server.url)

    def send(name: str, args: list) -> None:
        sender.send_task(name, args=args, queue=QUEUE, ignore_result=True)

    monkeypatch.setattr("annotate.jobs.job_send", send)
    server.stop()
    yield server
    sender.close()
    if server.process.poll() is None:
        server.stop()


def _says_when_to_retry(answer) -> None:
    assert answer.status_code == 503
    assert int(answer["Retry-After"]) > 0


def test_next_task_drafts_and_submit_work_while_redis_is_down(project, alice, stopped_redis):
    make_tasks(project, 2)
    client = client_for(alice)

    task = client.post(f"/api/projects/{project.pk}/tasks/next/", {}, format="json")
    assert task.status_code == 200
    task_id = task.json()["task"]["id"]
    draft = client.put(
        f"/api/tasks/{task_id}/annotation/",
        {"base_version": None, "payload": {"boxes": [BOX]}},
        format="json",
    )
    assert draft.status_code == 200
    submitted = client.post(
        f"/api/tasks/{task_id}/submit/",
        {"base_version": 1, "payload": {"boxes": [BOX, {**BOX, "x": 200}]}},
        format="json",
    )
    assert submitted.status_code == 200 and submitted.json()["version"] == 2
    assert AnnotationTask.objects.get(pk=task_id).state == "submitted"


def test_review_and_reading_spend_work_while_redis_is_down(
    project, alice, rita, pat, stopped_redis
):
    make_tasks(project, 1)
    client = client_for(alice)
    task_id = client.post(f"/api/projects/{project.pk}/tasks/next/", {}, format="json").json()[
        "task"
    ]["id"]
    client.post(
        f"/api/tasks/{task_id}/submit/",
        {"base_version": None, "payload": {"boxes": [BOX]}},
        format="json",
    )

    review = client_for(rita).post(
        f"/api/tasks/{task_id}/review/", {"decision": "accept"}, format="json"
    )
    assert review.status_code == 200 and review.json()["state"] == "accepted"
    budget = client_for(pat).get(f"/api/projects/{project.pk}/budget/")
    assert budget.status_code == 200 and budget.json()["spent"]["tasks_spent"] == 1


def test_an_export_asked_for_while_redis_is_down_is_a_503_and_is_sent_once_redis_is_back(
    project, pat, stopped_redis
):
    answer = client_for(pat).post(
        f"/api/projects/{project.pk}/exports/", {"format": "coco"}, format="json"
    )

    _says_when_to_retry(answer)
    body = answer.json()
    assert body["state"] == "queued" and "unreachable" in body["error"]

    stopped_redis.start()
    report = jobs_sweep(now=timezone.now() + timedelta(seconds=RESEND_AFTER_S + 1))

    assert report.sent == {"annotate.ExportJob": [body["id"]]}
    assert ExportJob.objects.get(pk=body["id"]).state == "queued"  # for a worker to take
    waiting = redis.Redis.from_url(stopped_redis.url).llen(QUEUE)
    assert waiting >= 1


def test_a_scoring_run_started_while_redis_is_down_is_a_503_that_says_it_waits(
    project, pat, stopped_redis
):
    make_tasks(project, 2)

    answer = client_for(pat).post(f"/api/projects/{project.pk}/scoring-runs/", {}, format="json")

    _says_when_to_retry(answer)
    assert answer.json()["run"]["state"] == "queued"
    assert "unreachable" in answer.json()["detail"]


def test_logging_in_while_redis_is_down_fails_closed_with_a_503_that_says_when_to_retry(
    alice, stopped_redis
):
    api = APIClient().post("/api/token/", {"username": "alice", "password": PASSWORD})
    _says_when_to_retry(api)
    assert "cannot be reached" in api.json()["detail"]

    page = APIClient().post("/accounts/login/", {"username": "alice", "password": PASSWORD})
    _says_when_to_retry(page)
    assert b"Logging in is unavailable for a moment" in page.content
