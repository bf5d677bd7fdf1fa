"""Pre-annotation: the active model version's stored prediction for a task turned into shapes
in the labeling page's save format, split by the project's auto-accept thresholds into shapes
accepted without a human and suggestions a person reviews.

On a video task whose project has tracks on, the predicted shapes come as tracks: boxes
are joined across frames (activelearn.inference.linking: IoU and Hungarian assignment, or the
track ids the predictions carry) and each skeleton follows its box, so one object's boxes and
skeletons share one track number, listed in the answer's "tracks" with its class.

The split and the conversion are pure functions over Prediction.data (as scoring and
activelearn.predictions.imports write it); `task_suggestions` is the one read that feeds them.
"""

from __future__ import annotations

import math
from collections.abc import Collection, Mapping

from activelearn.inference.linking import LinkedFrame, link_frames
from activelearn.models import LearningSettings, ModelVersion, Prediction
from annotate.image_bounds import clip_point
from annotate.models import AnnotationTask, Frame, LabelClass

DEFAULT_KEY = "*"
# Coordinates a model gives may stray a little past the edge (float rounding); annotation_save
# clips within 0.5 px, and we clip the same way before a shape is offered.


def threshold_for(name: str, thresholds: Mapping[str, float], *fallbacks: str) -> float | None:
    """The auto-accept threshold of a class or keypoint name: its own, then the fallbacks'
    (a keypoint's class), then "*"; None when nothing is set (never accepted alone)."""
    for key in (name, *fallbacks, DEFAULT_KEY):
        value = thresholds.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return float(value)
    return None


def _accepted(confidence: float, threshold: float | None) -> bool:
    return threshold is not None and confidence >= threshold


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _confidence(value: object) -> float | None:
    number = _number(value)
    return None if number is None else min(max(number, 0.0), 1.0)


# --- prediction rows -> shapes -----------------------------------------------------------


def box_shape(
    box: Mapping, *, class_names: list[str], width: int, height: int, frame: int | None
) -> dict | None:
    """One predicted box as a save-format box, or None when it cannot be one (no known
    class, no area in the image, no numbers). The class is the box's label, else the most
    probable of its class_probs; the confidence its score, else that probability."""
    probs = box.get("class_probs") or box.get("probs")
    label = box.get("label")
    confidence = _confidence(box.get("score", box.get("confidence")))
    if isinstance(probs, list) and probs and len(probs) == len(class_names):
        values = [_number(p) or 0.0 for p in probs]
        best = max(range(len(values)), key=values.__getitem__)
        if not isinstance(label, str):
            label = class_names[best]
        if confidence is None:
            confidence = _confidence(values[best])
    if not isinstance(label, str) or label not in class_names or confidence is None:
        return None
    if "bbox" in box and isinstance(box["bbox"], list) and len(box["bbox"]) == 4:
        x, y, w, h = (_number(v) for v in box["bbox"])
    else:
        x, y, w, h = (_number(box.get(k)) for k in ("x", "y", "w", "h"))
    if None in (x, y, w, h):
        return None
    left, top = min(max(x, 0.0), width), min(max(y, 0.0), height)
    right, bottom = min(max(x + w, 0.0), width), min(max(y + h, 0.0), height)
    if right - left < 1 or bottom - top < 1:
        return None
    return {
        "type": "box",
        "frame": frame,
        "label": label,
        "x": round(left, 2),
        "y": round(top, 2),
        "w": round(right - left, 2),
        "h": round(bottom - top, 2),
        "source": "model",
        "confidence": round(confidence, 4),
    }


def keypoint_shape(
    instance: Mapping,
    *,
    class_names: list[str],
    keypoint_names: list[str],
    width: int,
    height: int,
    frame: int | None,
) -> dict | None:
    """One predicted skeleton as a save-format instance with every predicted point visible
    ([x, y, 2]) and `point_confidence` {name: c}: the instance's "confidences", else its
    score for each point it gives. Points off the image or unknown names are left out."""
    label = instance.get("label")
    if not isinstance(label, str):
        label = class_names[0] if len(class_names) == 1 else None
    if label not in class_names:
        return None
    raw_points = instance.get("points")
    if not isinstance(raw_points, Mapping):
        return None
    score = _confidence(instance.get("score"))
    given = instance.get("confidences")
    given = given if isinstance(given, Mapping) else {}
    points: dict[str, list] = {}
    point_confidence: dict[str, float] = {}
    for name in keypoint_names:
        value = raw_points.get(name)
        if not isinstance(value, list | tuple) or len(value) < 2:
            continue
        x, y = _number(value[0]), _number(value[1])
        flag = _number(value[2]) if len(value) > 2 else None
        if x is None or y is None or flag == 0:
            continue
        point = clip_point(x, y, width, height)
        if point is None:
            continue
        confidence = _confidence(given.get(name))
        if confidence is None:
            confidence = score
        if confidence is None:
            continue
        points[name] = [round(point[0], 2), round(point[1], 2), 2]
        point_confidence[name] = round(confidence, 4)
    if not points:
        return None
    if score is None:
        score = sum(point_confidence.values()) / len(point_confidence)
    return {
        "type": "kp",
        "frame": frame,
        "label": label,
        "points": {name: points.get(name, [0, 0, 0]) for name in keypoint_names},
        "point_confidence": point_confidence,
        "source": "model",
        "confidence": round(score, 4),
    }


def prediction_shapes(
    data: Mapping,
    *,
    class_names: list[str],
    keypoint_names: list[str],
    boxes: bool,
    keypoints: bool,
    frames: Mapping[int | None, tuple[int | None, int, int]],
    tracks: bool = False,
) -> list[dict]:
    """Every shape a Prediction.data offers. `frames` maps a frame index (None for an image)
    to (frame id or None, width, height); units for frames not in the task are ignored.
    Class probabilities and embeddings give no shapes. With `tracks`, a video's shapes get
    a "track" number (None for a shape left out of every track)."""
    units = data.get("frames") if isinstance(data.get("frames"), list) else [data]
    units = [unit for unit in units if isinstance(unit, Mapping) and unit.get("index") in frames]
    video = isinstance(data.get("frames"), list)
    links = link_frames(units) if tracks and video else None
    shapes: list[dict] = []
    for position, unit in enumerate(units):
        frame, width, height = frames[unit.get("index")]
        link = links[position] if links is not None else None
        if boxes:
            for i, box in enumerate(unit.get("boxes") or []):
                if isinstance(box, Mapping):
                    shape = box_shape(
                        box, class_names=class_names, width=width, height=height, frame=frame
                    )
                    if shape:
                        shapes.append(_tracked(shape, link, "boxes", i))
        if keypoints:
            for i, instance in enumerate(unit.get("keypoints") or []):
                if isinstance(instance, Mapping):
                    shape = keypoint_shape(
                        instance,
                        class_names=class_names,
                        keypoint_names=keypoint_names,
                        width=width,
                        height=height,
                        frame=frame,
                    )
                    if shape:
                        shapes.append(_tracked(shape, link, "keypoints", i))
    return _one_class_per_track(shapes) if links is not None else shapes


def _tracked(shape: dict, link: LinkedFrame | None, kind: str, position: int) -> dict:
    if link is None:
        return shape
    return {**shape, "track": getattr(link, kind)[position]}


def _one_class_per_track(shapes: list[dict]) -> list[dict]:
    """A track is one class, with one box and one skeleton per frame (what a save accepts):
    a shape of another class than its track's first one, or a second box or skeleton of the
    track on a frame, is offered on its own (track None)."""
    label_of: dict[int, str] = {}
    seen: set[tuple[int, str, int | None]] = set()
    for shape in shapes:
        track = shape.get("track")
        if track is None:
            continue
        key = (track, shape["type"], shape["frame"])
        if label_of.setdefault(track, shape["label"]) != shape["label"] or key in seen:
            shape["track"] = None
            continue
        seen.add(key)
    return shapes


def shape_tracks(shapes: list[dict]) -> list[dict]:
    """[{"number", "label"}] of the tracks the shapes name, by number."""
    tracks = {shape["track"]: shape["label"] for shape in shapes if shape.get("track")}
    return [{"number": number, "label": label} for number, label in sorted(tracks.items())]


# --- the split ---------------------------------------------------------------------------


def shapes_split(
    shapes: list[dict], thresholds: Mapping[str, float], mastered: Collection[str] = ()
) -> tuple[list[dict], list[dict]]:
    """(accepted, suggestions). A box is accepted when its confidence reaches its class's
    threshold. A skeleton is accepted when at least one point is sure: its confidence reaches
    its keypoint name's threshold (falling back to the class's, then "*"), or its joint is
    one the model has `mastered` (Project.mastered_keypoints). Its sure points are pre-filled
    (`point_sources` "model"; those sure by mastery alone listed in `mastered`) and the
    others are left unlabeled ([0, 0, 0]) and listed in `uncertain` with their predicted
    positions in `uncertain_points`, for a person to place. A skeleton with no sure point
    is a suggestion as a whole."""
    mastered = set(mastered)
    accepted: list[dict] = []
    suggestions: list[dict] = []
    for shape in shapes:
        if shape["type"] == "box":
            threshold = threshold_for(shape["label"], thresholds)
            (accepted if _accepted(shape["confidence"], threshold) else suggestions).append(shape)
            continue
        confident, uncertain, by_mastery = [], [], []
        for name, confidence in shape["point_confidence"].items():
            threshold = threshold_for(name, thresholds, shape["label"])
            if _accepted(confidence, threshold):
                confident.append(name)
            elif name in mastered:
                confident.append(name)
                by_mastery.append(name)
            else:
                uncertain.append(name)
        if not confident:
            suggestions.append(shape)
            continue
        placed = {
            name: (point if name in confident else [0, 0, 0])
            for name, point in shape["points"].items()
        }
        accepted.append(
            {
                **shape,
                "points": placed,
                "point_sources": dict.fromkeys(confident, "model"),
                "mastered": by_mastery,
                "uncertain": uncertain,
                "uncertain_points": {name: shape["points"][name] for name in uncertain},
            }
        )
    return accepted, suggestions


# --- the read ----------------------------------------------------------------------------


def task_suggestions(*, task: AnnotationTask) -> dict:
    """{"model_version": name or None, "accepted": [...], "suggestions": [...], "tracks":
    [...]} for a task: its prediction by the project's active version, as shapes, split by
    the thresholds; on a video with tracks on, the tracks those shapes belong to."""
    project = task.project
    empty = {"model_version": None, "accepted": [], "suggestions": [], "tracks": []}
    version = ModelVersion.objects.filter(project=project, is_active=True).first()
    if version is None:
        return empty
    empty["model_version"] = version.name
    data = (
        Prediction.objects.filter(task=task, model_version=version)
        .values_list("data", flat=True)
        .first()
    )
    if not isinstance(data, dict):
        return empty
    if task.kind == AnnotationTask.Kind.VIDEO:
        frames = {
            index: (pk, width, height)
            for pk, index, width, height in Frame.objects.filter(
                asset_id=task.asset_id, index__range=(task.frame_start, task.frame_end)
            ).values_list("pk", "index", "width", "height")
            if width and height
        }
    else:
        asset = task.asset
        frames = {None: (None, asset.width, asset.height)} if asset.width and asset.height else {}
    # class_probs follow every class in schema order (inactive ones too, as stored); a
    # shape is offered only in a class still active.
    classes = list(
        LabelClass.objects.filter(project=project)
        .order_by("order", "id")
        .values_list("name", "is_active")
    )
    class_names = [name for name, _ in classes]
    active = {name for name, is_active in classes if is_active}
    shapes = prediction_shapes(
        data,
        class_names=class_names,
        keypoint_names=project.keypoint_names if project.keypoints_enabled else [],
        boxes=project.box_enabled,
        keypoints=project.keypoints_enabled,
        frames=frames,
        tracks=project.tracks_enabled and task.kind == AnnotationTask.Kind.VIDEO,
    )
    shapes = [shape for shape in shapes if shape["label"] in active]
    learning = LearningSettings.objects.filter(project=project).first()
    thresholds = learning.auto_accept_thresholds if learning else {}
    accepted, suggestions = shapes_split(
        shapes,
        thresholds if isinstance(thresholds, dict) else {},
        mastered=project.mastered_keypoints if isinstance(project.mastered_keypoints, list) else (),
    )
    return {
        "model_version": version.name,
        "accepted": accepted,
        "suggestions": suggestions,
        "tracks": shape_tracks(shapes),
    }
