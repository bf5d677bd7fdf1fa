"""A reviewer's decision on submitted work: accept it, or send it back to its annotator with
a comment that the annotator sees when the task returns to them."""

from __future__ import annotations

from django.db import transaction
from django.utils import timezone

from annotate.events import labels_accepted
from annotate.services.errors import ServiceError, ShapeValidationError

from ..models import AnnotationTask, Review
from .sampling import second_review_after_accept, second_reviewer_check

MAX_COMMENT_LENGTH = 5000


class TaskNotReviewable(ServiceError):
    status = 409
    code = "task_not_reviewable"


def review_decide(*, task: AnnotationTask, reviewer, decision: str, comment: str = "") -> Review:
    """Record the decision on the latest submitted version.

    accept -> task "accepted"; reject -> task "rejected" with the comment, back to
    task.annotator (the queue serves rejected tasks to their annotator first).
    """
    comment = (comment or "").strip()
    errors: dict[str, list[str]] = {}
    if decision not in Review.Decision.values:
        errors["decision"] = ["Choose 'accept' or 'reject'."]
    if decision == Review.Decision.REJECT and not comment:
        errors["comment"] = ["Say what to fix: a rejection needs a comment."]
    if len(comment) > MAX_COMMENT_LENGTH:
        errors["comment"] = [f"At most {MAX_COMMENT_LENGTH} characters."]
    if errors:
        raise ShapeValidationError("The review is incomplete.", detail={"errors": errors})

    with transaction.atomic():
        locked = AnnotationTask.objects.select_for_update().get(pk=task.pk)
        if locked.state not in AnnotationTask.State.AWAITING_REVIEW:
            raise TaskNotReviewable(
                f"This task is {locked.get_state_display().lower()}, not waiting for review.",
                detail={"state": locked.state},
            )
        if locked.annotator_id is not None and locked.annotator_id == reviewer.pk:
            raise TaskNotReviewable("You cannot review your own work.")
        second_reviewer_check(task=locked, reviewer=reviewer)
        annotation = locked.annotations.order_by("-version").first()
        if annotation is None:
            raise TaskNotReviewable("This task has no saved annotation to review.")
        review = Review.objects.create(
            task=locked,
            annotation=annotation,
            reviewer=reviewer,
            decision=decision,
            comment=comment,
        )
        now = timezone.now()
        if decision == Review.Decision.ACCEPT:
            locked.state = AnnotationTask.State.ACCEPTED
        else:
            locked.state = AnnotationTask.State.REJECTED
        locked.reviewed_at = now
        # Sent back: nobody holds a lease; the annotator gets it first from the queue.
        locked.lease_user = None
        locked.lease_expires_at = None
        locked.save(
            update_fields=["state", "reviewed_at", "lease_user", "lease_expires_at", "updated_at"]
        )
        # The review phases (annotate.queue.sampling): an accepted first review may go to a
        # second reviewer, and is accepted only once that one accepts it.
        second = decision == Review.Decision.ACCEPT and second_review_after_accept(
            task=locked, reviewer=reviewer
        )
        if decision == Review.Decision.ACCEPT and not second:
            labels_accepted(project_id=locked.project_id)
    task.refresh_from_db()
    return review
