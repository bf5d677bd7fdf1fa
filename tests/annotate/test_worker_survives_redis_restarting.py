"""Redis stopped and started again while a real worker runs a job: the worker reconnects and
finishes the job instead of exiting. It used to die with `Unrecoverable error:
AttributeError("'NoneType' object has no attribute 'hostname'")` (config/celery.py).

The first test is the crash itself, step by step as Celery's consumer takes it (whether a
real worker meets it depends on which of its sockets notices the loss first); the second is
the whole story on a real worker."""

from __future__ import annotations

import contextlib

import pytest
from kombu import Connection, Exchange, Queue
from kombu.common import ignore_errors

from annotate.exchange.services import export_create
from annotate.models import ExportJob

from .exchange_builders import labeled_project
from .worker_faults import PrivateRedis, paused_worker_running, wait_until

pytestmark = pytest.mark.worker


@pytest.fixture
def paused_worker(tmp_path, transactional_db, monkeypatch):
    yield from paused_worker_running(tmp_path, monkeypatch)


def _finished(job_id: int) -> ExportJob | None:
    job = ExportJob.objects.get(pk=job_id)
    return job if job.state in ("done", "failed") else None


def test_closing_a_lost_broker_connection_with_a_task_unacknowledged_raises_no_attribute_error(
    tmp_path,
):
    """What the worker's consumer does when Redis goes away (celery.worker.consumer.
    Consumer.on_connection_error_after_connected): collect the connection, then close it.
    Its channel holds a late-acked message and a fanout queue (remote control), so closing
    it tries to give the message back to Redis after the connection lost its settings."""
    redis = PrivateRedis(tmp_path / "redis")
    with Connection(redis.url) as producer:
        producer.SimpleQueue("jobs").put({"job": 1})
    connection = Connection(redis.url)
    received = []
    consumer = connection.Consumer(
        [
            Queue("jobs", Exchange("jobs"), "jobs"),
            Queue("control", Exchange("control", type="fanout"), auto_delete=True),
        ],
        callbacks=[lambda body, message: received.append(message)],
        accept=["json"],
    )
    consumer.qos(prefetch_count=2)
    consumer.consume()
    connection.drain_events(timeout=5)
    assert len(received) == 1 and not received[0].acknowledged
    with contextlib.suppress(TimeoutError):  # waiting for more, as a worker with room does
        connection.drain_events(timeout=0.2)

    redis.stop()
    with contextlib.suppress(Exception):  # as Celery: collecting may fail; it goes on
        connection.collect(socket_timeout=1)
    ignore_errors(connection, connection.close)  # raised AttributeError before the fix


def test_a_worker_whose_redis_restarts_mid_job_reconnects_and_finishes_the_job(
    paused_worker, project, pat
):
    labeled_project(project)
    job = export_create(project=project, user=pat, format="coco")
    paused_worker.paused_pid()  # claimed, and waiting to write

    paused_worker.redis.stop()
    wait_until(lambda: "Connection to broker lost" in paused_worker.log(), "the worker noticing")
    paused_worker.redis.start()
    paused_worker.go()

    job = wait_until(lambda: _finished(job.pk), "the export finishing")
    assert (job.state, job.attempts, job.tasks_done, job.error) == ("done", 1, 3, "")
    assert paused_worker.process.poll() is None, paused_worker.log()[-3000:]
    assert "Unrecoverable error" not in paused_worker.log()

    # Connected again: work sent after the restart is taken.
    second = export_create(project=project, user=pat, format="yolo")
    second = wait_until(lambda: _finished(second.pk), "an export sent after the restart")
    assert second.state == "done"
