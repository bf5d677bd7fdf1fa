"""The Celery app: Redis broker, JSON only, late acks, one task prefetched per process.

Tasks are routed to one queue per kind of work (route_task; the table is in settings).

Also kombu's Redis transport with one fix, for every redis:// broker URL: a worker that
loses Redis while a task is running no longer exits (see RedisTransport).
"""

import os

import kombu.transport
from celery import Celery
from django.conf import settings
from kombu.transport import redis as kombu_redis
from redis.exceptions import ConnectionError as RedisConnectionError

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")


class RedisChannel(kombu_redis.Channel):
    """A channel of a connection that was already torn down says so with a connection error
    (which kombu and Celery ignore while cleaning up) instead of an AttributeError.

    Without it, Redis going away while a late-acked task runs killed the worker
    ("Unrecoverable error: AttributeError("'NoneType' object has no attribute 'hostname'")"):
    on the connection loss Celery first collects the connection (which drops the transport's
    link to its settings), then closes it; closing the consumer's channel tries to give the
    running task's message back to Redis, and the channel, having lost its settings, failed
    with an error nobody expected. The message is not lost either way: it waits in Redis's
    unacked set until the visibility timeout (or, on a Redis that kept nothing, the jobs
    sweep sends the job again)."""

    def _connparams(self, asynchronous: bool = False) -> dict:
        if self.connection.client is None:
            raise RedisConnectionError("the broker connection of this channel was closed")
        return super()._connparams(asynchronous=asynchronous)


class RedisTransport(kombu_redis.Transport):
    Channel = RedisChannel


# kombu picks a transport by the broker URL's scheme in this table; redis:// (the only
# broker here) gets the class above. Other schemes (memory:// in seed_demo) are untouched.
kombu.transport.TRANSPORT_ALIASES["redis"] = f"{__name__}:RedisTransport"


def work_queue(kind: str) -> str:
    """The queue of one kind of work (settings WORK_QUEUES), with this run's prefix."""
    return f"{settings.WORK_QUEUE_PREFIX}{kind}"


def all_queues() -> list[str]:
    """Every queue a worker that does all the work listens to: the default one and one per
    kind of work (what `serve`'s embedded worker takes)."""
    return [app.conf.task_default_queue, *(work_queue(kind) for kind in settings.WORK_QUEUES)]


def route_task(name: str, args, kwargs, options, task=None, **_kw) -> dict | None:
    """Celery's router (settings CELERY_TASK_ROUTES): a task goes to its kind's queue
    (settings WORK_QUEUE_OF_TASK), anything else to the default queue. Read at every send,
    also for `send_task` by name, so the jobs sweep's re-sends go where the first send went."""
    kind = settings.WORK_QUEUE_OF_TASK.get(name)
    return {"queue": work_queue(kind)} if kind else None


app = Celery("annotate")
app.config_from_object("django.conf:settings", namespace="CELERY")
app.autodiscover_tasks()

# Periodic jobs, all of them. Scale-out runs one `celery -A config beat` beside the workers;
# `make run` runs beat inside its single worker.
app.conf.beat_schedule = {
    # A video uploaded while Redis was down (or whose worker died) would wait forever.
    "requeue-pending-videos": {
        "task": "annotate.requeue_pending_videos",
        "schedule": 300.0,
    },
    # Every job (scoring run, export, import, retraining round, webhook delivery) is a row
    # of the one job model. A job made while Redis was down (or by seed_demo before `serve`
    # started Redis) stays queued, and a job whose worker was killed stays running: no
    # message will ever come for either. This sends the first again and runs the second
    # again, or fails it with the reason in words (annotate.jobs.jobs_sweep).
    "jobs-sweep": {
        "task": "annotate.jobs_sweep",
        "schedule": float(settings.JOBS_SWEEP_EVERY_S),
    },
    # A claim or a skip never waits for a queue row that a re-rank holds locked: the change
    # is logged and the re-rank applies it once committed (annotate.queue.priorities). This
    # applies what a writer that died (or a claim after its catch-up) left in the log.
    "queue-changes-sweep": {
        "task": "annotate.queue_changes_sweep",
        "schedule": 60.0,
    },
    # Claimed tasks leave dead entries at the head of the queue's index, which every later
    # claim steps over until a VACUUM; a lease table that outgrew its statistics leaves
    # claims reading it whole until an ANALYZE (annotate.queue.upkeep).
    "queue-vacuum": {
        "task": "annotate.queue_vacuum",
        "schedule": 30.0,
    },
    # annotate's events (annotate.events) whose receiver failed: the loop catches up on every
    # project changed lately (rescoring, retraining rounds, new tasks' place in the queue).
    "loop-catch-up": {
        "task": "activelearn.loop_catch_up",
        "schedule": 300.0,
    },
}
