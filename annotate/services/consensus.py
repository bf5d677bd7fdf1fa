"""Forming a task's consensus once all of its k annotators have submitted: their latest
submissions are merged (annotate.quality.consensus) into a version of its own kind
(Annotation.Kind.CONSENSUS), the newest of the task, so review and exports take it; how well
they agreed is stored with it (TaskAgreement, one AnnotatorAgreement per annotator).

The merged shapes go through the editor's validator like every other write. A tracked shape
is merged frame by frame; the merged track is written as a keyframe on every frame it is on,
with an outside keyframe where it disappears before the segment ends.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Sequence

import numpy as np
from django.db import transaction

from annotate.quality.agreement import agreement, pairwise, summary
from annotate.quality.consensus import Consensus, ConsensusSettings, consensus_form
from annotate.quality.matching import default_sigmas
from annotate.quality.shapes import BOX, KEYPOINTS, Shape
from annotate.track_shapes import track_frames

from ..models import (
    Annotation,
    AnnotationTask,
    AnnotatorAgreement,
    Frame,
    Project,
    TaskAgreement,
    TaskLease,
)
from .annotations import annotation_store, annotation_validate, latest_version


@dataclasses.dataclass
class _BoxKey:
    x: float
    y: float
    w: float
    h: float
    outside: bool
    keyframe: bool = True
    ref: str | None = None


@dataclasses.dataclass
class _PointsKey:
    points: dict
    outside: bool
    keyframe: bool = True
    ref: str | None = None


def skeleton_sigmas(project: Project) -> np.ndarray:
    """The skeleton's per-joint OKS sigmas: its own where it has them ({"sigmas": {name:
    sigma}} in the skeleton), else COCO's for the COCO-17 names and 0.05 for the others."""
    names = project.keypoint_names
    own = (project.skeleton or {}).get("sigmas") or {}
    defaults = default_sigmas(names)
    if isinstance(own, list) and len(own) == len(names):
        own = dict(zip(names, own, strict=True))
    if not isinstance(own, dict):
        own = {}
    values = []
    for name, default in zip(names, defaults, strict=True):
        value = own.get(name)
        ok = isinstance(value, int | float) and not isinstance(value, bool) and value > 0
        values.append(float(value) if ok else float(default))
    return np.array(values, dtype=float)


def segment_frames(task: AnnotationTask) -> list[Frame]:
    """The task's frames in order (none for an image)."""
    if task.kind != AnnotationTask.Kind.VIDEO:
        return []
    return list(
        Frame.objects.filter(
            asset_id=task.asset_id, index__gte=task.frame_start, index__lte=task.frame_end
        ).order_by("index")
    )


def annotation_shapes(
    annotation: Annotation, *, names: Sequence[str], frames: Sequence[Frame]
) -> list[Shape]:
    """A version's shapes as annotate.quality shapes: untracked ones as stored, each track on
    every frame it is on (annotate.track_shapes)."""
    position = {frame.pk: i for i, frame in enumerate(frames)}
    out: list[Shape] = []
    keyframes: dict[tuple[str, int], list[tuple[int, object]]] = {}
    labels: dict[tuple[str, int], str] = {}
    boxes = sorted(annotation.boxes.select_related("label_class", "track"), key=lambda b: b.pk)
    instances = sorted(
        annotation.keypoint_instances.select_related("label_class", "track"), key=lambda k: k.pk
    )
    for i, b in enumerate(boxes):
        frame = position.get(b.frame_id) if b.frame_id is not None else None
        if b.track is None:
            out.append(
                Shape(BOX, b.label_class.name, frame, box=(b.x, b.y, b.w, b.h), ref=f"boxes[{i}]")
            )
        elif b.keyframe and frame is not None:
            key = (BOX, b.track.number)
            keyframes.setdefault(key, []).append(
                (frame, _BoxKey(b.x, b.y, b.w, b.h, b.outside, ref=f"boxes[{i}]"))
            )
            labels[key] = b.label_class.name
    for i, k in enumerate(instances):
        frame = position.get(k.frame_id) if k.frame_id is not None else None
        if k.track is None:
            out.append(
                Shape(
                    KEYPOINTS,
                    k.label_class.name,
                    frame,
                    points=_points(k.points, names),
                    ref=f"keypoints[{i}]",
                )  # fmt: skip
            )
        elif k.keyframe and frame is not None:
            key = (KEYPOINTS, k.track.number)
            keyframes.setdefault(key, []).append(
                (frame, _PointsKey(dict(k.points), k.outside, ref=f"keypoints[{i}]"))
            )
            labels[key] = k.label_class.name
    for (kind, number), pairs in sorted(keyframes.items()):
        for at, shape, is_key in track_frames(pairs, len(frames)):
            ref = shape.ref if is_key else None
            if kind == BOX:
                box = (shape.x, shape.y, shape.w, shape.h)
                out.append(Shape(BOX, labels[(kind, number)], at, box=box, track=number, ref=ref))
            else:
                points = _points(shape.points, names)
                out.append(
                    Shape(
                        KEYPOINTS, labels[(kind, number)], at, points=points, track=number, ref=ref
                    )  # fmt: skip
                )
    return out


def _points(points: dict, names: Sequence[str]) -> tuple[tuple[float, float, float], ...]:
    out = []
    for name in names:
        point = (points or {}).get(name) or [0, 0, 0]
        out.append((float(point[0]), float(point[1]), float(point[2])))
    return tuple(out)


def _payload(result: Consensus, *, names: Sequence[str], frames: Sequence[Frame]) -> dict:
    """The kept merged shapes as a save payload (frames by id)."""
    frame_id = [frame.pk for frame in frames]
    boxes, keypoints = [], []
    tracked: dict[tuple[str, int], dict[int, object]] = {}
    for shape in result.shapes:
        if not shape.kept:
            continue
        if shape.track is not None:
            tracked.setdefault((shape.kind, shape.track), {})[shape.frame] = shape
            continue
        frame = None if shape.frame is None else frame_id[shape.frame]
        boxes_or_points = _geometry(shape, names)
        if boxes_or_points is None:
            shape.kept = False
            continue
        (boxes if shape.kind == BOX else keypoints).append(
            {"frame": frame, "label": shape.label, **boxes_or_points}
        )
    for (kind, number), by_position in sorted(tracked.items()):
        last = None
        for position in range(len(frames)):
            shape = by_position.get(position)
            if shape is not None:
                row = {"frame": frame_id[position], "label": shape.label, "track": number}
                geometry = _geometry(shape, names)
                if geometry is None:
                    shape.kept = False
                    continue
                last = {**row, **geometry}
                (boxes if kind == BOX else keypoints).append(last)
            elif last is not None:
                # Gone from here until it comes back: an outside keyframe.
                gone = {**last, "frame": frame_id[position], "outside": True}
                (boxes if kind == BOX else keypoints).append(gone)
                last = None
    kept_tracks = [t for t in result.tracks if t.kept]
    return {
        "tracks": [{"number": t.number, "label": t.label} for t in kept_tracks],
        "boxes": boxes,
        "keypoints": keypoints,
    }


def _geometry(shape, names: Sequence[str]) -> dict | None:
    if shape.kind == BOX:
        x, y, w, h = shape.box
        return {"x": x, "y": y, "w": w, "h": h}
    if not any(v > 0 for _, _, v in shape.points):
        return None  # no joint reached half of its members
    points = {}
    for name, (x, y, v) in zip(names, shape.points, strict=True):
        points[name] = [x, y, int(v)] if v > 0 else [0, 0, 0]
    return {"points": points}


def _latest_submissions(task: AnnotationTask) -> list[Annotation]:
    """Each submitted annotator's latest submission, in the order of their slots."""
    users = list(
        TaskLease.objects.filter(task=task, state=TaskLease.State.SUBMITTED)
        .order_by("slot", "id")
        .values_list("user_id", flat=True)
    )
    out = []
    for user_id in users:
        submission = (
            Annotation.objects.filter(task=task, author_id=user_id, kind=Annotation.Kind.SUBMISSION)
            .select_related("author")
            .order_by("-version")
            .first()
        )
        if submission is not None:
            out.append(submission)
    return out


def _figures(values: dict) -> dict:
    return {key: values[key] for key in ("box_f1", "keypoint_f1", "oks", "hota", "idf1", "idsw")}


def _shape_details(result: Consensus, submissions, annotators, frames, names) -> list[dict]:
    """What the review page shows of each merged shape: where it is, who drew it (their
    shape's place in their version, "boxes[3]"), and how much they agreed."""
    usernames = [s.author.get_username() if s.author else "" for s in submissions]
    out = []
    for shape in result.shapes:
        out.append(
            {
                "kind": shape.kind,
                "label": shape.label,
                "frame": None if shape.frame is None else frames[shape.frame].pk,
                "track": shape.track,
                "box": list(shape.box) if shape.box is not None else None,
                "points": None
                if shape.points is None
                else {n: list(p) for n, p in zip(names, shape.points, strict=True)},
                "members": {
                    usernames[a]: annotators[a][index].ref for a, index in shape.members.items()
                },
                "votes": shape.votes,
                "support": shape.support,
                "agreement": shape.agreement,
                "kept": shape.kept,
                "disputed": shape.disputed,
            }
        )
    return out


def consensus_for_task(*, task: AnnotationTask) -> Annotation | None:
    """Merge the latest submissions of the task's annotators into a consensus version and
    store their agreement; None when fewer than two annotators submitted. Runs inside the
    submit's transaction (annotate.queue.services.task_submit), the task row locked."""
    submissions = _latest_submissions(task)
    if len(submissions) < 2:
        return None
    project = task.project
    names = project.keypoint_names
    sigmas = skeleton_sigmas(project)
    frames = segment_frames(task)
    annotators = [annotation_shapes(s, names=names, frames=frames) for s in submissions]
    settings = ConsensusSettings(
        iou_threshold=project.agreement_iou,
        oks_threshold=project.agreement_iou,
        quorum=project.consensus_quorum,
    )
    result = consensus_form(annotators, sigmas=sigmas, settings=settings)
    payload = _payload(result, names=names, frames=frames)
    checked = annotation_validate(task=task, payload=payload)
    options = {"sigmas": sigmas, "iou_threshold": project.agreement_iou,
               "oks_threshold": project.agreement_iou}  # fmt: skip
    with transaction.atomic():
        merged = annotation_store(
            task=task,
            user=None,
            checked=checked,
            kind=Annotation.Kind.CONSENSUS,
            version=(latest_version(task) or 0) + 1,
            base_version=None,
        )
        pairs = [a for _, _, a in pairwise(annotators, **options)]
        headline = summary(pairs)
        per_class: dict[str, list[float]] = {}
        per_joint: dict[str, list[float]] = {}
        for pair in pairs:
            for name, row in (pair.boxes.per_class if pair.boxes else {}).items():
                per_class.setdefault(name, []).append(float(row["f1"]))
            for name, value in zip(
                names, pair.keypoints.per_joint if pair.keypoints else [], strict=False
            ):
                if value is not None:
                    per_joint.setdefault(name, []).append(value)
        TaskAgreement.objects.filter(task=task).delete()
        row = TaskAgreement.objects.create(
            task=task,
            consensus=merged,
            annotators=len(submissions),
            **_figures(headline),
            per_class={name: float(np.mean(v)) for name, v in sorted(per_class.items())},
            per_joint={
                name: float(np.mean(per_joint[name])) for name in names if name in per_joint
            },
            shapes=_shape_details(result, submissions, annotators, frames, names),
            tracks=[
                {
                    "number": t.number,
                    "label": t.label,
                    "members": {
                        (submissions[a].author.get_username() if submissions[a].author else ""): n
                        for a, n in t.members.items()
                    },
                    "votes": t.votes,
                    "support": t.support,
                    "agreement": t.agreement,
                    "kept": t.kept,
                }
                for t in result.tracks
            ],
        )
        reference = result.kept()
        AnnotatorAgreement.objects.bulk_create(
            [
                AnnotatorAgreement(
                    agreement=row,
                    task=task,
                    user_id=submission.author_id,
                    annotation=submission,
                    **_annotator_figures(agreement(reference, shapes, **options)),
                )
                for submission, shapes in zip(submissions, annotators, strict=True)
            ]
        )
    return merged


def _annotator_figures(scores) -> dict:
    figures = _figures(summary([scores]))
    idsw = figures.pop("idsw")
    return {**figures, "idsw": None if idsw is None else int(idsw), "details": scores.as_dict()}
