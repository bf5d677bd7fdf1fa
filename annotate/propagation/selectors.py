"""Reads about what propagation carried, for the loop's scoring as for propagation's own
rules: which boxes of a task's latest version are propagated ones."""

from __future__ import annotations

from annotate.models import Annotation, Box, ShapeSource

# (frame index, track number, x, y, w, h, confidence): a propagated box as the track-risk
# strategy reads it (activelearn.strategies.tracks), the confidence the forward-backward one.
PropagatedRow = tuple[int, int, float, float, float, float, float]


def propagated_boxes(task_ids: list[int]) -> dict[int, list[PropagatedRow]]:
    """Task id -> the boxes propagation carried (source "propagation", on a track and a
    frame) in that task's latest annotation version, whoever wrote it: two queries. A box
    without a confidence counts as sure (1.0)."""
    latest = (
        Annotation.objects.filter(task_id__in=task_ids)
        .order_by("task_id", "-version")
        .distinct("task_id")
        .values_list("pk", flat=True)
    )
    rows = Box.objects.filter(
        annotation_id__in=list(latest),
        source=ShapeSource.PROPAGATION,
        track__isnull=False,
        frame__isnull=False,
    ).values_list(
        "annotation__task_id", "frame__index", "track__number", "x", "y", "w", "h", "confidence"
    )
    out: dict[int, list[PropagatedRow]] = {}
    for task_id, index, number, x, y, w, h, confidence in rows:
        sure = 1.0 if confidence is None else confidence
        out.setdefault(task_id, []).append((index, number, x, y, w, h, sure))
    return out
