"""Reads of the audit sample: which labeled tasks the audit drew, which the ranking chose,
in the order they were first labeled, and what became of the rest of the draws.

Labels are the ones retraining counts (accepted, or submitted when the project says so:
activelearn.retraining.rounds.counted_states), so every figure of the audit is in the same
units as the learning curve and the retraining rounds.
"""

from __future__ import annotations

import datetime as dt
from dataclasses import dataclass, field

from django.db.models import Count, Max, Min, Q

from activelearn.retraining.rounds import counted_states
from annotate.models import Annotation, AnnotationTask, Project


@dataclass(frozen=True)
class LabelOrder:
    """The project's counted labels, each task once, in the order first labeled."""

    task_ids: list[int]
    first_labeled: dict[int, dt.datetime]
    audit: set[int]  # the ones the audit drew
    drawn_at: dict[int, dt.datetime] = field(default_factory=dict)  # audit task -> its batch

    @property
    def active(self) -> list[int]:
        """The labels the ranking chose (every counted label that is not an audit one)."""
        return [task_id for task_id in self.task_ids if task_id not in self.audit]

    @property
    def audited(self) -> list[int]:
        return [task_id for task_id in self.task_ids if task_id in self.audit]


def label_order(project: Project) -> LabelOrder:
    """Counted labeled tasks by the time of their first submission (imported labels, which
    have none, by their task's submission or last change)."""
    tasks = list(
        AnnotationTask.objects.filter(project=project, state__in=counted_states(project))
        .annotate(
            first_submission=Min(
                "annotations__created_at",
                filter=Q(annotations__kind=Annotation.Kind.SUBMISSION),
            )
        )
        .values_list("pk", "first_submission", "submitted_at", "updated_at", "audit_drawn_at")
    )
    first = {pk: first or submitted or updated for pk, first, submitted, updated, _ in tasks}
    ordered = sorted(first, key=lambda pk: (first[pk], pk))
    drawn_at = {pk: drawn for pk, *_, drawn in tasks if drawn is not None}
    return LabelOrder(task_ids=ordered, first_labeled=first, audit=set(drawn_at), drawn_at=drawn_at)


@dataclass(frozen=True)
class AuditCounts:
    """What became of the audit's draws: labeled (counted), still waiting, skipped (the
    sample's non-response), and the batches that drew them."""

    labeled: int
    waiting: int  # drawn and not labeled yet (pending, held, rejected, awaiting review)
    skipped: int
    batches: int
    first_drawn_at: dt.datetime | None
    last_drawn_at: dt.datetime | None

    def as_dict(self) -> dict:
        return {
            "labeled": self.labeled,
            "waiting": self.waiting,
            "skipped": self.skipped,
            "batches": self.batches,
            "first_drawn_at": self.first_drawn_at.isoformat() if self.first_drawn_at else None,
            "last_drawn_at": self.last_drawn_at.isoformat() if self.last_drawn_at else None,
        }


def audit_counts(project: Project) -> AuditCounts:
    """One query over the audit's partial index."""
    counted = counted_states(project)
    row = AnnotationTask.objects.filter(project=project, audit_drawn_at__isnull=False).aggregate(
        labeled=Count("pk", filter=Q(state__in=counted)),
        skipped=Count("pk", filter=Q(state=AnnotationTask.State.SKIPPED)),
        total=Count("pk"),
        batches=Count("audit_drawn_at", distinct=True),
        first=Min("audit_drawn_at"),
        last=Max("audit_drawn_at"),
    )
    return AuditCounts(
        labeled=row["labeled"],
        waiting=row["total"] - row["labeled"] - row["skipped"],
        skipped=row["skipped"],
        batches=row["batches"],
        first_drawn_at=row["first"],
        last_drawn_at=row["last"],
    )
