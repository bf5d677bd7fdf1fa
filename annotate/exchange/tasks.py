"""Celery tasks of export and import: each takes a job id and calls its service. Both are
idempotent (the job is claimed with a conditional update), so late acks are safe."""

from __future__ import annotations

from celery import shared_task

from . import services


@shared_task(name="annotate.exchange.export_run", acks_late=True, reject_on_worker_lost=True)
def export_run(job_id: int) -> str:
    return services.export_run(job_id=job_id).state


@shared_task(name="annotate.exchange.import_run", acks_late=True, reject_on_worker_lost=True)
def import_run(job_id: int) -> str:
    return services.import_run(job_id=job_id).state
