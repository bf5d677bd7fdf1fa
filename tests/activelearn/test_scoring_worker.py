"""Scoring through a real Celery worker on PostgreSQL and Redis: a project is scored end to
end, and a worker killed in the middle of a chunk loses nothing once the chunk is redone."""

from __future__ import annotations

import json
import os
import signal
import time
from pathlib import Path

import pytest

from activelearn.models import LearningSettings, ScoringRun, TaskScore
from activelearn.scoring.runs import scoring_run_start
from annotate.models import AnnotationTask, QueueEntry, QueueGeneration
from annotate.queue.selectors import with_priority
from tests.activelearn.scoring_helpers import (
    cnn_classifier_onnx,
    colour_classifier_onnx,
    image_spec,
    image_task_create,
    version_register,
)

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


def _wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _run_state(run: ScoringRun) -> ScoringRun:
    run.refresh_from_db()
    return run


def _redeliver_unacked(queues: list[str]) -> int:
    """What Redis does once the broker's visibility timeout (hours, in settings) has passed:
    messages a dead worker took but never acknowledged go back on their queue. Only this
    worker's queues' messages, so other workers sharing the Redis database are left alone."""
    from config.celery import app

    restored = 0
    with app.connection_for_write() as connection:
        channel = connection.default_channel
        client, qos = channel.client, channel.qos
        for tag, payload in client.hgetall(qos.unacked_key).items():
            _message, _exchange, routing_key = json.loads(payload)
            if routing_key in queues:
                qos.restore_by_tag(tag, client)
                restored += 1
    return restored


def test_a_real_worker_scores_a_project_and_writes_scores_and_priorities(project, celery_worker):
    # The ranking alone: no random audit share parked out of the priority order.
    LearningSettings.objects.create(
        project=project, strategy="margin", scoring_chunk_size=3, audit_share=0.0
    )
    version = version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    colours = [(240, 10, 10), (10, 240, 10), (128, 128, 128), (10, 10, 240)] * 2
    tasks = [
        image_task_create(project, colour, fmt="JPEG", salt=str(i))
        for i, colour in enumerate(colours)
    ]
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.ACTIVATION)

    _wait_for(lambda: _run_state(run).state == "done", timeout=60, what="the run to finish")

    assert (run.chunks_done, run.chunks_total, run.tasks_scored) == (3, 3, len(tasks))
    assert TaskScore.objects.filter(model_version=version).count() == len(tasks)
    head = (
        with_priority(AnnotationTask.objects.all())
        .order_by("-priority", "pk")
        .values_list("pk", flat=True)[:2]
    )
    assert set(head) == {tasks[2].pk, tasks[6].pk}  # the greys: closest calls first


def _slow_project(project):
    """160 pictures in 2 chunks; a real, heavy CNN and batches of 4 make each chunk take
    seconds, long enough to kill a worker in the middle of one."""
    LearningSettings.objects.create(project=project, strategy="entropy", scoring_chunk_size=80)
    version = version_register(
        project, cnn_classifier_onnx(size=224, width=64), spec=image_spec(224, batch_size=4)
    )
    tasks = [
        image_task_create(project, (i, 255 - i, 90), size=(240, 240), fmt="JPEG", salt=str(i))
        for i in range(160)
    ]
    return version, tasks


def _start_and_wait_for_a_chunk(project, celery_worker) -> ScoringRun:
    log = celery_worker.log_path
    log_start = log.stat().st_size if log.exists() else 0

    def chunk_started() -> bool:
        text = log.read_text(errors="replace")[log_start:]
        return "activelearn.score_chunk[" in text and "received" in text

    run = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    _wait_for(chunk_started, timeout=60, what="a chunk to start")
    time.sleep(0.5)  # each chunk takes seconds; the assertions below check it was mid-way
    return run


def test_a_real_workers_pool_pass_swaps_the_pools_order_in(project, celery_worker):
    # The default strategy reads the whole pool: chunks of two, then the pool pass over all
    # five tasks, past the worker's SCORING_POOL_SWAP_MIN (tests/conftest.py).
    LearningSettings.objects.create(project=project, scoring_chunk_size=2, audit_share=0.0)
    version = version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    colours = [(240, 10, 10), (10, 240, 10), (128, 128, 128), (10, 10, 240), (200, 120, 60)]
    tasks = [image_task_create(project, colour, features=True) for colour in colours]
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.ACTIVATION)

    _wait_for(lambda: _run_state(run).state == "done", timeout=60, what="the run to finish")

    assert QueueGeneration.objects.get(project=project).gen > 0  # swapped in
    scores = dict(TaskScore.objects.filter(model_version=version).values_list("task_id", "score"))
    assert len(scores) == len(tasks)
    stored = dict(QueueEntry.objects.filter(project=project).values_list("task_id", "priority"))
    assert stored == pytest.approx(scores)


def test_a_worker_killed_mid_chunk_loses_nothing_and_the_chunk_is_redone(project, celery_worker):
    version, tasks = _slow_project(project)
    run = _start_and_wait_for_a_chunk(project, celery_worker)
    os.killpg(celery_worker.process.pid, signal.SIGKILL)
    celery_worker.process.wait()

    run = _run_state(run)
    assert run.state == "running"
    assert run.chunks_total == 2
    assert run.chunks_done < run.chunks_total, "the kill came too late to be mid-chunk"
    scored_before = TaskScore.objects.filter(model_version=version).count()
    assert scored_before == 80 * run.chunks_done  # a chunk commits whole or not at all

    celery_worker.restart()
    assert _redeliver_unacked(celery_worker.queues) >= 1
    _wait_for(lambda: _run_state(run).state == "done", timeout=120, what="the redone run")

    assert (run.chunks_done, run.chunks_total, run.tasks_scored) == (2, 2, len(tasks))
    assert TaskScore.objects.filter(model_version=version).count() == len(tasks)
    assert not QueueEntry.objects.filter(project=project, priority=0).exists()


def test_a_pool_process_killed_mid_chunk_is_requeued_and_redone(project, celery_worker):
    """The out-of-memory case: a pool process dies, its worker lives on and, because the
    task rejects on worker loss, puts the message back for another process."""
    version, tasks = _slow_project(project)
    run = _start_and_wait_for_a_chunk(project, celery_worker)
    main = celery_worker.process.pid
    children = Path(f"/proc/{main}/task/{main}/children").read_text().split()
    assert children, "the worker has no pool processes"
    for child in children:
        os.kill(int(child), signal.SIGKILL)

    assert _run_state(run).chunks_done < 2, "the kill came too late to be mid-chunk"
    _wait_for(lambda: _run_state(run).state == "done", timeout=120, what="the redone run")

    assert (run.chunks_done, run.chunks_total, run.tasks_scored) == (2, 2, len(tasks))
    assert TaskScore.objects.filter(model_version=version).count() == len(tasks)


def test_without_a_model_the_worker_orders_the_queue_for_coverage(project, celery_worker):
    LearningSettings.objects.create(project=project, audit_share=0.0)  # the ranking alone
    greys = [
        image_task_create(project, (100 + i, 100 + i, 100 + i), features=True) for i in range(6)
    ]
    red = image_task_create(project, (230, 20, 20), features=True)
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.COLD_START)

    _wait_for(lambda: _run_state(run).state == "done", timeout=60, what="the cold start")

    assert (run.reason, run.chunks_done, run.chunks_total, run.tasks_scored) == (
        "cold_start",
        1,
        1,
        len(greys) + 1,
    )
    head = (
        with_priority(AnnotationTask.objects.all())
        .order_by("-priority", "pk")
        .values_list("pk", flat=True)[:2]
    )
    assert red.pk in head
