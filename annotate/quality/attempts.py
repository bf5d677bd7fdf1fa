"""Agreement between two annotations of one task: their shapes read as the scores need them
(tracks expanded to every frame), and one score in [0, 1] (annotate.queue.gold_scoring).
Gold attempts are scored with it against their reference, and the review sample measures
how much a task's annotators disagree with it."""

from __future__ import annotations

from dataclasses import dataclass

from annotate.models import Annotation, AnnotationTask, Box, Frame, KeypointInstance
from annotate.track_shapes import track_frames

from . import gold_scoring


@dataclass
class _Shape:
    """A tracked shape for annotate.track_shapes: a box or a skeleton."""

    box: tuple[float, float, float, float] | None
    points: dict | None
    outside: bool


def _move(a: _Shape, b: _Shape, t: float) -> _Shape:
    box = None
    if a.box is not None and b.box is not None:
        box = tuple(p + (q - p) * t for p, q in zip(a.box, b.box, strict=True))
    return _Shape(box=box or a.box, points=a.points, outside=False)


def annotation_shapes(annotation: Annotation | None, task: AnnotationTask) -> dict:
    """The annotation's shapes as the scores read them: {"boxes": [(class, x, y, w, h)],
    "skeletons": [(class, points)], "tracks": [(frame position, track, x, y, w, h)]}.
    Tracks are expanded to every frame of the segment they are on (annotate.track_shapes)."""
    out: dict[str, list] = {"boxes": [], "skeletons": [], "tracks": []}
    if annotation is None:
        return out
    positions = {}
    if task.kind == AnnotationTask.Kind.VIDEO:
        frames = Frame.objects.filter(
            asset_id=task.asset_id, index__gte=task.frame_start, index__lte=task.frame_end
        ).order_by("index")
        positions = {pk: i for i, pk in enumerate(frames.values_list("pk", flat=True))}
    keyframes: dict[int, list] = {}
    for box in Box.objects.filter(annotation=annotation):
        if box.track_id is not None and box.frame_id in positions:
            if box.keyframe:
                keyframes.setdefault(box.track_id, []).append(
                    (
                        positions[box.frame_id],
                        _Shape((box.x, box.y, box.w, box.h), None, box.outside),
                    )
                )
            continue
        if box.frame_id is not None:
            # An untracked box on a video frame: a box of its own on that frame.
            out["tracks"].append(
                (positions.get(box.frame_id, 0), -box.pk, box.x, box.y, box.w, box.h)
            )
            continue
        out["boxes"].append((box.label_class_id, box.x, box.y, box.w, box.h))
    for track_id, frames_of_track in keyframes.items():
        for position, shape, _ in track_frames(frames_of_track, len(positions), move=_move):
            out["tracks"].append((position, track_id, *shape.box))
    for skeleton in KeypointInstance.objects.filter(annotation=annotation, keyframe=True):
        if not skeleton.outside:
            out["skeletons"].append((skeleton.label_class_id, skeleton.points))
    return out


def attempt_score(reference: dict, attempt: dict) -> tuple[float, str]:
    """(score, metric): the mean of the scores the reference gives material for (IDF1 of
    tracks, box F1, OKS of skeletons), named after the first of them."""
    parts = []
    if reference["tracks"] or attempt["tracks"]:
        parts.append(("idf1", gold_scoring.track_idf1(reference["tracks"], attempt["tracks"])))
    if reference["boxes"] or attempt["boxes"]:
        parts.append(("box_f1", gold_scoring.box_f1(reference["boxes"], attempt["boxes"])))
    if reference["skeletons"] or attempt["skeletons"]:
        parts.append(
            ("oks", gold_scoring.skeleton_oks(reference["skeletons"], attempt["skeletons"]))
        )
    if not parts:
        return 1.0, "box_f1"  # an empty reference, and nothing drawn: right
    return sum(score for _, score in parts) / len(parts), parts[0][0]
