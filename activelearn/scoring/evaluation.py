"""Measuring a model version from its stored predictions on the project's validation slice.

The slice is the one retraining uses (`activelearn.retraining.rounds.in_validation_slice`): labeled
image tasks (accepted or submitted, with a latest annotation) whose hash falls in it. Only
slice tasks the version predicted are measured:

- class probabilities -> accuracy against the image's class (all its boxes share one class,
  the same rule retraining uses to label a whole image);
- boxes -> mAP@[.5:.95] with pycocotools' COCOeval (iouType "bbox");
- keypoints -> OKS AP@[.5:.95] with COCOeval (iouType "keypoints"), with the skeleton's
  sigmas (annotate.schema.skeleton_sigmas: its own, else COCO's for the COCO-17 names and
  0.05 for any other name); and per keypoint, OKS and PCK (activelearn.scoring.joint_metrics),
  stored as JointMetric rows, from which joint mastery is refreshed.

The figures go into version.metrics (other keys kept), with labels_at_training set to the
count of labeled tasks when it was empty, so the version shows on the learning curve.
"""

from __future__ import annotations

import contextlib
import io
import math

import numpy as np
from django.utils import timezone

from activelearn.models import ModelVersion, Prediction
from activelearn.scoring.joint_metrics import Person, image_joint_scores, joint_summary
from activelearn.scoring.mastery import joint_mastery_refresh, joint_metrics_save
from activelearn.scoring.validation_slice import in_validation_slice
from annotate.models import Annotation, AnnotationTask, LabelClass
from annotate.schema import skeleton_sigmas

METRIC_OF_FIELD = {"probs": "accuracy", "boxes": "mAP", "keypoints": "oks"}
HEADLINE_OF = {
    ModelVersion.TaskType.CLASSIFICATION: "accuracy",
    ModelVersion.TaskType.DETECTION: "mAP",
    ModelVersion.TaskType.KEYPOINTS: "oks",
}


def keypoint_sigmas(names: list[str], skeleton: dict | None = None) -> np.ndarray:
    """OKS sigmas per keypoint name: the skeleton's own where it has them, else COCO's for
    the COCO-17 names, else annotate.schema.DEFAULT_SIGMA."""
    own = (skeleton or {}).get("sigmas") or {}
    return np.array(skeleton_sigmas({"keypoints": list(names), "sigmas": own}))


def labeled_count(project) -> int:
    """Labeled tasks: accepted or submitted, with at least one annotation version."""
    return (
        AnnotationTask.objects.filter(
            project=project,
            state__in=AnnotationTask.State.LABELED,
            annotations__isnull=False,
            gold_of__isnull=True,
        )
        .distinct()
        .count()
    )


def latest_annotations(project, task_ids: list[int]) -> dict[int, Annotation]:
    """Latest annotation of each labeled image task among task_ids (with its shapes)."""
    tasks = AnnotationTask.objects.filter(
        pk__in=task_ids,
        project=project,
        state__in=AnnotationTask.State.LABELED,
        kind=AnnotationTask.Kind.IMAGE,
        gold_of__isnull=True,
    ).values_list("pk", flat=True)
    latest: dict[int, Annotation] = {}
    for annotation in (
        Annotation.objects.filter(task_id__in=list(tasks))
        .order_by("task_id", "-version")
        .prefetch_related("boxes", "keypoint_instances")
    ):
        latest.setdefault(annotation.task_id, annotation)
    return latest


def _slice_annotations(project, task_ids: list[int]) -> dict[int, Annotation]:
    """Latest annotation of each labeled slice task among task_ids."""
    in_slice = [pk for pk in task_ids if in_validation_slice(project_id=project.pk, task_id=pk)]
    return latest_annotations(project, in_slice)


def accuracy_hits(
    predictions: dict[int, dict],
    latest,
    classes: list[LabelClass],
    names: list[str] | None = None,
) -> dict[int, bool]:
    """For each task with class probabilities and a labeled image class (all its boxes of
    one class, the rule retraining uses), whether the most probable class is that one.
    `names`: the probabilities' classes in column order (a version's spec class_names; the
    baseline's are sorted), by default the project's classes in their order."""
    names = list(names) if names else [c.name for c in classes]
    by_id = {c.pk: c.name for c in classes}
    hits: dict[int, bool] = {}
    for task_id, data in predictions.items():
        probs = data.get("probs")
        annotation = latest.get(task_id)
        if not probs or annotation is None or len(probs) != len(names):
            continue
        labels = {by_id.get(b.label_class_id) for b in annotation.boxes.all() if b.frame_id is None}
        if len(labels) != 1:
            continue
        hits[task_id] = names[int(np.argmax(probs))] == labels.pop()
    return hits


def _accuracy(
    predictions: dict[int, dict], latest, classes: list[LabelClass], names=None
) -> dict | None:
    hits = accuracy_hits(predictions, latest, classes, names)
    if not hits:
        return None
    return {"accuracy": sum(hits.values()) / len(hits), "examples": len(hits)}


def _coco_eval(gt: dict, dt: list[dict], iou_type: str, sigmas=None) -> float | None:
    """AP@[.5:.95] of dt against gt (COCO dicts), or None when gt has nothing to find."""
    from pycocotools.coco import COCO
    from pycocotools.cocoeval import COCOeval

    if not gt["annotations"]:
        return None
    if not dt:
        return 0.0
    with contextlib.redirect_stdout(io.StringIO()):
        coco_gt = COCO()
        coco_gt.dataset = gt
        coco_gt.createIndex()
        coco_dt = coco_gt.loadRes(dt)
        evaluator = COCOeval(coco_gt, coco_dt, iouType=iou_type)
        if sigmas is not None:
            evaluator.params.kpt_oks_sigmas = sigmas
        evaluator.evaluate()
        evaluator.accumulate()
        evaluator.summarize()
    value = float(evaluator.stats[0])
    return value if math.isfinite(value) and value >= 0 else None


def _gt_base(latest, classes) -> dict:
    return {
        "images": [{"id": task_id} for task_id in sorted(latest)],
        "categories": [{"id": c.pk, "name": c.name} for c in classes],
        "annotations": [],
    }


def _box_map(predictions, latest, classes) -> dict | None:
    ids = {c.name: c.pk for c in classes}
    gt, dt = _gt_base(latest, classes), []
    for task_id, annotation in latest.items():
        for box in annotation.boxes.all():
            if box.frame_id is None:
                gt["annotations"].append(
                    {
                        "id": len(gt["annotations"]) + 1,
                        "image_id": task_id,
                        "category_id": box.label_class_id,
                        "bbox": [box.x, box.y, box.w, box.h],
                        "area": box.w * box.h,
                        "iscrowd": 0,
                    }
                )
        for box in predictions[task_id].get("boxes") or []:
            if box.get("label") in ids:
                dt.append(
                    {
                        "image_id": task_id,
                        "category_id": ids[box["label"]],
                        "bbox": [box["x"], box["y"], box["w"], box["h"]],
                        "score": float(box.get("score", 1.0)),
                    }
                )
    value = _coco_eval(gt, dt, "bbox")
    return None if value is None else {"mAP": value, "examples": len(latest)}


def _flat(points: dict, names: list[str], *, predicted: bool) -> list[float]:
    out: list[float] = []
    for name in names:
        point = points.get(name)
        if point is None or (not predicted and len(point) > 2 and not point[2]):
            out += [0.0, 0.0, 0.0]
        else:
            out += [float(point[0]), float(point[1]), 1.0 if predicted else float(point[2] or 2)]
    return out


def _keypoint_ap(predictions, latest, classes, names: list[str], sigmas=None) -> dict | None:
    ids = {c.name: c.pk for c in classes}
    gt, dt = _gt_base(latest, classes), []
    for task_id, annotation in latest.items():
        for instance in annotation.keypoint_instances.all():
            if instance.frame_id is not None:
                continue
            flat = _flat(instance.points or {}, names, predicted=False)
            xs, ys, vs = flat[0::3], flat[1::3], flat[2::3]
            seen = [(x, y) for x, y, v in zip(xs, ys, vs, strict=True) if v > 0]
            if not seen:
                continue
            left, top = min(p[0] for p in seen), min(p[1] for p in seen)
            w = max(p[0] for p in seen) - left
            h = max(p[1] for p in seen) - top
            gt["annotations"].append(
                {
                    "id": len(gt["annotations"]) + 1,
                    "image_id": task_id,
                    "category_id": instance.label_class_id,
                    "keypoints": flat,
                    "num_keypoints": len(seen),
                    "bbox": [left, top, w, h],
                    "area": max(w * h, 1.0),
                    "iscrowd": 0,
                }
            )
        for item in predictions[task_id].get("keypoints") or []:
            category = ids.get(item.get("label")) or (classes[0].pk if classes else None)
            if category is None:
                continue
            dt.append(
                {
                    "image_id": task_id,
                    "category_id": category,
                    "keypoints": _flat(item.get("points") or {}, names, predicted=True),
                    "score": float(item.get("score", 1.0)),
                }
            )
    sigmas = keypoint_sigmas(names) if sigmas is None else np.asarray(sigmas, dtype=float)
    value = _coco_eval(gt, dt, "keypoints", sigmas=sigmas)
    return None if value is None else {"oks": value, "examples": len(latest)}


def class_names_of(version: ModelVersion) -> list[str] | None:
    """The class of each probability column, as the version's spec names them (None: the
    project's classes in their order, what a spec without names means)."""
    names = (version.spec or {}).get("class_names")
    return [str(name) for name in names] if isinstance(names, list) and names else None


def box_map(predictions, latest, classes) -> float | None:
    """mAP@[.5:.95] of the predictions' boxes on the tasks of `latest` (COCOeval)."""
    result = _box_map(predictions, latest, classes)
    return None if result is None else result["mAP"]


def keypoint_ap(predictions, latest, classes, names: list[str], sigmas=None) -> float | None:
    """OKS AP@[.5:.95] of the predictions' keypoints on the tasks of `latest` (COCOeval)."""
    result = _keypoint_ap(predictions, latest, classes, names, sigmas)
    return None if result is None else result["oks"]


def _person(points: dict, names: list[str], *, predicted: bool, score: float = 1.0) -> Person:
    flat = _flat(points or {}, names, predicted=predicted)
    xy = np.array([flat[0::3], flat[1::3]], dtype=float).T.reshape(len(names), 2)
    if predicted:
        present = np.array([name in (points or {}) for name in names], dtype=bool)
    else:
        present = np.array(flat[2::3], dtype=float) > 0
    return Person(xy=xy, present=present, score=score)


def joint_scores(predictions, latest, names: list[str], sigmas) -> tuple[np.ndarray, ...]:
    """Per keypoint: mean OKS, mean PCK and labeled points over the tasks of `latest`
    (their still-image skeletons against the predicted ones, matched per image)."""
    oks_rows, pck_rows = [np.zeros((0, len(names)))], [np.zeros((0, len(names)))]
    for task_id, annotation in latest.items():
        labeled = [
            _person(instance.points, names, predicted=False)
            for instance in annotation.keypoint_instances.all()
            if instance.frame_id is None
        ]
        if not labeled:
            continue
        predicted = [
            _person(
                item.get("points") or {},
                names,
                predicted=True,
                score=float(item.get("score", 1.0)),
            )
            for item in predictions[task_id].get("keypoints") or []
        ]
        oks, pck = image_joint_scores(labeled, predicted, sigmas)
        oks_rows.append(oks)
        pck_rows.append(pck)
    return joint_summary(np.vstack(oks_rows), np.vstack(pck_rows))


def _joints_measure(version: ModelVersion, predictions, latest, names, sigmas) -> None:
    """Store the version's per-keypoint figures and refresh what the project has mastered."""
    oks, pck, points = joint_scores(predictions, latest, names, sigmas)
    joint_metrics_save(
        version=version, names=names, sigmas=list(sigmas), oks=oks, pck=pck, points=points
    )
    joint_mastery_refresh(project=version.project)


def version_evaluate(*, version: ModelVersion) -> dict:
    """Measure a version's stored predictions on the validation slice; store and return its
    metrics ({} when nothing could be measured: no predictions on labeled slice tasks)."""
    if version.kind == ModelVersion.Kind.BASELINE and "training_examples" in (
        version.metrics or {}
    ):
        return version.metrics  # retraining measured it on the same slice, from the pixels
    project = version.project
    predictions = dict(
        Prediction.objects.filter(model_version=version, task__project=project).values_list(
            "task_id", "data"
        )
    )
    latest = _slice_annotations(project, list(predictions))
    if not latest:
        return {}
    predictions = {task_id: predictions[task_id] for task_id in latest}
    classes = list(LabelClass.objects.filter(project=project).order_by("order", "id"))
    names = project.keypoint_names
    sigmas = keypoint_sigmas(names, project.skeleton)
    measures = (
        ("probs", _accuracy, (predictions, latest, classes, class_names_of(version))),
        ("boxes", _box_map, (predictions, latest, classes)),
        ("keypoints", _keypoint_ap, (predictions, latest, classes, names, sigmas)),
    )
    measured: dict[str, dict] = {}
    for field, measure, args in measures:
        if field == "keypoints" and not names:
            continue
        if any(data.get(field) is not None for data in predictions.values()) and (
            result := measure(*args)
        ):
            measured[METRIC_OF_FIELD[field]] = result
    if not measured:
        return {}
    headline = HEADLINE_OF.get(version.task_type)
    if headline not in measured:
        headline = next(iter(measured))
    metrics = dict(version.metrics or {})
    for key, result in measured.items():
        metrics[key] = result[key]
    metrics.update(
        metric=headline,
        validation_examples=measured[headline]["examples"],
        validation_task_ids=sorted(latest),
        evaluated_at=timezone.now().isoformat(),
        evaluated_from="predictions",
    )
    version.metrics = metrics
    fields = ["metrics"]
    if version.labels_at_training is None:
        version.labels_at_training = labeled_count(project)
        fields.append("labels_at_training")
    version.save(update_fields=fields)
    if "oks" in measured:
        _joints_measure(version, predictions, latest, names, sigmas)
    return metrics
