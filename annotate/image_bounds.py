"""Where a shape may lie in its image: one rule for every path that writes shapes (the
editor's saves and imports through annotate.services.annotations, predictions pushed through
activelearn.predictions.rows, pre-annotation suggestions). Coordinates in pixels, the image
[0, width] x [0, height]; a shape may overhang an edge by EDGE_TOLERANCE_PX (rounding by the
tool that drew it) and is then clipped to the edge; anything further out is refused.

A side whose size is not known (None) is bounded below only: a pushed row for an asset whose
size is not read yet.
"""

from __future__ import annotations

import math

EDGE_TOLERANCE_PX = 0.5


def clipping_rule(width: int | None, height: int | None) -> str:
    return (
        f"must lie within the image, [0, {width}] x [0, {height}] px "
        f"(tolerance {EDGE_TOLERANCE_PX} px; shapes within it are clipped to the edge)"
    )


def _limit(size: int | float | None) -> float:
    return math.inf if not size else float(size)


def clip_box(
    x: float, y: float, w: float, h: float, width: int | None, height: int | None
) -> tuple[float, float, float, float] | None:
    """The box (x, y, w, h; w and h > 0) clipped to the image, or None when it lies further
    out than the tolerance or has no area once clipped."""
    right_edge, bottom_edge = _limit(width), _limit(height)
    tol = EDGE_TOLERANCE_PX
    if x < -tol or y < -tol or x + w > right_edge + tol or y + h > bottom_edge + tol:
        return None
    # Floats always, and + 0.0 so that -0.0 is stored as 0.0.
    left = float(min(max(x, 0.0), right_edge)) + 0.0
    top = float(min(max(y, 0.0), bottom_edge)) + 0.0
    right = float(min(max(x + w, 0.0), right_edge)) + 0.0
    bottom = float(min(max(y + h, 0.0), bottom_edge)) + 0.0
    if right - left <= 0 or bottom - top <= 0:
        return None
    return left, top, right - left, bottom - top


def clip_point(
    x: float, y: float, width: int | None, height: int | None
) -> tuple[float, float] | None:
    """The point clipped to the image, or None when it lies further out than the tolerance."""
    right_edge, bottom_edge = _limit(width), _limit(height)
    tol = EDGE_TOLERANCE_PX
    if not (-tol <= x <= right_edge + tol and -tol <= y <= bottom_edge + tol):
        return None
    return (
        float(min(max(x, 0.0), right_edge)) + 0.0,
        float(min(max(y, 0.0), bottom_edge)) + 0.0,
    )
