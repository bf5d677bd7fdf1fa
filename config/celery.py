"""The Celery app: Redis broker, JSON only, late acks, one task prefetched per process."""

import os

from celery import Celery

os.environ.setdefault("DJANGO_SETTINGS_MODULE", "config.settings")

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
        "schedule": 60.0,
    },
    # annotate's events (annotate.events) whose receiver failed: the loop catches up on every
    # project changed lately (rescoring, retraining rounds, new tasks' place in the queue).
    "loop-catch-up": {
        "task": "activelearn.loop_catch_up",
        "schedule": 300.0,
    },
}
