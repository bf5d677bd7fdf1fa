"""Box geometry shared by the track strategies and the detection linker (numpy only)."""

from __future__ import annotations

import numpy as np


def box_iou_matrix(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[n, m] IoU of `[n, 4]` and `[m, 4]` boxes (x, y, w, h: top-left corner and size);
    0 where the union is empty."""
    a = np.asarray(a, dtype=np.float64).reshape(-1, 4)
    b = np.asarray(b, dtype=np.float64).reshape(-1, 4)
    left = np.maximum(a[:, None, 0], b[None, :, 0])
    top = np.maximum(a[:, None, 1], b[None, :, 1])
    right = np.minimum(a[:, None, 0] + a[:, None, 2], b[None, :, 0] + b[None, :, 2])
    bottom = np.minimum(a[:, None, 1] + a[:, None, 3], b[None, :, 1] + b[None, :, 3])
    inter = np.clip(right - left, 0, None) * np.clip(bottom - top, 0, None)
    union = (a[:, 2] * a[:, 3])[:, None] + (b[:, 2] * b[:, 3])[None, :] - inter
    return np.divide(inter, union, out=np.zeros_like(inter), where=union > 1e-12)


def points_inside(points: np.ndarray, boxes: np.ndarray) -> np.ndarray:
    """[k, m] whether each of `[k, 2]` points lies inside each of `[m, 4]` boxes."""
    points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    x, y = points[:, None, 0], points[:, None, 1]
    return (
        (x >= boxes[None, :, 0])
        & (x <= boxes[None, :, 0] + boxes[None, :, 2])
        & (y >= boxes[None, :, 1])
        & (y <= boxes[None, :, 1] + boxes[None, :, 3])
    )
