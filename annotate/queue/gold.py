"""Gold tasks: tasks a manager marked with a reference annotation (a manager's accepted
annotation, or an import into the task), served to annotators at the project's gold share
and scored against the reference when they submit.

Each annotator gets a copy of the gold task (a task of its own, `gold_of` naming the gold
task; GoldAttempt ties the two to the annotator): their labels go to the copy, so the
reference is never shown to them or overwritten, and any number of annotators can try the
same gold task. To the annotator a copy is a task like any other: it comes from the same
claim, with a priority like the queue's, and nothing the page or the API shows says gold.

When the gold share comes due is decided per annotator, deterministically: their n-th claim
in the project serves gold when floor((n + 1) x share + phase) > floor(n x share + phase),
with a phase in [0, 1) hashed from (user, project), so the share holds exactly over their
claims yet the gold claims do not fall on the same numbers for everyone.
"""

from __future__ import annotations

import hashlib
import math

from django.db import connection, transaction
from django.db.models import Exists, Max, OuterRef
from django.utils import timezone

from annotate.models import (
    Annotation,
    AnnotationTask,
    GoldAttempt,
    QualitySettings,
    QueueEntry,
    TaskLease,
)
from annotate.quality.attempts import annotation_shapes, attempt_score
from annotate.services.errors import ServiceError

from .priorities import priorities_set
from .sampling import recent_work_send_to_review

State = AnnotationTask.State


class GoldRefused(ServiceError):
    status = 400
    code = "invalid"


# --- marking ---------------------------------------------------------------------------


def _default_reference(task: AnnotationTask) -> Annotation | None:
    """A manager's accepted annotation (the task's latest version once accepted), else the
    task's latest import."""
    versions = task.annotations.order_by("-version")
    if task.state == State.ACCEPTED:
        return versions.exclude(kind=Annotation.Kind.DRAFT).first()
    return versions.filter(kind=Annotation.Kind.IMPORT).first()


def task_mark_gold(*, task: AnnotationTask, reference: Annotation | None = None) -> AnnotationTask:
    """Make `task` a gold task with `reference` (an annotation of the task) as what attempts
    are scored against; without one, its accepted annotation or its latest import. Raises
    GoldRefused (400) for a copy, a task held or waiting in the queue, or no reference."""
    with transaction.atomic():
        task = AnnotationTask.objects.select_for_update().get(pk=task.pk)
        if task.gold_of_id is not None:
            raise GoldRefused(
                "This task is a copy served to an annotator; mark its gold task instead.",
                detail={"errors": {"task": ["A copy cannot be gold."]}},
            )
        if reference is None:
            reference = _default_reference(task)
        errors = {}
        if reference is None:
            errors["reference"] = [
                "This task has no reference yet: accept an annotation of it or import one."
            ]
        elif reference.task_id != task.pk:
            errors["reference"] = ["The reference must be an annotation of this task."]
        if task.state in (State.IN_PROGRESS, State.SUBMITTED, State.IN_REVIEW, State.REJECTED):
            errors["task"] = [
                f"This task is {task.get_state_display().lower()}: finish its review first."
            ]
        if errors:
            raise GoldRefused("The task cannot be gold.", detail={"errors": errors})
        task.is_gold, task.gold_reference = True, reference
        # Out of the queue for good: the gold task itself is never claimed, only its copies.
        if task.state == State.PENDING:
            task.state = State.ACCEPTED
            task.reviewed_at = task.reviewed_at or timezone.now()
        task.save(update_fields=["is_gold", "gold_reference", "state", "reviewed_at", "updated_at"])
    return task


def task_unmark_gold(*, task: AnnotationTask) -> AnnotationTask:
    """No more copies of the task are served; attempts already made keep their scores."""
    AnnotationTask.objects.filter(pk=task.pk).update(is_gold=False, gold_reference=None)
    task.refresh_from_db()
    return task


# --- serving -----------------------------------------------------------------------------


def _phase(user_id: int, project_id: int) -> float:
    digest = hashlib.blake2b(f"{user_id}:{project_id}".encode(), digest_size=8).digest()
    return int.from_bytes(digest, "big") / 2**64


def gold_due(*, claims_so_far: int, share: float, user_id: int, project_id: int) -> bool:
    """Whether the annotator's next claim (after `claims_so_far`) serves gold."""
    if share <= 0:
        return False
    phase = _phase(user_id, project_id)
    return math.floor((claims_so_far + 1) * share + phase) > math.floor(
        claims_so_far * share + phase
    )


def gold_copy_for(
    *, user, project_id: int, share: float, exclude: set[int]
) -> AnnotationTask | None:
    """The copy to serve the user now, or None when gold is not due (or none is left for
    them). An unfinished copy of theirs (its lease expired) comes first; else, when gold is
    due, a new copy of a gold task they never tried (nor labeled themselves). `share`: the
    project's gold share, as the claim statement read it."""
    if not share:
        return None
    held = TaskLease.objects.filter(task=OuterRef("pk"), user=user, state=TaskLease.State.ACTIVE)
    unfinished = (
        AnnotationTask.objects.filter(
            gold_attempt__annotator=user, project_id=project_id, state=State.PENDING
        )
        .exclude(Exists(held))
        .exclude(pk__in=exclude)
        .first()
    )
    if unfinished is not None:
        return unfinished
    mine = TaskLease.objects.filter(user=user, task__project_id=project_id)
    if mine.filter(state=TaskLease.State.ACTIVE).exclude(task_id__in=exclude).exists():
        return None  # the claim hands back the task they hold
    claims = mine.count()
    if not gold_due(claims_so_far=claims, share=share, user_id=user.pk, project_id=project_id):
        return None
    gold = (
        AnnotationTask.objects.filter(project_id=project_id, is_gold=True)
        .exclude(gold_reference__isnull=True)
        .exclude(gold_attempts__annotator=user)
        .exclude(annotator=user)
        .exclude(gold_reference__author=user)
        .order_by("?")
        .first()
    )
    if gold is None:
        return None
    # Its priority reads like the queue's: that of the task the claim would give otherwise.
    top = (
        QueueEntry.objects.filter(project_id=project_id, queued=True).aggregate(p=Max("priority"))[
            "p"
        ]
        or 0.0
    )
    copy = AnnotationTask.objects.create(
        project_id=project_id,
        asset_id=gold.asset_id,
        kind=gold.kind,
        frame_start=gold.frame_start,
        frame_end=gold.frame_end,
        frame_count=gold.frame_count,
        gold_of=gold,
    )
    with connection.cursor() as cursor:
        priorities_set(cursor, project_id=project_id, ids=[copy.pk], values=[float(top)])
    GoldAttempt.objects.create(gold_task=gold, copy=copy, annotator=user)
    return copy


# --- scoring -----------------------------------------------------------------------------


def gold_attempt_score(*, copy: AnnotationTask, annotation: Annotation) -> GoldAttempt:
    """Score the submitted copy against its gold task's reference and store the score; a
    failing score sends the annotator's recent work to review (annotate.queue.sampling).
    Runs inside the submit's transaction."""
    attempt = GoldAttempt.objects.select_for_update().get(copy=copy)
    gold = AnnotationTask.objects.select_related("gold_reference", "project").get(
        pk=attempt.gold_task_id
    )
    reference = annotation_shapes(gold.gold_reference, gold)
    score, metric = attempt_score(
        reference,
        annotation_shapes(annotation, copy),
        keypoint_names=gold.project.keypoint_names,
    )
    settings = QualitySettings.for_project(copy.project_id)
    attempt.score, attempt.metric = round(float(score), 6), metric
    attempt.passed = score >= settings.gold_pass_score
    attempt.scored_at = timezone.now()
    if not attempt.passed:
        attempt.sent_to_review = recent_work_send_to_review(
            project_id=copy.project_id,
            annotator_id=attempt.annotator_id,
            count=settings.gold_recent_tasks,
        )
    attempt.save()
    return attempt
