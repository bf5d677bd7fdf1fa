"""Queues per kind of work (settings WORK_QUEUES): every job kind goes to its own queue, the
sweep's re-sends too, and with a real worker per queue a long export does not delay a
scoring run, while one worker for both makes it wait."""

from __future__ import annotations

import json
import uuid
from datetime import timedelta
from pathlib import Path

import pytest
import redis
from django.conf import settings
from django.utils import timezone

from activelearn.models import LearningSettings, ScoringRun
from activelearn.scoring.runs import scoring_run_start
from annotate.exchange.services import export_create
from annotate.jobs import job_models, jobs_sweep
from annotate.models.exchange_jobs import ExportJob
from config.celery import app, work_queue
from tests.activelearn.scoring_helpers import (
    colour_classifier_onnx,
    image_spec,
    image_task_create,
    version_register,
)
from tests.annotate.exchange_builders import labeled_project
from tests.workers import Worker, wait_until

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]

EXPECTED_QUEUE = {
    "annotate.process_video": "ingest",
    "annotate.bucket_register": "ingest",
    "annotate.bucket_decode": "ingest",
    "activelearn.score_project": "scoring",
    "activelearn.score_chunk": "scoring",
    "annotate.propagation_run": "scoring",
    "activelearn.retrain_baseline": "training",
    "activelearn.audit_measure": "training",
    "annotate.exchange.export_run": "exchange",
    "annotate.exchange.import_run": "exchange",
    "activelearn.webhook_deliver": "webhooks",
    # Periodic: short, and they only send other work.
    "annotate.jobs_sweep": None,
    "annotate.requeue_pending_videos": None,
    "annotate.queue_changes_sweep": None,
    "annotate.queue_vacuum": None,
    "activelearn.loop_catch_up": None,
}


@pytest.fixture
def prefix(settings) -> str:
    """Queues of this test alone (TEST.<id>.scoring, ...), whatever else shares Redis."""
    settings.WORK_QUEUE_PREFIX = f"q{uuid.uuid4().hex[:10]}."
    yield settings.WORK_QUEUE_PREFIX
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    client.delete(*(work_queue(kind) for kind in settings.WORK_QUEUES))
    client.close()


def _queue_of(task_name: str) -> str:
    return app.amqp.router.route({}, task_name)["queue"].name


def test_every_task_of_both_apps_goes_to_the_queue_of_its_kind_of_work(prefix):
    app.loader.import_default_modules()  # every app's tasks.py
    ours = {name for name in app.tasks if name.startswith(("annotate.", "activelearn."))}
    assert ours == set(EXPECTED_QUEUE), "a new task needs its queue in settings"
    for name, kind in EXPECTED_QUEUE.items():
        expected = f"{prefix}{kind}" if kind else app.conf.task_default_queue
        assert _queue_of(name) == expected, name
    # Every job kind's task has a queue of its own, never the default one.
    for model in job_models():
        assert _queue_of(model.task_name).startswith(prefix), model.task_name


def test_the_sweep_sends_an_overdue_export_again_to_the_exchange_queue(prefix, project, pat):
    labeled_project(project)
    job = export_create(project=project, user=pat, format="coco")
    client = redis.Redis.from_url(settings.CELERY_BROKER_URL)
    exchange = work_queue("exchange")
    client.delete(exchange)  # what the first send put there: the broker "lost" it
    ExportJob.objects.filter(pk=job.pk).update(deadline_at=timezone.now() - timedelta(seconds=1))

    report = jobs_sweep()

    assert report.sent == {"annotate.ExportJob": [job.pk]}
    messages = [json.loads(raw) for raw in client.lrange(exchange, 0, -1)]
    assert [(m["headers"]["task"], m["headers"]["argsrepr"]) for m in messages] == [
        ("annotate.exchange.export_run", f"[{job.pk}]")
    ]
    for kind in ("ingest", "scoring", "training", "webhooks"):
        assert client.llen(work_queue(kind)) == 0, kind
    client.close()


@pytest.fixture
def workers(tmp_path, prefix):
    started: list[Worker] = []
    pause_dir = tmp_path / "pause"
    pause_dir.mkdir()

    def start(name: str, *kinds: str) -> Worker:
        worker = Worker(
            name,
            [work_queue(k) for k in kinds],
            tmp_path / f"{name}.log",
            env={"PAUSE_DIR": str(pause_dir)},
        )
        started.append(worker)
        return worker

    start.pause_dir = pause_dir
    yield start
    (pause_dir / "go").touch()
    for worker in started:
        worker.stop()


def _long_export_and_a_scoring_run(project, pat, pause_dir: Path):
    """An export that holds its worker (paused before it writes), then a scoring run."""
    labeled_project(project)
    LearningSettings.objects.create(
        project=project, strategy="margin", scoring_chunk_size=4, audit_share=0.0
    )
    version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    for i, colour in enumerate([(240, 10, 10), (128, 128, 128), (10, 10, 240)] * 2):
        image_task_create(project, colour, fmt="JPEG", salt=str(i))
    export = export_create(project=project, user=pat, format="coco")
    wait_until(lambda: list(pause_dir.glob("paused-*")), "the export holding its worker")
    return export, scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)


def _state(model, pk: int) -> str:
    return model.objects.get(pk=pk).state


def test_a_long_export_does_not_delay_a_scoring_run_on_a_worker_of_its_own(workers, project, pat):
    workers("exchange", "exchange")
    workers("scoring", "scoring")
    export, run = _long_export_and_a_scoring_run(project, pat, workers.pause_dir)

    wait_until(lambda: _state(ScoringRun, run.pk) == "done", "the scoring run", 60)
    assert _state(ExportJob, export.pk) == "running"  # still held at the pause

    (workers.pause_dir / "go").touch()
    wait_until(lambda: _state(ExportJob, export.pk) == "done", "the export", 60)


def test_one_worker_for_both_kinds_makes_the_scoring_run_wait_for_the_export(workers, project, pat):
    """The control: what the queue per kind of work is for."""
    workers("both", "exchange", "scoring")
    export, run = _long_export_and_a_scoring_run(project, pat, workers.pause_dir)

    with pytest.raises(AssertionError):
        wait_until(lambda: _state(ScoringRun, run.pk) == "done", "the scoring run", 8)
    assert _state(ExportJob, export.pk) == "running"

    (workers.pause_dir / "go").touch()
    wait_until(lambda: _state(ScoringRun, run.pk) == "done", "the scoring run", 60)
    assert _state(ExportJob, export.pk) == "done"
