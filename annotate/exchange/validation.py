"""Imported shapes pass the editor's own validation (annotate.services.annotations), task by
task, before anything is written: finite numbers, boxes and points within the image, keypoint
names, track numbers, one shape per track and frame. What the editor would refuse is refused
here too, per record; what the editor clips (within half a pixel) is clipped the same way.

Only MOTChallenge says boxes may reach past the image (people walking out of view), and its
evaluation clips them: MOT boxes are clipped to the image first. Other formats keep theirs.
"""

from __future__ import annotations

import re
from typing import TYPE_CHECKING

from annotate.batching import batched
from annotate.models import AnnotationTask, Frame, LabelClass, Project, ShapeSource
from annotate.services.annotations import annotation_problems

if TYPE_CHECKING:
    from .importing import Placed

CLIPPED_FORMATS = frozenset({"mot"})
_PATH = re.compile(r"^(boxes|keypoints|tracks)\[(\d+)\](?:\.(.+))?$")
BATCH = 1000


def _clip(box: tuple, width: int, height: int) -> tuple | None:
    """The part of the box inside the image, or None when it lies wholly outside."""
    x, y, w, h = box
    left, top = max(x, 0.0), max(y, 0.0)
    right, bottom = min(x + w, float(width)), min(y + h, float(height))
    if right <= left or bottom <= top:
        return None
    return left, top, right - left, bottom - top


class _TaskPayload:
    """One task's placed shapes as the editor's save payload, remembering which record each
    entry came from so that an error found at "boxes[3].x" can be told to that record."""

    def __init__(self, placed: list[Placed], *, predictions: bool) -> None:
        self.placed = placed
        self.box_owner: list[int] = []
        self.points_owner: list[int] = []
        self.track_owner: list[int] = []
        tracks: dict[int, str] = {}
        boxes, keypoints = [], []
        for i, shape in enumerate(placed):
            common = {
                "frame": shape.frame_id,
                "label": shape.label,
                "keyframe": shape.keyframe,
                "outside": shape.outside,
                "occluded": shape.occluded,
                "attributes": shape.attributes,
            }
            if shape.track is not None:
                common["track"] = shape.track
                if shape.track not in tracks:
                    tracks[shape.track] = shape.label
                    self.track_owner.append(i)
            if predictions and shape.score is not None:
                common.update(source=ShapeSource.MODEL, confidence=shape.score)
            if shape.box is not None:
                x, y, w, h = shape.box
                boxes.append({**common, "x": x, "y": y, "w": w, "h": h})
                self.box_owner.append(i)
            if shape.points is not None:
                keypoints.append({**common, "points": shape.points})
                self.points_owner.append(i)
        self.payload = {
            "tracks": [{"number": n, "label": label} for n, label in tracks.items()],
            "boxes": boxes,
            "keypoints": keypoints,
        }

    def owners(self, path: str) -> list[int]:
        """The records a problem at `path` belongs to (a whole-list problem: all of them)."""
        match = _PATH.match(path)
        if match is None:
            kind = path.split(".", 1)[0]
            owners = {"boxes": self.box_owner, "keypoints": self.points_owner}.get(kind)
            return list(owners if owners is not None else range(len(self.placed)))
        kind, index = match.group(1), int(match.group(2))
        owners = {"boxes": self.box_owner, "keypoints": self.points_owner}.get(
            kind, self.track_owner
        )
        return [owners[index]] if index < len(owners) else []


def _message(path: str, messages: list[str]) -> str:
    match = _PATH.match(path)
    field = match.group(3) if match else None
    kind = {"boxes": "box", "keypoints": "keypoints", "tracks": "track"}.get(
        match.group(1) if match else path, path
    )
    where = f"{kind} {field}" if field else kind
    return f"{where}: {' '.join(messages)}"


def placed_validate(
    *,
    project: Project,
    shapes: dict[int, list[Placed]],
    format: str,
    predictions: bool,
) -> list[dict]:
    """Check every task's shapes with the editor's validator. Refused records are removed
    from `shapes`; the kept ones get the validator's (clipped) geometry. Returns the errors,
    [{"record", "message", "derived"}], one per refused record ("derived": not a record of
    the file but the end of a track the import added)."""
    classes = {c.name: c for c in LabelClass.objects.filter(project=project)}
    task_ids = sorted(shapes)
    tasks: dict[int, AnnotationTask] = {}
    for batch in batched(task_ids, BATCH):
        for task in AnnotationTask.objects.filter(pk__in=batch).select_related("asset"):
            task.project = project  # one project object for all: no query per task
            tasks[task.pk] = task
    frame_ids = sorted({s.frame_id for p in shapes.values() for s in p if s.frame_id})
    frames: dict[int, Frame] = {}
    for batch in batched(frame_ids, BATCH):
        frames.update((f.pk, f) for f in Frame.objects.filter(pk__in=batch))

    errors: list[dict] = []
    for task_id in task_ids:
        task = tasks[task_id]
        placed = shapes[task_id]
        if format in CLIPPED_FORMATS:
            placed = _clipped(placed, task, frames, errors)
        task_frames = {s.frame_id: frames[s.frame_id] for s in placed if s.frame_id in frames}
        # A refused record can make others fail (a track's class is taken from its first
        # shape): check again without it until what is left passes.
        for _ in range(3):
            built = _TaskPayload(placed, predictions=predictions)
            found = annotation_problems(
                task=task, payload=built.payload, classes=classes, frames=task_frames
            )
            problems = {**found.schema_errors}
            for path, messages in found.errors.items():
                problems.setdefault(path, []).extend(messages)
            if not problems:
                break
            refused: dict[int, list[str]] = {}
            for path, messages in problems.items():
                for owner in built.owners(path):
                    refused.setdefault(owner, []).append(_message(path, messages))
            if not refused:  # a problem no record can be blamed for: refuse them all
                refused = {
                    i: [_message(p, m) for p, m in problems.items()] for i in range(len(placed))
                }
            errors.extend(
                {
                    "record": placed[i].record,
                    "message": " ".join(refused[i]),
                    "derived": placed[i].derived,
                }
                for i in sorted(refused)
            )
            placed = [s for i, s in enumerate(placed) if i not in refused]
        else:
            errors.extend(
                {
                    "record": s.record,
                    "message": "Refused with the rest of its task.",
                    "derived": s.derived,
                }
                for s in placed
            )
            placed = []
        if placed:
            _adopt(placed, built, found.checked)
        shapes[task_id] = placed
    return errors


def _clipped(placed: list[Placed], task: AnnotationTask, frames: dict, errors: list) -> list:
    kept = []
    for shape in placed:
        if shape.box is not None:
            frame = frames.get(shape.frame_id)
            width, height = (
                (frame.width, frame.height) if frame else (task.asset.width, task.asset.height)
            )
            if width and height:
                clipped = _clip(shape.box, width, height)
                if clipped is None:
                    errors.append(
                        {
                            "record": shape.record,
                            "message": f"The box lies wholly outside the image ({width}x{height}).",
                        }
                    )
                    continue
                shape.box = clipped
        kept.append(shape)
    return kept


def _adopt(placed: list[Placed], built: _TaskPayload, checked) -> None:
    """Take the validator's geometry (clipped to the image edge) for the records that passed:
    every entry passed, so the checked rows are the payload's entries in order."""
    for row, owner in zip(checked.boxes, built.box_owner, strict=True):
        placed[owner].box = (row["x"], row["y"], row["w"], row["h"])
        placed[owner].attributes = row["attributes"]  # with the schema's defaults
    for row, owner in zip(checked.keypoints, built.points_owner, strict=True):
        placed[owner].points = row["points"]
        placed[owner].attributes = row["attributes"]
