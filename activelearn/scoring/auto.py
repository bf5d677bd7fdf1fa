"""The adaptive strategy's state on a project: its picks, recorded as their labels arrive,
and the arms' credits recomputed from them (the math is activelearn.strategies.auto).

A scoring pass with `auto` writes each task's pick record into its score breakdown
(activelearn.scoring.adapters.PICK_KEY). When the task is labeled, `auto_picks_record` turns
that record into an AutoStrategyPick with how right the version that picked it was on the
label and how right the version before was (their stored predictions against the latest
annotation), then recomputes the credits that the next scoring pass mixes by. It runs on
annotate's LABELS_SUBMITTED and LABELS_ACCEPTED events (activelearn.receivers) and in the
periodic catch-up, and is safe to call again: a task is recorded once, and the credits are a
function of all the project's picks.
"""

from __future__ import annotations

import logging

from django.db import transaction

from activelearn.models import AutoStrategyPick, AutoStrategyState, ModelVersion, Prediction
from activelearn.scoring.adapters import PICK_KEY, frames_of
from activelearn.scoring.evaluation import keypoint_sigmas
from activelearn.strategies import auto
from annotate.models import Annotation, AnnotationTask, LabelClass, Project

logger = logging.getLogger(__name__)

# Tasks recorded per call; the next event or the catch-up takes the rest.
RECORD_LIMIT = 5000


def auto_credits_of(project: Project) -> dict[str, float]:
    """What auto learned on the project so far (none: the prior alone)."""
    state = AutoStrategyState.objects.filter(project=project).first()
    return dict(state.credits) if state is not None else {}


# --- how right a prediction was on a label ---------------------------------------------------


def _claims(items: list[dict] | None) -> list[dict]:
    """Predicted shapes the model stood behind (score at least the threshold)."""
    return [
        item
        for item in items or []
        if isinstance(item, dict)
        and float(item.get("score", 1.0)) >= auto.PREDICTED_SCORE_THRESHOLD
    ]


def _unit_agreement(
    unit: dict, boxes: list, instances: list, class_names: list[str], sigmas: dict
) -> float | None:
    """One image's (or frame's) agreement: keypoints, else boxes, else the image class (the
    one class of all its boxes, the rule retraining and evaluation use)."""
    if unit.get("keypoints") is not None:
        predicted = [item.get("points") or {} for item in _claims(unit["keypoints"])]
        labeled = [instance.points or {} for instance in instances]
        return auto.keypoint_agreement(predicted, labeled, sigmas)
    if unit.get("boxes") is not None:
        predicted = [
            (b.get("label"), b.get("x", 0), b.get("y", 0), b.get("w", 0), b.get("h", 0))
            for b in _claims(unit["boxes"])
        ]
        labeled = [(b.label_class.name, b.x, b.y, b.w, b.h) for b in boxes]
        return auto.box_agreement(predicted, labeled)
    probs = unit.get("probs")
    names = {box.label_class.name for box in boxes}
    if probs is None or len(names) != 1 or len(probs) != len(class_names):
        return None
    name = names.pop()
    if name not in class_names:
        return None
    return auto.classification_correct(probs, class_names.index(name))


def prediction_agreement(
    data: dict, annotation: Annotation, class_names: list[str], sigmas: dict
) -> float | None:
    """How right a stored prediction was on the task's label, 0 to 1 (None: nothing to
    compare): the mean over the images or video frames the prediction covers."""
    boxes_by_frame: dict[int | None, list] = {}
    for box in annotation.boxes.all():
        boxes_by_frame.setdefault(box.frame.index if box.frame else None, []).append(box)
    instances_by_frame: dict[int | None, list] = {}
    for instance in annotation.keypoint_instances.all():
        key = instance.frame.index if instance.frame else None
        instances_by_frame.setdefault(key, []).append(instance)
    values = []
    for unit in frames_of(data):
        index = unit.get("index") if "frames" in data else None
        value = _unit_agreement(
            unit,
            boxes_by_frame.get(index, []),
            instances_by_frame.get(index, []),
            class_names,
            sigmas,
        )
        if value is not None:
            values.append(value)
    return sum(values) / len(values) if values else None


# --- recording picks and learning from them ---------------------------------------------------


def _latest_annotations(task_ids: list[int]) -> dict[int, Annotation]:
    latest: dict[int, Annotation] = {}
    for annotation in (
        Annotation.objects.filter(task_id__in=task_ids)
        .order_by("task_id", "-version")
        .prefetch_related("boxes__label_class", "boxes__frame", "keypoint_instances__frame")
    ):
        latest.setdefault(annotation.task_id, annotation)
    return latest


def _new_picks(project: Project) -> list[AutoStrategyPick]:
    """Labeled tasks not recorded yet whose last score came from a pass of auto."""
    task_ids = list(
        AnnotationTask.objects.filter(
            project=project,
            state__in=AnnotationTask.State.LABELED,
            auto_pick__isnull=True,
            scores__breakdown__has_key=PICK_KEY,
        )
        .order_by("submitted_at", "pk")
        .values_list("pk", flat=True)
        .distinct()[:RECORD_LIMIT]
    )
    if not task_ids:
        return []
    # The score a task had when it was claimed: its last one (labeled tasks are not scored).
    last_score: dict[int, tuple[int | None, dict]] = {}
    for task_id, version_id, breakdown in (
        AnnotationTask.objects.filter(pk__in=task_ids)
        .values_list("pk", "scores__model_version_id", "scores__breakdown")
        .order_by("pk", "-scores__computed_at")
    ):
        last_score.setdefault(task_id, (version_id, breakdown or {}))
    predictions: dict[int, list[tuple[ModelVersion, dict]]] = {}
    for prediction in (
        Prediction.objects.filter(task_id__in=task_ids)
        .select_related("model_version")
        .order_by("task_id", "-model_version__created_at", "-model_version_id")
    ):
        predictions.setdefault(prediction.task_id, []).append(
            (prediction.model_version, prediction.data)
        )
    annotations = _latest_annotations(task_ids)
    class_names = list(
        LabelClass.objects.filter(project=project)
        .order_by("order", "id")
        .values_list("name", flat=True)
    )
    names = project.keypoint_names
    sigmas = dict(zip(names, keypoint_sigmas(names, project.skeleton), strict=True))
    picks = []
    for task_id in task_ids:
        version_id, breakdown = last_score.get(task_id, (None, {}))
        record = breakdown.get(PICK_KEY)
        if version_id is None or not isinstance(record, dict):
            continue  # claimed under another strategy after auto's last pass
        annotation = annotations.get(task_id)
        by_version = predictions.get(task_id, [])
        picked = next((p for p in by_version if p[0].pk == version_id), None)
        earlier = None
        if picked is not None:
            earlier = next((p for p in by_version if p[0].created_at < picked[0].created_at), None)
        correct = previous_correct = None
        if annotation is not None and picked is not None:
            correct = prediction_agreement(picked[1], annotation, class_names, sigmas)
        if correct is not None and earlier is not None:
            previous_correct = prediction_agreement(earlier[1], annotation, class_names, sigmas)
        picks.append(
            AutoStrategyPick(
                project=project,
                task_id=task_id,
                model_version_id=version_id,
                q=float(record["q"]),
                advised=list(record.get("advised") or []),
                pool=int(record["pool"]),
                batch=int(record["batch"]),
                correct=correct,
                previous_version=earlier[0] if previous_correct is not None else None,
                previous_correct=previous_correct,
            )
        )
    return picks


def _as_pick(row: dict) -> auto.Pick:
    return auto.Pick(
        version=row["model_version_id"],
        q=row["q"],
        advised=tuple(row["advised"]),
        pool=row["pool"],
        batch=row["batch"],
        correct=row["correct"],
        previous_version=row["previous_version_id"],
        previous_correct=row["previous_correct"],
    )


def auto_credits_update(*, project: Project) -> AutoStrategyState:
    """Recompute the arms' credits from all the project's picks and store them."""
    with transaction.atomic():
        state, _ = AutoStrategyState.objects.select_for_update().get_or_create(project=project)
        rows = list(
            AutoStrategyPick.objects.filter(project=project, model_version__isnull=False).values(
                "model_version_id",
                "q",
                "advised",
                "pool",
                "batch",
                "correct",
                "previous_version_id",
                "previous_correct",
            )
        )
        picks = [_as_pick(row) for row in rows]
        state.credits = {
            arm: round(value, 9) for arm, value in auto.credits_from_picks(picks).items()
        }
        state.picks_counted = len(picks)
        state.rewarded_picks = sum(
            1 for pick in picks if pick.correct is not None and pick.previous_correct is not None
        )
        state.save()
    return state


def auto_picks_record(*, project_id: int) -> int:
    """Record the project's newly labeled picks of auto and update its credits; returns how
    many picks were recorded (0: nothing new, and nothing written)."""
    project = Project.objects.get(pk=project_id)
    picks = _new_picks(project)
    if not picks:
        return 0
    with transaction.atomic():
        created = AutoStrategyPick.objects.bulk_create(picks, ignore_conflicts=True)
        auto_credits_update(project=project)
    return len(created)
