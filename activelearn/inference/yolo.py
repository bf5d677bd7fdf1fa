"""Decoding the Ultralytics YOLO ONNX export layouts into boxes (and keypoints), suppressed by
activelearn.inference.nms. Pure functions over arrays: no model, no database.

Detect: one output `[1, 4 + C, A]`: per anchor a box (centre x, centre y, width, height, in
input pixels) and C class scores. Pose: `[1, 4 + 1 + K * 3, A]`: a box, one person score and
K keypoints as (x, y, confidence).
"""

from __future__ import annotations

import numpy as np

from activelearn.inference.nms import class_nms, nms


def _corners(centre_boxes: np.ndarray) -> np.ndarray:
    cx, cy, w, h = centre_boxes.T
    return np.stack([cx - w / 2, cy - h / 2, cx + w / 2, cy + h / 2], axis=1)


def _box_dict(corners: np.ndarray) -> dict[str, float]:
    x1, y1, x2, y2 = (float(v) for v in corners)
    return {"x": x1, "y": y1, "w": x2 - x1, "h": y2 - y1}


def yolo_detect_decode(
    output: np.ndarray,
    class_names: list[str],
    *,
    score_threshold: float = 0.25,
    iou_threshold: float = 0.45,
) -> list[dict]:
    """`[4 + C, A]` (or `[1, 4 + C, A]`) to boxes with a label, a score and class scores,
    suppressed per class."""
    rows = np.asarray(output, dtype=np.float64)
    if rows.ndim == 3:
        rows = rows[0]
    classes = len(class_names)
    if rows.ndim != 2 or rows.shape[0] != 4 + classes:
        raise ValueError(f"expected [4 + {classes}, anchors], got {list(rows.shape)}")
    class_scores = rows[4:].T  # [A, C]
    best = class_scores.argmax(axis=1)
    scores = class_scores[np.arange(len(best)), best]
    chosen = np.flatnonzero(scores >= score_threshold)
    corners = _corners(rows[:4].T[chosen])
    result = []
    labels = best[chosen]
    for index in class_nms(corners, scores[chosen], labels, iou_threshold=iou_threshold):
        anchor = chosen[index]
        probs = class_scores[anchor]
        total = probs.sum()
        result.append(
            {
                "label": class_names[int(labels[index])],
                **_box_dict(corners[index]),
                "score": float(scores[anchor]),
                "class_probs": [float(p) for p in (probs / total if total > 0 else probs)],
            }
        )
    result.sort(key=lambda box: -box["score"])
    return result


def yolo_pose_decode(
    output: np.ndarray,
    keypoint_names: list[str],
    *,
    label: str = "person",
    score_threshold: float = 0.25,
    iou_threshold: float = 0.45,
) -> list[dict]:
    """`[5 + K * 3, A]` (or with a leading batch of 1) to instances with a box, a score and
    named points `{name: [x, y, confidence]}`."""
    rows = np.asarray(output, dtype=np.float64)
    if rows.ndim == 3:
        rows = rows[0]
    count = len(keypoint_names)
    if rows.ndim != 2 or rows.shape[0] != 5 + 3 * count:
        raise ValueError(f"expected [5 + 3 * {count}, anchors], got {list(rows.shape)}")
    scores = rows[4]
    chosen = np.flatnonzero(scores >= score_threshold)
    corners = _corners(rows[:4].T[chosen])
    result = []
    for index in nms(corners, scores[chosen], iou_threshold=iou_threshold):
        anchor = chosen[index]
        points = rows[5:, anchor].reshape(count, 3)
        result.append(
            {
                "label": label,
                **_box_dict(corners[index]),
                "score": float(scores[anchor]),
                "points": {
                    name: [float(x), float(y), float(c)]
                    for name, (x, y, c) in zip(keypoint_names, points, strict=True)
                },
                "confidences": {
                    name: float(c) for name, (_, _, c) in zip(keypoint_names, points, strict=True)
                },
            }
        )
    return result
