"""Storing predictions imported from a file (COCO, YOLO, MOT results) under a model version of
kind "pushed", in the shape Prediction.data documents, so they feed pre-annotation and scoring
like predictions an outside model pushes.

annotate's import job reads and checks the file, then calls `predictions_store` through the
setting EXCHANGE_PREDICTIONS_SINK (annotate never imports this app).
"""

from __future__ import annotations

import logging

from django.db import transaction

from activelearn.models import ModelVersion
from activelearn.predictions.push import (
    class_probs,
    predictions_write,
    push_version_get,
    rescore_after_push,
)
from annotate.models import AnnotationTask, LabelClass, Project

__all__ = ["PredictionImportError", "class_probs", "prediction_data", "predictions_store"]

logger = logging.getLogger(__name__)


class PredictionImportError(Exception):
    pass


def _unit(unit: dict, names: list[str], keypoint_names: list[str]) -> dict:
    boxes = []
    for box in unit.get("boxes", []):
        score = 1.0 if box.get("score") is None else float(box["score"])
        boxes.append(
            {
                "label": box["label"],
                "x": box["x"],
                "y": box["y"],
                "w": box["w"],
                "h": box["h"],
                "score": score,
                "class_probs": class_probs(box["label"], score, names),
                **({"track": box["track"]} if box.get("track") is not None else {}),
            }
        )
    keypoints = []
    for instance in unit.get("keypoints", []):
        score = 1.0 if instance.get("score") is None else float(instance["score"])
        points = instance["points"]
        # The file's third value is a visibility flag (0, 1, 2); a labeled point gets the
        # instance's score as its confidence, an unlabeled one 0.
        confidences = {
            name: (score if (points.get(name) or [0, 0, 0])[2] else 0.0) for name in keypoint_names
        }
        keypoints.append(
            {
                "label": instance["label"],
                "points": points,
                "score": score,
                "confidences": confidences,
                **({"track": instance["track"]} if instance.get("track") is not None else {}),
            }
        )
    data: dict = {}
    if boxes or not keypoints:
        data["boxes"] = boxes
    if keypoints:
        data["keypoints"] = keypoints
    return data


def prediction_data(units: list[dict], *, video: bool, names, keypoint_names) -> dict:
    """Per image {"boxes": [...], "keypoints": [...]}; per video segment
    {"frames": [{"index": frame index, "boxes": [...], ...}, ...]}."""
    if not video:
        return _unit(units[0] if units else {}, names, keypoint_names)
    return {
        "frames": [
            {"index": unit["frame_index"], **_unit(unit, names, keypoint_names)} for unit in units
        ]
    }


def predictions_store(
    *,
    project_id: int,
    model_version_name: str,
    predictions: dict[int, list[dict]],
    user_id: int | None = None,
) -> int:
    """Upsert one Prediction per task under the named version (created as "pushed"); returns
    how many were stored. Storing the same file twice gives the same rows. When the version
    is the active one, the project is rescored."""
    project = Project.objects.get(pk=project_id)
    names = list(
        LabelClass.objects.filter(project=project)
        .order_by("order", "id")
        .values_list("name", flat=True)
    )
    keypoint_names = project.keypoint_names if project.keypoints_enabled else []
    has_keypoints = any(unit.get("keypoints") for units in predictions.values() for unit in units)
    kinds = dict(
        AnnotationTask.objects.filter(project=project, pk__in=list(predictions)).values_list(
            "pk", "kind"
        )
    )
    with transaction.atomic():
        version = push_version_get(
            project=project,
            name=model_version_name,
            task_type=(
                ModelVersion.TaskType.KEYPOINTS
                if has_keypoints
                else ModelVersion.TaskType.DETECTION
            ),
            user_id=user_id,
            notes="Imported from a file.",
        )
        if version.kind != ModelVersion.Kind.PUSHED:
            raise PredictionImportError(
                f"The version {model_version_name!r} is a {version.get_kind_display()}; "
                "imported predictions need a name of their own."
            )
        rows = {
            (task_id, version.pk): prediction_data(
                units,
                video=kinds.get(task_id) == AnnotationTask.Kind.VIDEO,
                names=names,
                keypoint_names=keypoint_names,
            )
            for task_id, units in predictions.items()
            if task_id in kinds
        }
        items = list(rows.items())
        for start in range(0, len(items), 5000):
            predictions_write(rows=dict(items[start : start + 5000]))
        if version.is_active:
            transaction.on_commit(lambda: rescore_after_push(project=project))
    return len(rows)
