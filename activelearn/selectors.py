"""Reads of the loop: the ranked queue with each task's score breakdown, what the loop
did last, in one line for the project page, and each keypoint's figures by model version.
What is left of the budget as the queue counts it is annotate.queue.selectors.budget_remaining."""

from __future__ import annotations

from dataclasses import dataclass
from datetime import datetime

from django.db.models import F, Prefetch, Q, QuerySet
from django.utils import timezone

from activelearn.models import (
    LearningSettings,
    ModelVersion,
    RetrainingRound,
    ScoringRun,
    TaskScore,
)
from activelearn.retraining.rounds import COUNTED_STATES
from activelearn.scoring.mastery import joint_table
from activelearn.strategies import mastery_weights
from annotate.counting import BoundedCount, count_bounded
from annotate.models import AnnotationTask, Project, task_priority_expression
from annotate.queue.selectors import ranked_page_ids
from annotate.schema import skeleton_sigmas


def queue_ranked(
    *, project: Project, model_version: ModelVersion | None, states=AnnotationTask.State.IN_QUEUE
) -> QuerySet[AnnotationTask]:
    """The project's tasks in the order the queue hands them out, each with `ranking_scores`:
    its TaskScore of the active model version, or the cold-start score (no model version)."""
    scores = TaskScore.objects.filter(
        Q(model_version=model_version) if model_version else Q(model_version__isnull=True)
    )
    return (
        AnnotationTask.objects.filter(project=project, state__in=states)
        .annotate(priority=task_priority_expression())
        .order_by(F("priority").desc(nulls_last=True), "id")
        .prefetch_related(Prefetch("scores", queryset=scores, to_attr="ranking_scores"))
    )


class RankedQueuePages:
    """queue_ranked read a page at a time without sorting the pool: PostgreSQL reads each
    part of the queue in order from its index up to the page's end and merges them
    (annotate.queue.selectors.ranked_page_ids: the claim's own index of the queue table for
    the pending tasks it may take, the audit index for the audit tasks, the task table for
    the work in hand), where `state IN (...) ORDER BY priority` sorted every waiting task of
    the project. A page deep in the queue reads (its end) rows of each part.
    For Django's Paginator: `bounded_count()` and slices."""

    ordered = True

    def __init__(
        self,
        *,
        project: Project,
        model_version: ModelVersion | None,
        states=AnnotationTask.State.IN_QUEUE,
    ) -> None:
        self.project = project
        self.model_version = model_version
        self.states = tuple(states)

    def bounded_count(self) -> BoundedCount:
        return count_bounded(
            AnnotationTask.objects.filter(project=self.project, state__in=self.states)
        )

    def __getitem__(self, key: slice) -> list[AnnotationTask]:
        start, stop = key.start or 0, key.stop
        if stop is None or key.step is not None:
            raise TypeError("RankedQueuePages reads bounded slices only")
        if stop <= start:
            return []
        ids = ranked_page_ids(
            project_id=self.project.pk, start=start, stop=stop, states=self.states
        )
        rows = queue_ranked(
            project=self.project, model_version=self.model_version, states=self.states
        ).filter(pk__in=ids)
        by_id = {task.pk: task for task in rows}
        return [by_id[task_id] for task_id in ids if task_id in by_id]


# --- what the loop did, in one line --------------------------------------------------------


@dataclass(frozen=True)
class LoopSummary:
    """The latest turn of the loop: the last finished scoring run (what the queue's order
    comes from), the run under way if any, and the latest retraining round."""

    text: str
    model_version: str | None  # the finished run's version; None: cold-start coverage
    labels_at_training: int | None
    tasks_ranked: int | None
    ranked_at: datetime | None
    scoring_state: str | None  # of the newest run that was not superseded
    retraining_state: str | None
    retraining_note: str
    labels_counted: int
    next_retraining_at: int | None  # None: retraining is off


def _ago(moment: datetime, now: datetime) -> str:
    seconds = max(0, int((now - moment).total_seconds()))
    if seconds < 60:
        return f"{seconds} s ago"
    if seconds < 3600:
        return f"{seconds // 60} min ago"
    if seconds < 86400:
        return f"{seconds // 3600} h ago"
    return f"{seconds // 86400} days ago"


def _plural(count: int, word: str) -> str:
    return f"{count} {word}{'' if count == 1 else 's'}"


def loop_summary(*, project: Project, now: datetime | None = None) -> LoopSummary:
    """What the loop did last, e.g. "Model baseline-10-r2 trained on 10 labels: 38 tasks
    re-ranked 12 s ago. Next retraining at 15 labels (11 so far)." Four small queries (five
    while a run is under way)."""
    now = now or timezone.now()
    runs = ScoringRun.objects.filter(project=project).select_related("model_version")
    latest = runs.exclude(state=ScoringRun.State.SUPERSEDED).order_by("-created_at", "-id").first()
    done = latest
    if latest is not None and latest.state != ScoringRun.State.DONE:
        done = runs.filter(state=ScoringRun.State.DONE).order_by("-created_at", "-id").first()
    round_ = (
        RetrainingRound.objects.filter(project=project)
        .select_related("model_version")
        .order_by("-created_at", "-id")
        .first()
    )
    learning = LearningSettings.for_project(project)
    every = learning.retrain_every_accepted
    counted = AnnotationTask.objects.filter(
        project=project, state__in=COUNTED_STATES[learning.retrain_counts]
    ).count()
    last_count = round_.accepted_count if round_ is not None else 0
    next_at = last_count + every if every else None

    parts: list[str] = []
    version = done.model_version if done is not None else None
    if done is None:
        parts.append("No scoring run has finished yet.")
    elif version is None:
        parts.append(
            f"No model yet: {_plural(done.tasks_scored, 'task')} ordered for coverage "
            f"{_ago(done.finished_at or done.created_at, now)}."
        )
    else:
        trained = (
            f" trained on {_plural(version.labels_at_training, 'label')}"
            if version.labels_at_training is not None
            else ""
        )
        parts.append(
            f"Model {version.name}{trained}: {_plural(done.tasks_scored, 'task')} re-ranked "
            f"{_ago(done.finished_at or done.created_at, now)}."
        )
    if latest is not None and latest != done:
        if latest.state == ScoringRun.State.FAILED:
            parts.append(f"The last scoring run failed: {latest.error}")
        elif latest.state in (ScoringRun.State.QUEUED, ScoringRun.State.RUNNING):
            chunks = f"{latest.chunks_done}/{latest.chunks_total} chunks, " * bool(
                latest.chunks_total
            )
            parts.append(
                f"A scoring run is {latest.state} ({chunks}{latest.get_reason_display().lower()})."
            )
    if round_ is not None and round_.state in (
        RetrainingRound.State.QUEUED,
        RetrainingRound.State.RUNNING,
    ):
        parts.append(f"Retraining on {_plural(round_.accepted_count, 'label')}...")
    elif round_ is not None and round_.note and round_.state != RetrainingRound.State.DONE:
        parts.append(
            f"Retraining at {_plural(round_.accepted_count, 'label')} "
            f"{round_.get_state_display().lower()}: {round_.note}"
        )
    elif round_ is not None and round_.note:
        parts.append(round_.note)
    if next_at is not None and (round_ is None or round_.state not in ("queued", "running")):
        parts.append(f"Next retraining at {_plural(next_at, 'label')} ({counted} so far).")
    return LoopSummary(
        text=" ".join(parts),
        model_version=version.name if version is not None else None,
        labels_at_training=version.labels_at_training if version is not None else None,
        tasks_ranked=done.tasks_scored if done is not None else None,
        ranked_at=(done.finished_at or done.created_at) if done is not None else None,
        scoring_state=latest.state if latest is not None else None,
        retraining_state=round_.state if round_ is not None else None,
        retraining_note=round_.note if round_ is not None else "",
        labels_counted=counted,
        next_retraining_at=next_at,
    )


# --- joint mastery: each keypoint's figures by version ------------------------------------------


def _number(value) -> float | None:
    return None if value != value else float(value)  # NaN: not measured


def joint_mastery_report(*, project: Project) -> dict:
    """Each skeleton keypoint's OKS, PCK and error in every measured version (oldest first),
    whether it is mastered, and the share of the keypoint score it now weighs."""
    settings = LearningSettings.for_project(project)
    table = joint_table(project=project, settings=settings)
    weights = (
        mastery_weights(
            table.names, table.latest_errors(), table.mastered_names, settings.keypoint_weights
        )
        if table.versions
        else {name: float((settings.keypoint_weights or {}).get(name, 1.0)) for name in table.names}
    )
    total = sum(weights.values()) or 1.0
    sigmas = skeleton_sigmas(project.skeleton)
    joints = []
    for j, name in enumerate(table.names):
        joints.append(
            {
                "keypoint": name,
                "sigma": sigmas[j],
                "mastered": bool(table.mastered[j]),
                "weight": weights.get(name, 0.0) / total,
                "by_version": [
                    {
                        "version": version.pk,
                        "oks": _number(table.oks[i, j]),
                        "pck": _number(table.pck[i, j]),
                        "error": _number(table.errors[i, j]),
                        "points": int(table.points[i, j]),
                    }
                    for i, version in enumerate(table.versions)
                ],
            }
        )
    return {
        "project": project.pk,
        "threshold": table.threshold,
        "versions_required": table.last,
        "mastered": table.mastered_names,
        "versions": [
            {
                "id": version.pk,
                "name": version.name,
                "is_active": version.is_active,
                "created_at": version.created_at,
            }
            for version in table.versions
        ],
        "joints": joints,
    }
