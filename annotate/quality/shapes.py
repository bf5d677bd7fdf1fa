"""One annotator's labels of a task as plain values, the input of consensus and agreement.

A `Shape` is one box or one skeleton on one frame (`frame` is the frame's position in the
task, None on an image); a tracked shape carries its track number and is given on every
frame the track is on (interpolated frames included: annotate.track_shapes.track_frames).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

BOX = "box"
KEYPOINTS = "keypoints"


@dataclass(frozen=True)
class Shape:
    kind: str  # BOX or KEYPOINTS
    label: str
    frame: int | None = None
    box: tuple[float, float, float, float] | None = None  # x, y, w, h
    points: tuple[tuple[float, float, float], ...] | None = None  # [K] (x, y, visibility)
    track: int | None = None
    # Where the shape came from in its version ("boxes[3]"), for showing it; None on a
    # frame a track was interpolated to.
    ref: str | None = field(default=None, compare=False)

    def points_array(self) -> np.ndarray:
        return np.asarray(self.points or (), dtype=float).reshape(-1, 3)

    def extent(self) -> tuple[float, float, float, float] | None:
        """The box, or for a skeleton the box of its labeled joints (None when it has none)."""
        if self.box is not None:
            return self.box
        points = self.points_array()
        labeled = points[points[:, 2] > 0]
        if not len(labeled):
            return None
        left, top = labeled[:, :2].min(axis=0)
        right, bottom = labeled[:, :2].max(axis=0)
        return float(left), float(top), max(float(right - left), 1.0), max(float(bottom - top), 1.0)


def track_rows(shapes: Sequence[Shape]) -> np.ndarray:
    """Rows (frame, track, x, y, w, h) of the tracked shapes, one per track and frame (a box
    wins over a skeleton of the same track on the same frame), for the track metrics."""
    rows: dict[tuple[int, int], tuple[float, ...]] = {}
    for shape in shapes:
        if shape.track is None or shape.frame is None:
            continue
        extent = shape.extent()
        if extent is None:
            continue
        key = (shape.frame, shape.track)
        if key in rows and shape.kind != BOX:
            continue
        rows[key] = (float(shape.frame), float(shape.track), *extent)
    if not rows:
        return np.zeros((0, 6))
    return np.array([rows[key] for key in sorted(rows)], dtype=float)
