"""The loop's answers to annotate's events (annotate.events), connected in apps.ready, and
the periodic catch-up that gives them a second chance.

Each receiver brings one project's loop up to date and is safe to call again: the catch-up
(`loop_catch_up`, every few minutes from config/celery.py) calls the same functions for every
project that changed lately, so a receiver that failed (the database was away, a bug fixed
since) costs a delay, never a lost rescoring or retraining round.
"""

from __future__ import annotations

import datetime as dt
import logging

from django.db.models import Max
from django.utils import timezone

from activelearn.demo import demo_learning_ensure
from activelearn.models import ScoringRun
from activelearn.predictions.disagreement import model_disagreement_fill
from activelearn.retraining import rounds
from activelearn.scoring import runs
from activelearn.scoring.auto import auto_picks_record
from annotate import events
from annotate.models import AnnotationTask, Project

logger = logging.getLogger(__name__)

CATCH_UP_WINDOW = dt.timedelta(hours=6)


def tasks_added(*, project_id: int) -> ScoringRun | None:
    """New tasks take their place in the queue, unless a run newer than them already did."""
    newest_task = AnnotationTask.objects.filter(
        project_id=project_id, state=AnnotationTask.State.PENDING
    ).aggregate(at=Max("created_at"))["at"]
    newest_run = ScoringRun.objects.filter(project_id=project_id).aggregate(at=Max("created_at"))[
        "at"
    ]
    if newest_task is None or (newest_run is not None and newest_run >= newest_task):
        return None
    return runs.tasks_added(project_id=project_id)


def labels_submitted(*, project_id: int) -> None:
    project = Project.objects.get(pk=project_id)
    runs.maybe_rescore_after_labels(project=project)
    rounds.labels_submitted(project_id=project_id)
    # The review sample weighs how far each submission strays from the model's prediction.
    model_disagreement_fill(project_id=project_id)
    # Last, so a failure here never holds up the rescoring or the round (the catch-up
    # records these picks later); the run reads the credits when its worker starts it.
    auto_picks_record(project_id=project_id)


def labels_accepted(*, project_id: int) -> None:
    rounds.labels_accepted(project_id=project_id)
    auto_picks_record(project_id=project_id)


def _receiver(function):
    def receive(sender, *, project_id: int, **_kwargs) -> None:
        function(project_id=project_id)

    receive.__qualname__ = f"activelearn.receivers.{function.__name__}"
    return receive


_RECEIVERS = {
    events.TASKS_ADDED: _receiver(tasks_added),
    events.LABELS_SUBMITTED: _receiver(labels_submitted),
    events.LABELS_ACCEPTED: _receiver(labels_accepted),
    events.DEMO_SEEDED: _receiver(demo_learning_ensure),
}


def receivers_connect() -> None:
    for signal, receiver in _RECEIVERS.items():
        signal.connect(receiver, dispatch_uid=receiver.__qualname__)


def loop_catch_up(*, now: dt.datetime | None = None) -> int:
    """Call every receiver again for each project whose tasks changed in the last hours.
    Returns the number of projects looked at."""
    since = (now or timezone.now()) - CATCH_UP_WINDOW
    project_ids = list(
        AnnotationTask.objects.filter(updated_at__gte=since)
        .order_by()  # the model's ordering would make DISTINCT keep one row per task
        .values_list("project_id", flat=True)
        .distinct()
    )
    for project_id in project_ids:
        for function in (tasks_added, labels_submitted, labels_accepted):
            try:
                function(project_id=project_id)
            except Exception:
                logger.exception("catch-up %s failed for project %s", function.__name__, project_id)
    return len(project_ids)
