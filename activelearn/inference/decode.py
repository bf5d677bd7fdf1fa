"""Decoding a box layout's raw outputs for one image into Prediction.data, as pushed
predictions store it, in the image's own pixels (the input is resized without letterboxing,
so x and y scale back apart):

    {"boxes": [{"x", "y", "w", "h", "score", "label", "class_probs"}]}

and for pose also `"keypoints": [{"label", "score", "points": {name: [x, y, c]},
"confidences": {name: c}}]`. The "detection" layout is decoded here, the YOLO layouts by
activelearn.inference.yolo; both suppress with activelearn.inference.nms.
"""

from __future__ import annotations

import numpy as np

from activelearn.inference.nms import class_nms
from activelearn.inference.spec import ModelSpec
from activelearn.inference.yolo import yolo_detect_decode, yolo_pose_decode


def _unit_interval(value: float) -> float:
    return round(min(max(float(value), 0.0), 1.0), 6)


def _scaled_box(box: dict, sx: float, sy: float, width: int, height: int) -> dict | None:
    """A box in input pixels to the image's pixels, clipped to the image; None without area."""
    left = min(max(box["x"] * sx, 0.0), width)
    top = min(max(box["y"] * sy, 0.0), height)
    right = min(max((box["x"] + box["w"]) * sx, 0.0), width)
    bottom = min(max((box["y"] + box["h"]) * sy, 0.0), height)
    if right - left <= 0 or bottom - top <= 0:
        return None
    return {
        "x": round(left, 2),
        "y": round(top, 2),
        "w": round(right - left, 2),
        "h": round(bottom - top, 2),
    }


def _one_class_probs(label: str, score: float, names: tuple[str, ...]) -> list[float]:
    """A single-class score as a distribution over the classes (as pushed boxes with only
    a label and a score get one)."""
    if len(names) == 1:
        return [1.0]
    rest = round((1.0 - score) / (len(names) - 1), 6)
    return [score if name == label else rest for name in names]


def _box_entry(box: dict, size: tuple[int, int], spec: ModelSpec) -> dict | None:
    width, height = size
    placed = _scaled_box(box, width / spec.width, height / spec.height, width, height)
    if placed is None:
        return None
    score = _unit_interval(box["score"])
    label = box["label"]
    if box.get("class_probs") is not None:
        probs = [_unit_interval(p) for p in box["class_probs"]]
    elif label in spec.class_names:
        probs = _one_class_probs(label, score, spec.class_names)
    else:
        return None
    return {**placed, "score": score, "label": label, "class_probs": probs}


def _detection_boxes(
    boxes: np.ndarray, scores: np.ndarray, probs: np.ndarray, spec: ModelSpec
) -> list[dict]:
    """One image of the "detection" layout to boxes in input pixels: thresholded on the
    score and suppressed per class, best first."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if spec.normalized_boxes:
        boxes = boxes * np.array([spec.width, spec.height, spec.width, spec.height])
    a, b, c, d = boxes.T
    if spec.box_format == "xywh":
        corners = np.stack([a, b, a + c, b + d], axis=1)
    elif spec.box_format == "cxcywh":
        corners = np.stack([a - c / 2, b - d / 2, a + c / 2, b + d / 2], axis=1)
    else:
        corners = boxes
    corners = np.stack(  # a model may give the corners either way round
        [
            np.minimum(corners[:, 0], corners[:, 2]),
            np.minimum(corners[:, 1], corners[:, 3]),
            np.maximum(corners[:, 0], corners[:, 2]),
            np.maximum(corners[:, 1], corners[:, 3]),
        ],
        axis=1,
    )
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    probs = np.asarray(probs, dtype=np.float64).reshape(len(scores), -1)
    best = probs.argmax(axis=1)
    chosen = np.flatnonzero(scores >= spec.score_threshold)
    kept = class_nms(
        corners[chosen], scores[chosen], best[chosen], iou_threshold=spec.iou_threshold
    )
    result = []
    for index in chosen[kept]:
        x1, y1, x2, y2 = corners[index]
        row = probs[index]
        total = row.sum()
        result.append(
            {
                "x": float(x1),
                "y": float(y1),
                "w": float(x2 - x1),
                "h": float(y2 - y1),
                "score": float(scores[index]),
                "label": spec.class_names[int(best[index])],
                "class_probs": [float(p) for p in (row / total if total > 0 else row)],
            }
        )
    result.sort(key=lambda box: -box["score"])
    return result


def _pose_instance(instance: dict, size: tuple[int, int], spec: ModelSpec) -> dict:
    width, height = size
    sx, sy = width / spec.width, height / spec.height
    points = {
        name: [
            round(min(max(x * sx, 0.0), width), 2),
            round(min(max(y * sy, 0.0), height), 2),
            _unit_interval(c),
        ]
        for name, (x, y, c) in instance["points"].items()
    }
    return {
        "label": instance["label"],
        "score": _unit_interval(instance["score"]),
        "points": points,
        "confidences": {name: point[2] for name, point in points.items()},
    }


def unit_decode(arrays: list[np.ndarray], size: tuple[int, int], spec: ModelSpec) -> dict:
    """One image's raw box-layout outputs to its Prediction.data (image pixels)."""
    layout = spec.output_layout
    if layout == "detection":
        raw = _detection_boxes(arrays[0], arrays[1], arrays[2], spec)
        instances: list[dict] = []
    elif layout == "yolo_detect":
        raw = yolo_detect_decode(
            arrays[0],
            list(spec.class_names),
            score_threshold=spec.score_threshold,
            iou_threshold=spec.iou_threshold,
        )
        instances = []
    else:
        label = spec.class_names[0] if len(spec.class_names) == 1 else "person"
        instances = yolo_pose_decode(
            arrays[0],
            list(spec.keypoint_names),
            label=label,
            score_threshold=spec.score_threshold,
            iou_threshold=spec.iou_threshold,
        )[: spec.max_detections]
        raw = [{**instance, "class_probs": None} for instance in instances]
    boxes = [entry for box in raw if (entry := _box_entry(box, size, spec)) is not None]
    data: dict = {"boxes": boxes[: spec.max_detections]}
    if layout == "yolo_pose":
        data["keypoints"] = [_pose_instance(instance, size, spec) for instance in instances]
    return data
