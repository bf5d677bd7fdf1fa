"""Non-maximum suppression, numpy only: the one NMS every box decoder uses (the "detection"
layout in activelearn.inference.decode, the YOLO layouts in activelearn.inference.yolo)."""

from __future__ import annotations

import numpy as np


def box_iou(box: np.ndarray, others: np.ndarray) -> np.ndarray:
    """IoU of one `[4]` box (x1, y1, x2, y2) with `[n, 4]` boxes."""
    x1 = np.maximum(box[0], others[:, 0])
    y1 = np.maximum(box[1], others[:, 1])
    x2 = np.minimum(box[2], others[:, 2])
    y2 = np.minimum(box[3], others[:, 3])
    inter = np.clip(x2 - x1, 0, None) * np.clip(y2 - y1, 0, None)
    area = (box[2] - box[0]) * (box[3] - box[1])
    areas = (others[:, 2] - others[:, 0]) * (others[:, 3] - others[:, 1])
    return inter / np.maximum(area + areas - inter, 1e-12)


def nms(boxes: np.ndarray, scores: np.ndarray, *, iou_threshold: float = 0.45) -> np.ndarray:
    """Greedy non-maximum suppression: indices of the boxes kept, best score first."""
    order = np.argsort(-scores, kind="stable")
    keep: list[int] = []
    while order.size:
        best = int(order[0])
        keep.append(best)
        if order.size == 1:
            break
        rest = order[1:]
        order = rest[box_iou(boxes[best], boxes[rest]) <= iou_threshold]
    return np.asarray(keep, dtype=np.int64)


def class_nms(
    boxes: np.ndarray, scores: np.ndarray, labels: np.ndarray, *, iou_threshold: float = 0.45
) -> np.ndarray:
    """NMS within each class (a box never suppresses one of another class): the indices
    kept, class by class in ascending label order, best score first within a class."""
    kept = [
        mine[nms(boxes[mine], scores[mine], iou_threshold=iou_threshold)]
        for label in np.unique(labels)
        for mine in (np.flatnonzero(labels == label),)
    ]
    return np.concatenate(kept) if kept else np.zeros(0, dtype=np.int64)
