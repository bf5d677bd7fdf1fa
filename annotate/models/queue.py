"""The queue's rows: one lease per holder of a task, and the project's budget ledger.

They belong to the annotate app (annotate.queue changes them) and are imported by
annotate/models/__init__.py. Their tables keep the names they had when the queue lived in
activelearn, so moving them changed no data.
"""

from __future__ import annotations

from django.conf import settings
from django.db import models
from django.db.models import Exists, FloatField, OuterRef, Q, Value
from django.db.models.expressions import RawSQL
from django.db.models.functions import Coalesce


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

    # No index of their own: tasklease_unique_task_user leads with the task and
    # tasklease_user_state_idx with the user, and every claim inserts a lease row into each
    # index the table has.
    task = models.ForeignKey(
        "annotate.AnnotationTask", on_delete=models.CASCADE, related_name="leases", db_index=False
    )
    user = models.ForeignKey(
        settings.AUTH_USER_MODEL,
        on_delete=models.CASCADE,
        related_name="task_leases",
        db_index=False,
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


class QueueGeneration(models.Model):
    """Which generation of a project's queue rows the claim reads (annotate.queue.priorities).

    The queue's order lives in the narrow table `annotate_queue` (task, generation, project,
    priority, queued, audit), partitioned by generation and kept by triggers on the task
    table (migration 0024). A full re-rank writes a fresh generation with COPY, indexes it
    and moves this pointer in one short transaction: no lock that a claim waits behind.
    Projects without a row read generation 0, the partition every project starts in."""

    project = models.OneToOneField(
        "annotate.Project", primary_key=True, on_delete=models.CASCADE, related_name="+"
    )
    gen = models.BigIntegerField(default=0)
    building = models.BooleanField(
        default=False, help_text="A full re-rank is building the next generation."
    )

    class Meta:
        db_table = "annotate_queue_generation"

    def __str__(self) -> str:
        return f"queue generation {self.gen} of project {self.project_id}"


class QueueEntry(models.Model):
    """A task's place in its project's queue, read-only: the current generation's row of
    `annotate_queue` (a view). Written only by annotate.queue.priorities and the triggers."""

    task = models.OneToOneField(
        "annotate.AnnotationTask",
        primary_key=True,
        on_delete=models.DO_NOTHING,
        db_constraint=False,
        related_name="queue_entry",
    )
    project = models.ForeignKey(
        "annotate.Project", on_delete=models.DO_NOTHING, db_constraint=False, related_name="+"
    )
    priority = models.FloatField()
    queued = models.BooleanField(help_text="Pending, not gold, not drawn for the audit.")
    audit = models.BooleanField(help_text="Drawn for the audit: re-ranks leave it alone.")

    class Meta:
        managed = False
        db_table = "annotate_queue_current"

    def __str__(self) -> str:
        return f"task {self.task_id} at priority {self.priority}"


def task_priority_expression() -> Coalesce:
    """A task's priority (its place in the queue; 0.0 for a task without a queue row) as an
    expression over the task row: one lookup of its row in the generation its project reads
    (annotate.queue.priorities), made for each row a query returns, never a join that would
    read the queue table in another order than the page's."""
    lookup = RawSQL(  # noqa: S611 - constant table names, no input
        "SELECT q.priority FROM annotate_queue q WHERE q.task_id = annotate_annotationtask.id"
        " AND q.gen = COALESCE((SELECT g.gen FROM annotate_queue_generation g"
        " WHERE g.project_id = annotate_annotationtask.project_id), 0)",
        [],
        output_field=FloatField(),
    )
    return Coalesce(lookup, Value(0.0), output_field=FloatField())
