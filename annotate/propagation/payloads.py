"""What propagation reads and writes, in the editor's save format (the payload of
annotate.selectors_labeling.annotation_data): the shapes of the frames it passes, the tracks
it starts from, the rows of each step, and a task's version with them in place.
"""

from __future__ import annotations

import math
from dataclasses import dataclass, field

from django.db.models import Max

from annotate.models import AnnotationTask, Frame, ShapeSource, Track
from annotate.models.propagation_jobs import PropagationJob

from .flow import FlowTracker, ShapeStart, ShapeStep


@dataclass
class TaskWork:
    """One task the run touches: its version at the start and the shapes written into it."""

    task: AnnotationTask
    own_chain: bool
    base_version: int | None
    payload: dict
    written: list[tuple[str, dict]] = field(default_factory=list)  # ("boxes"|"keypoints", shape)


@dataclass
class Followed:
    number: int
    label: str
    start_confidence: float
    has_box: bool
    visibility: dict[str, int]  # keypoint name -> 2 visible / 1 occluded, at the start
    # "boxes"/"keypoints" -> {"occluded", "attributes"} of the start shape: carried along
    # (an immutable attribute must keep its value on the whole track).
    carried: dict[str, dict] = field(default_factory=dict)


def stop_record(track: int | None, frame_index: int | None, reason: str) -> dict:
    return {"track": track, "frame": frame_index, "reason": reason}


def shapes_by_frame(payloads: list[dict]) -> dict[tuple[int, int], dict[str, dict]]:
    """(track, frame id) -> {"boxes": shape, "keypoints": shape} over the tasks' versions."""
    out: dict[tuple[int, int], dict[str, dict]] = {}
    for payload in payloads:
        for kind in ("boxes", "keypoints"):
            for shape in payload[kind]:
                if shape["track"] is not None:
                    out.setdefault((shape["track"], shape["frame"]), {})[kind] = shape
    return out


def given_keyframe(shapes: dict[str, dict]) -> str:
    """'human' or 'model' when one of the track's shapes on a frame is a keyframe that
    propagation did not make; '' otherwise."""
    for shape in shapes.values():
        if shape["keyframe"] and shape["source"] != ShapeSource.PROPAGATION:
            return "human" if shape["source"] == ShapeSource.HUMAN else shape["source"]
    return ""


def starting_shapes(
    job: PropagationJob, work: TaskWork, shapes_at: dict
) -> tuple[dict[int, Followed], list[ShapeStart], list[dict]]:
    """The tracks to carry with their shapes on the start frame. With "all", the frame's
    shapes without a track become new tracks (in the start task's version)."""
    frame_id = job.start_frame_id
    payload = work.payload
    labels = {t["number"]: t["label"] for t in payload["tracks"]}
    stops: list[dict] = []
    if job.tracks is None:
        numbers = sorted({n for (n, f) in shapes_at if f == frame_id})
        numbers += tracks_for_loose_shapes(job, payload, shapes_at, labels)
    else:
        numbers = list(job.tracks)
    followed: dict[int, Followed] = {}
    starts: list[ShapeStart] = []
    for number in numbers:
        here = shapes_at.get((number, frame_id), {})
        if not here:
            stops.append(
                stop_record(number, job.start_frame.index, "it has no shape on this frame")
            )
            continue
        box, skeleton = here.get("boxes"), here.get("keypoints")
        points = {}
        visibility = {}
        if skeleton is not None:
            for name, (x, y, v) in skeleton["points"].items():
                if v:
                    points[name] = (float(x), float(y))
                    visibility[name] = int(v)
        if box is None and not points:
            stops.append(stop_record(number, job.start_frame.index, "its skeleton has no points"))
            continue
        confidences = [
            s["confidence"]
            for s in here.values()
            if s["source"] != ShapeSource.HUMAN and s["confidence"] is not None
        ]
        followed[number] = Followed(
            number=number,
            label=labels.get(number) or next(iter(here.values()))["label"],
            start_confidence=min(confidences, default=1.0),
            has_box=box is not None,
            visibility=visibility,
            carried={
                kind: {
                    "occluded": bool(shape.get("occluded", False)),
                    "attributes": dict(shape.get("attributes") or {}),
                }
                for kind, shape in here.items()
            },
        )
        starts.append(
            ShapeStart(
                key=number,
                box=(box["x"], box["y"], box["w"], box["h"]) if box else None,
                points=points,
                occluded=frozenset(n for n, v in visibility.items() if v == 1),
            )
        )
    return followed, starts, stops


def tracks_for_loose_shapes(
    job: PropagationJob, payload: dict, shapes_at: dict, labels: dict[int, str]
) -> list[int]:
    """Give each shape of the start frame that has no track a new track number (the asset's
    next), in the start task's version, so that it can be carried. Pairs a loose box and a
    loose skeleton of one class only when each is alone of its class on the frame."""
    frame_id = job.start_frame_id
    loose = {
        kind: [s for s in payload[kind] if s["frame"] == frame_id and s["track"] is None]
        for kind in ("boxes", "keypoints")
    }
    if not loose["boxes"] and not loose["keypoints"]:
        return []
    used = Track.objects.filter(asset_id=job.task.asset_id).aggregate(n=Max("number"))["n"] or 0
    in_versions = max((n for n, _ in shapes_at), default=0)
    next_number = max(used, in_versions) + 1
    created = []
    skeletons = list(loose["keypoints"])
    for box in loose["boxes"]:
        same = [s for s in skeletons if s["label"] == box["label"]]
        boxes_of_class = [b for b in loose["boxes"] if b["label"] == box["label"]]
        group = [box]
        if len(same) == 1 and len(boxes_of_class) == 1:
            group.append(same[0])
            skeletons.remove(same[0])
        for shape in group:
            shape["track"] = next_number
        created.append((next_number, box["label"], group))
        next_number += 1
    for skeleton in skeletons:
        skeleton["track"] = next_number
        created.append((next_number, skeleton["label"], [skeleton]))
        next_number += 1
    for number, label, group in created:
        payload["tracks"].append({"number": number, "label": label})
        labels[number] = label
        for shape in group:
            kind = "boxes" if "x" in shape else "keypoints"
            shapes_at.setdefault((number, frame_id), {})[kind] = shape
    return [number for number, _, _ in created]


def shapes_of_step(
    step: ShapeStep,
    track: Followed,
    frame: Frame,
    threshold: float,
    stop_mode: bool,
    tracker: FlowTracker,
) -> tuple[list[tuple[str, dict]] | None, str | bool]:
    """The rows to write for one step of one track: ([(kind, shape)], below threshold), or
    (None, why the track ends here)."""
    rows: list[tuple[str, dict]] = []
    base = {"frame": frame.pk, "label": track.label, "track": track.number, "keyframe": True,
            "source": ShapeSource.PROPAGATION}  # fmt: skip
    below = False
    if track.has_box:
        confidence = min(track.start_confidence, step.box_confidence or 0.0)
        if step.lost:
            return None, "its box lost every feature the flow could follow"
        if stop_mode and confidence < threshold:
            return None, f"the confidence fell below {threshold:g}"
        box = clipped(step.box, frame.width, frame.height)
        if box is None:
            return None, "it left the picture"
        below = confidence < threshold
        carried = track.carried.get("boxes", {})
        rows.append(("boxes", {**base, **carried, **box, "confidence": rounded(confidence)}))
    if track.visibility:
        points = {}
        confidences = []
        for name, (x, y) in step.points.items():
            confidence = min(track.start_confidence, step.point_confidence[name])
            inside = 0 <= x <= frame.width and 0 <= y <= frame.height
            if not inside or (stop_mode and confidence < threshold):
                tracker.drop_point(step.key, name)  # from here on, not labeled
                continue
            points[name] = [round(x, 2), round(y, 2), track.visibility[name]]
            confidences.append(confidence)
        if points:
            skeleton_confidence = sum(confidences) / len(confidences)
            below = below or min(confidences) < threshold
            rows.append(
                (
                    "keypoints",
                    {
                        **base,
                        **track.carried.get("keypoints", {}),
                        "points": points,
                        "confidence": rounded(skeleton_confidence),
                    },
                )
            )
        elif not track.has_box:
            return None, f"every keypoint's confidence fell below {threshold:g}"
    return rows, below


def outside_rows(rows: list[tuple[str, dict]], frame: Frame) -> list[tuple[str, dict]]:
    """Outside keyframes on `frame` for a track whose last written shapes are `rows`: the
    track is gone from this frame on (its geometry, the last one seen, moves nothing)."""
    out = []
    for kind, shape in rows:
        gone = {**shape, "frame": frame.pk, "outside": True}
        if kind == "keypoints":
            gone["points"] = {}
        out.append((kind, gone))
    return out


def rounded(confidence: float) -> float:
    return min(max(round(float(confidence), 4), 0.0), 1.0)


def clipped(box: tuple[float, float, float, float], width: int, height: int) -> dict | None:
    x, y, w, h = box
    left, top = max(x, 0.0), max(y, 0.0)
    right, bottom = min(x + w, float(width)), min(y + h, float(height))
    if not all(map(math.isfinite, (left, top, right, bottom))):
        return None
    if right - left < 1 or bottom - top < 1:
        return None
    return {
        "x": round(left, 2),
        "y": round(top, 2),
        "w": round(right - left, 2),
        "h": round(bottom - top, 2),
    }


def merged(work: TaskWork, followed: dict[int, Followed]) -> dict:
    """The task's version with the written shapes in place of what was on their frames."""
    payload = work.payload
    replaced = {(kind, s["track"], s["frame"]) for kind, s in work.written}
    out = {
        "tracks": list(payload["tracks"]),
        "boxes": [s for s in payload["boxes"] if ("boxes", s["track"], s["frame"]) not in replaced],
        "keypoints": [
            s for s in payload["keypoints"] if ("keypoints", s["track"], s["frame"]) not in replaced
        ],
    }
    listed = {t["number"] for t in out["tracks"]}
    for kind, shape in work.written:
        out[kind].append(shape)
        if shape["track"] not in listed:
            out["tracks"].append(
                {"number": shape["track"], "label": followed[shape["track"]].label}
            )
            listed.add(shape["track"])
    return out
