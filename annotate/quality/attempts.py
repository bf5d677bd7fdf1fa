"""One annotation of a task against another, as one score in [0, 1]: the stored shapes read
as annotate.quality.shapes values (tracked boxes on every frame of the segment, by
annotate.track_shapes) and scored by annotate.quality.agreement. Gold attempts are scored
with it against their reference, and the review sample measures with it how much a task's
annotators disagree."""

from __future__ import annotations

from dataclasses import dataclass

from annotate.models import Annotation, AnnotationTask, Box, Frame, KeypointInstance
from annotate.quality.agreement import agreement
from annotate.quality.matching import default_sigmas
from annotate.quality.shapes import BOX, KEYPOINTS, Shape
from annotate.track_shapes import track_frames


@dataclass
class _Keyframe:
    box: tuple[float, float, float, float]
    outside: bool


def _move(a: _Keyframe, b: _Keyframe, t: float) -> _Keyframe:
    box = tuple(p + (q - p) * t for p, q in zip(a.box, b.box, strict=True))
    return _Keyframe(box=box, outside=False)


def annotation_shapes(annotation: Annotation | None, task: AnnotationTask) -> list[Shape]:
    """The annotation's shapes, labels by class name, frames by position in the segment."""
    if annotation is None:
        return []
    positions: dict[int, int] = {}
    if task.kind == AnnotationTask.Kind.VIDEO:
        frames = Frame.objects.filter(
            asset_id=task.asset_id, index__gte=task.frame_start, index__lte=task.frame_end
        ).order_by("index")
        positions = {pk: i for i, pk in enumerate(frames.values_list("pk", flat=True))}
    shapes: list[Shape] = []
    keyframes: dict[int, tuple[str, list]] = {}
    for box in Box.objects.filter(annotation=annotation).select_related("label_class"):
        label = box.label_class.name
        frame = positions.get(box.frame_id) if box.frame_id is not None else None
        if box.track_id is not None and frame is not None:
            if box.keyframe:
                keyframes.setdefault(box.track_id, (label, []))[1].append(
                    (frame, _Keyframe((box.x, box.y, box.w, box.h), box.outside))
                )
            continue
        shapes.append(Shape(kind=BOX, label=label, frame=frame, box=(box.x, box.y, box.w, box.h)))
    for track_id, (label, rows) in keyframes.items():
        for position, keyframe, _ in track_frames(rows, len(positions), move=_move):
            shapes.append(
                Shape(kind=BOX, label=label, frame=position, box=keyframe.box, track=track_id)
            )
    names = task.project.keypoint_names
    skeletons = KeypointInstance.objects.filter(
        annotation=annotation, keyframe=True, outside=False
    ).select_related("label_class")
    for skeleton in skeletons:
        points = tuple(
            tuple(float(v) for v in skeleton.points.get(name, (0.0, 0.0, 0))) for name in names
        )
        frame = positions.get(skeleton.frame_id) if skeleton.frame_id is not None else None
        shapes.append(
            Shape(kind=KEYPOINTS, label=skeleton.label_class.name, frame=frame, points=points)
        )
    return shapes


def attempt_score(
    reference: list[Shape], attempt: list[Shape], *, keypoint_names: list[str]
) -> tuple[float, str]:
    """(score, metric) of `attempt` against `reference`: the mean of box F1, skeleton F1 x
    mean OKS and the tracks' IDF1, over those either side has; named after the first part
    (box_f1, oks or idf1). Two empty annotations agree (1.0)."""
    result = agreement(reference, attempt, sigmas=default_sigmas(keypoint_names))
    parts = []
    if result.boxes is not None:
        parts.append(("box_f1", result.boxes.f1))
    if result.keypoints is not None:
        parts.append(("oks", result.keypoints.f1 * result.keypoints.mean_oks))
    if result.tracks is not None and (
        result.tracks.truth_detections or result.tracks.predicted_detections
    ):
        parts.append(("idf1", result.tracks.idf1))
    if not parts:
        return 1.0, "box_f1"
    return sum(score for _, score in parts) / len(parts), parts[0][0]
