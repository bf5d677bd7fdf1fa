"""Every Celery task of the annotate app. Each takes ids, loads rows and calls a service; all
are idempotent (claims by conditional update), so late acks are safe, and those that run work
are JobTasks (annotate.jobs: retried with backoff when the database connection is lost).
Services never import this module: they send work by task name (annotate.jobs)."""

from __future__ import annotations

from celery import shared_task

from annotate.buckets import services as buckets
from annotate.exchange import services as exchange
from annotate.ingest.services import videos_enqueue_pending
from annotate.ingest.video import video_process
from annotate.jobs import JobTask
from annotate.jobs import jobs_sweep as sweep
from annotate.propagation import services as propagation
from annotate.queue import priorities, upkeep


@shared_task(base=JobTask, name="annotate.process_video")
def process_video(asset_id: int) -> str:
    """Extract a pending video's frames and make its segment tasks.

    Idempotent (a compare-and-set claim; everything written in one transaction at the end),
    so a redelivery after a lost worker just runs it again.
    """
    return video_process(asset_id=asset_id)


@shared_task(name="annotate.requeue_pending_videos")
def requeue_pending_videos() -> int:
    """Queue again the videos left pending (the queue was down at upload) or processing
    (their worker died). Meant for a periodic schedule; repeating it is harmless."""
    return videos_enqueue_pending()


@shared_task(name="annotate.queue_changes_sweep")
def queue_changes_sweep() -> int:
    """Periodic (config/celery.py): the queue rows' changes the triggers logged and no
    writer applied (annotate.queue.priorities.queue_changes_sweep). Repeating it is
    harmless."""
    return priorities.queue_changes_sweep()


@shared_task(name="annotate.queue_vacuum")
def queue_vacuum() -> int:
    """Periodic (config/celery.py): vacuum the queue's generations whose index heads filled
    with claimed tasks, and analyze the lease table once it outgrew its statistics
    (annotate.queue.upkeep). Returns how many generations were vacuumed."""
    vacuumed = upkeep.queue_vacuum()
    upkeep.lease_analyze()
    return len(vacuumed)


@shared_task(name="annotate.jobs_sweep")
def jobs_sweep(all_queued: bool = False) -> int:
    """Periodic (config/celery.py): every job kind's queued jobs the broker never got are
    sent again; running ones whose worker died are run again or failed with the reason.
    Returns how many jobs it acted on; repeating it is harmless."""
    return sweep(all_queued=all_queued).total


@shared_task(base=JobTask, name="annotate.exchange.export_run")
def export_run(job_id: int) -> str:
    return exchange.export_run(job_id=job_id).state


# Not retried on a lost database connection: the import's transaction may have committed
# just before it broke, and a second run would import the file twice. Its job fails saying so.
@shared_task(
    base=JobTask,
    name="annotate.exchange.import_run",
    retries_database_faults=False,
    autoretry_for=(),
)
def import_run(job_id: int) -> str:
    return exchange.import_run(job_id=job_id).state


@shared_task(name="annotate.propagation_run", acks_late=True, reject_on_worker_lost=True)
def propagation_run(job_id: int) -> str:
    """Carry a video task's tracks along its frames (annotate.propagation.services).
    Idempotent: a compare-and-set claim, and its versions are written in one transaction with
    the job's end, so a second delivery finds the job taken or finished."""
    return propagation.propagation_run(job_id=job_id).state


@shared_task(base=JobTask, name="annotate.bucket_register")
def bucket_register(job_id: int) -> str:
    """List a bucket source into assets and tasks (annotate.buckets.services). Idempotent:
    keys registered already are left alone, so a run again only adds what is missing."""
    return buckets.bucket_register(job_id=job_id).state


@shared_task(base=JobTask, name="annotate.bucket_decode")
def bucket_decode(asset_ids: list[int]) -> int:
    """Size, thumbnail and features of registered images read from their bucket. Idempotent:
    each asset is written once, by a conditional update of a pending one."""
    return buckets.bucket_decode(asset_ids=asset_ids)
