"""Annotator statistics of a project: time per task and per shape, agreement with the other
annotators of their tasks, gold score, rejection rate, per week, and who needs help (below
the project's thresholds). Reads only; the quality page, its API and the admin show them.

Time is a lease's span from claim to submit (idle time inside a lease counts: the page
keeps no finer clock). Agreement is 1 - the annotator disagreement the review sample
measured on their tasks labeled by several annotators. Gold copies count only towards the
gold score, never as work."""

from __future__ import annotations

import datetime as dt
from collections import defaultdict
from dataclasses import asdict, dataclass, field

from django.contrib.auth import get_user_model
from django.db.models import Count, Q
from django.db.models.functions import TruncWeek

from annotate.models import (
    Annotation,
    Box,
    GoldAttempt,
    KeypointInstance,
    Membership,
    QualitySettings,
    Review,
    ReviewSample,
    TaskLease,
)

User = get_user_model()


@dataclass
class Period:
    week: str  # ISO date of the week's Monday
    tasks: int = 0
    gold_score: float | None = None
    rejection_rate: float | None = None


@dataclass
class AnnotatorStats:
    user_id: int
    username: str
    tasks: int = 0
    seconds_per_task: float | None = None
    seconds_per_shape: float | None = None
    shapes: int = 0
    agreement: float | None = None
    gold_attempts: int = 0
    gold_failed: int = 0
    gold_score: float | None = None
    reviews: int = 0
    rejections: int = 0
    rejection_rate: float | None = None
    flags: list[str] = field(default_factory=list)
    weeks: list[Period] = field(default_factory=list)

    @property
    def needs_help(self) -> bool:
        return bool(self.flags)

    def as_dict(self) -> dict:
        return {**asdict(self), "needs_help": self.needs_help}


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def _week(moment: dt.datetime | None) -> str | None:
    if moment is None:
        return None
    day = moment.date()
    return (day - dt.timedelta(days=day.weekday())).isoformat()


def annotator_stats(*, project_id: int) -> list[AnnotatorStats]:
    """One row per annotator of the project (members with the annotator role, and anyone
    who submitted work there), those who need help first, then by name."""
    settings = QualitySettings.for_project(project_id)
    rows: dict[int, AnnotatorStats] = {}

    def row(user_id: int, username: str) -> AnnotatorStats:
        if user_id not in rows:
            rows[user_id] = AnnotatorStats(user_id=user_id, username=username)
        return rows[user_id]

    for user_id, username in Membership.objects.filter(
        project_id=project_id, role=Membership.Role.ANNOTATOR
    ).values_list("user_id", "user__username"):
        row(user_id, username)

    leases = TaskLease.objects.filter(
        task__project_id=project_id, submitted_at__isnull=False, task__gold_of__isnull=True
    ).values_list("user_id", "user__username", "task_id", "claimed_at", "submitted_at")
    seconds: dict[int, list[float]] = defaultdict(list)
    weeks: dict[int, dict[str, Period]] = defaultdict(dict)
    task_ids: dict[int, set[int]] = defaultdict(set)
    for user_id, username, task_id, claimed_at, submitted_at in leases:
        stats = row(user_id, username)
        stats.tasks += 1
        task_ids[user_id].add(task_id)
        seconds[user_id].append(max((submitted_at - claimed_at).total_seconds(), 0.0))
        week = _week(submitted_at)
        weeks[user_id].setdefault(week, Period(week=week)).tasks += 1

    # Shapes of each annotator's latest submission of each task.
    latest = list(
        Annotation.objects.filter(
            task__project_id=project_id,
            task__gold_of__isnull=True,
            kind=Annotation.Kind.SUBMISSION,
        )
        .order_by("task_id", "author_id", "-version")
        .distinct("task_id", "author_id")
        .values_list("id", flat=True)
    )
    for model in (Box, KeypointInstance):
        counted = (
            model.objects.filter(annotation_id__in=latest)
            .values("annotation__author_id")
            .annotate(n=Count("id"))
            .values_list("annotation__author_id", "n")
        )
        for author_id, n in counted:
            if author_id in rows:
                rows[author_id].shapes += n

    for user_id, values in seconds.items():
        stats = rows[user_id]
        stats.seconds_per_task = _mean(values)
        if stats.shapes:
            stats.seconds_per_shape = sum(values) / stats.shapes

    disagreement = ReviewSample.objects.filter(
        task__project_id=project_id, annotator_disagreement__isnull=False
    ).values_list("task_id", "annotator_disagreement")
    by_task = dict(disagreement)
    for user_id, ids in task_ids.items():
        values = [1.0 - by_task[t] for t in ids if t in by_task]
        rows[user_id].agreement = _mean(values)

    gold_weeks: dict[int, dict[str, list[float]]] = defaultdict(lambda: defaultdict(list))
    for user_id, username, score, passed, scored_at in GoldAttempt.objects.filter(
        gold_task__project_id=project_id, score__isnull=False
    ).values_list("annotator_id", "annotator__username", "score", "passed", "scored_at"):
        stats = row(user_id, username)
        stats.gold_attempts += 1
        stats.gold_failed += 0 if passed else 1
        gold_weeks[user_id][_week(scored_at)].append(score)
    for user_id, by_week in gold_weeks.items():
        all_scores = [s for scores in by_week.values() for s in scores]
        rows[user_id].gold_score = _mean(all_scores)
        for week, scores in by_week.items():
            weeks[user_id].setdefault(week, Period(week=week)).gold_score = _mean(scores)

    # A review judges the work of the task's annotator (the last to submit it).
    reviews = (
        Review.objects.filter(task__project_id=project_id, task__annotator__isnull=False)
        .annotate(week=TruncWeek("created_at"))
        .values("task__annotator_id", "task__annotator__username", "week")
        .annotate(total=Count("id"), rejected=Count("id", filter=Q(decision="reject")))
    )
    rejected_weeks: dict[int, dict[str, tuple[int, int]]] = defaultdict(dict)
    for item in reviews:
        stats = row(item["task__annotator_id"], item["task__annotator__username"])
        stats.reviews += item["total"]
        stats.rejections += item["rejected"]
        rejected_weeks[stats.user_id][item["week"].date().isoformat()] = (
            item["total"],
            item["rejected"],
        )
    for user_id, by_week in rejected_weeks.items():
        for week, (total, rejected) in by_week.items():
            weeks[user_id].setdefault(week, Period(week=week)).rejection_rate = rejected / total

    for stats in rows.values():
        if stats.reviews:
            stats.rejection_rate = stats.rejections / stats.reviews
        stats.weeks = [weeks[stats.user_id][w] for w in sorted(weeks[stats.user_id])]
        if stats.gold_score is not None and stats.gold_score < settings.flag_gold_below:
            stats.flags.append(f"gold score below {settings.flag_gold_below:.0%}")
        if stats.agreement is not None and stats.agreement < settings.flag_agreement_below:
            stats.flags.append(f"agreement below {settings.flag_agreement_below:.0%}")
        if (
            stats.rejection_rate is not None
            and stats.rejection_rate > settings.flag_rejection_above
        ):
            stats.flags.append(f"rejection rate above {settings.flag_rejection_above:.0%}")
    return sorted(rows.values(), key=lambda s: (not s.needs_help, s.username.lower(), s.user_id))
