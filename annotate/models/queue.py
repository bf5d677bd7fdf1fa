"""The queue's rows: one lease per holder of a task, and the project's budget ledger.

They belong to the annotate app (annotate.queue changes them) and are imported by
annotate/models/__init__.py. Their tables keep the names they had when the queue lived in
activelearn, so moving them changed no data.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, OuterRef, Q


class TaskLease(models.Model):
    """One annotator's hold on one task: the queue's single lease mechanism, and what the
    permission table reads to know who holds a task (annotate.permissions).

    A task has `annotators_per_task` (k) slots; an active or submitted lease occupies one, and
    the partial unique constraint on (task, slot) makes two holders of one slot impossible in
    the database. For k = 1 the holder is also copied to AnnotationTask.lease_user and
    lease_expires_at, which the task list and the admin show.
    `charged` is what this lease put on the project's BudgetLedger."""

    class State(models.TextChoices):
        ACTIVE = "active", "Active"
        SUBMITTED = "submitted", "Submitted"
        EXPIRED = "expired", "Expired"
        SKIPPED = "skipped", "Skipped"
        RELEASED = "released", "Released"

    task = models.ForeignKey(
        "annotate.AnnotationTask", on_delete=models.CASCADE, related_name="leases"
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL, on_delete=models.CASCADE, related_name="task_leases"
    )
    slot = models.PositiveSmallIntegerField(default=0)
    state = models.CharField(max_length=10, choices=State.choices, default=State.ACTIVE)
    expires_at = models.DateTimeField()
    charged = models.DecimalField(max_digits=12, decimal_places=4, default=0)
    claimed_at = models.DateTimeField()
    submitted_at = models.DateTimeField(null=True, blank=True)

    class Meta:
        db_table = "activelearn_tasklease"
        constraints = [
            models.UniqueConstraint(fields=["task", "user"], name="tasklease_unique_task_user"),
            models.UniqueConstraint(
                fields=["task", "slot"],
                condition=Q(state__in=["active", "submitted"]),
                name="tasklease_one_holder_per_slot",
            ),
            models.CheckConstraint(condition=Q(charged__gte=0), name="tasklease_charged_nonneg"),
        ]
        indexes = [
            # The expiry sweep: active leases by expiry time, nothing else.
            models.Index(
                fields=["expires_at"],
                condition=Q(state="active"),
                name="tasklease_active_expiry_idx",
            ),
            models.Index(fields=["user", "state"], name="tasklease_user_state_idx"),
        ]

    def __str__(self) -> str:
        return f"lease of task {self.task_id} by user {self.user_id} ({self.state})"


def holds_task(user, task_path: str = "pk") -> Q:
    """A condition on a queryset: `user` holds (has an active lease of) the task reached
    through `task_path` ("pk" from AnnotationTask, "task" from Annotation). Each of a task's
    k holders has their own lease row, so this is true for every one of them."""
    return Q(
        Exists(
            TaskLease.objects.filter(
                task=OuterRef(task_path), user=user, state=TaskLease.State.ACTIVE
            )
        )
    )


class BudgetLedger(models.Model):
    """What the queue has committed of a project's labeling budget: work submitted plus work
    held under a lease (reserved), so racing annotators cannot overspend the last unit.
    Changed only by annotate.queue with conditional updates; derivable from TaskLease."""

    project = models.OneToOneField(
        "annotate.Project", on_delete=models.CASCADE, related_name="ledger"
    )
    units = models.PositiveIntegerField(default=0)
    money = models.DecimalField(max_digits=14, decimal_places=4, default=0)
    # The review phases (annotate.queue.sampling): what the review sample committed.
    review_units = models.PositiveIntegerField(default=0)
    review_money = models.DecimalField(max_digits=14, decimal_places=4, default=0)

    class Meta:
        db_table = "activelearn_budgetledger"
        constraints = [
            models.CheckConstraint(condition=Q(money__gte=0), name="budgetledger_money_nonneg"),
        ]

    def __str__(self) -> str:
        return f"ledger of {self.project}: {self.units} units, {self.money}"
