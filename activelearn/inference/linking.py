"""Joining a model's per-frame detections on a video into tracks (pure numpy and scipy).

Frame by frame, the boxes are matched one-to-one to the tracks alive so far by the Hungarian
algorithm (scipy's `linear_sum_assignment`) on IoU with where each track is expected to be:
its last box moved on at its recent velocity, so two people who cross keep their identities
when they move smoothly. A match needs the same class and IoU >= `iou_threshold` (or, for a
fast mover, a centre within one box size of where it was expected); a box left over starts a
track, and a track unmatched for more than `max_age` frames ends. This is SORT
(Bewley, Ge, Ott, Ramos and Upcroft, "Simple Online and Realtime Tracking", ICIP 2016) with
a smoothed constant-velocity estimate in place of its Kalman filter.

Skeletons follow their box: on each frame every skeleton is assigned, one-to-one, to the box
holding most of its points (at least half) and takes that box's track, so the box and the
skeleton of one person are one track. A skeleton with no such box is linked like a box, by
the bounds of its points.

`link_boxes` works on arrays; `link_frames` on the units of Prediction.data (per frame
{"index", "boxes": [...], "keypoints": [...]}), as pre-annotation and scoring read them.
Predictions that already carry track ids (a tracker's output, MOT files) keep them.
"""

from __future__ import annotations

import math
from collections.abc import Mapping, Sequence
from dataclasses import dataclass

import numpy as np
from scipy.optimize import linear_sum_assignment

from activelearn.strategies.geometry import box_iou_matrix, points_inside

IOU_THRESHOLD = 0.2
# Frames (of those the model saw) a track may miss and still be continued: an occlusion of
# a few frames, a missed detection.
MAX_AGE = 5
# Weight of the newest displacement in a track's velocity (the rest: its previous velocity).
VELOCITY_SMOOTHING = 0.6
# A track seen once has no velocity yet: a box this far from it (centre distance in box sizes,
# the square root of its area) is still a candidate when their IoU is below the threshold.
MAX_JUMP = 1.0
# Share of a skeleton's points a box must hold for the skeleton to follow it.
SKELETON_IN_BOX = 0.5
_NO_MATCH = 1e6


@dataclass
class _Track:
    number: int
    label: int
    box: np.ndarray
    velocity: np.ndarray
    last_frame: int
    hits: int = 1

    def expected(self, frame: int) -> np.ndarray:
        box = self.box + self.velocity * (frame - self.last_frame)
        box[2:] = np.maximum(box[2:], 1.0)
        return box

    def update(self, box: np.ndarray, frame: int) -> None:
        step = (box - self.box) / max(1, frame - self.last_frame)
        self.velocity = (
            step
            if self.hits == 1
            else VELOCITY_SMOOTHING * step + (1 - VELOCITY_SMOOTHING) * self.velocity
        )
        self.box, self.last_frame, self.hits = box, frame, self.hits + 1


def link_boxes(
    frames: np.ndarray,
    boxes: np.ndarray,
    *,
    labels: np.ndarray | None = None,
    iou_threshold: float = IOU_THRESHOLD,
    max_age: int = MAX_AGE,
) -> np.ndarray:
    """Track numbers (1, 2, ... in order of birth) of `[n]` detections: `frames` their frame
    positions (whole numbers, consecutive frames 1 apart), `boxes` `[n, 4]` (x, y, w, h),
    `labels` optional class ids (boxes of two classes are never one track)."""
    frames = np.asarray(frames, dtype=np.int64).reshape(-1)
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    n = frames.shape[0]
    if boxes.shape[0] != n:
        raise ValueError(f"{n} frames but {boxes.shape[0]} boxes")
    if not np.all(np.isfinite(boxes)):
        raise ValueError("boxes hold NaN or infinite values")
    labels = np.zeros(n, dtype=np.int64) if labels is None else np.asarray(labels).reshape(-1)
    if labels.shape[0] != n:
        raise ValueError(f"{n} boxes but {labels.shape[0]} labels")
    numbers = np.zeros(n, dtype=np.int64)
    order = np.lexsort((np.arange(n), frames))
    alive: list[_Track] = []
    next_number = 1
    for chunk in np.split(order, np.flatnonzero(np.diff(frames[order])) + 1):
        if not chunk.size:
            continue
        frame = int(frames[chunk[0]])
        alive = [track for track in alive if frame - track.last_frame - 1 <= max_age]
        unmatched = list(chunk)
        if alive:
            expected = np.array([track.expected(frame) for track in alive])
            iou = box_iou_matrix(expected, boxes[chunk])
            jump = _centre_distance(expected, boxes[chunk])
            same = np.array([t.label for t in alive])[:, None] == labels[chunk][None, :]
            near = (iou >= iou_threshold) | (jump <= MAX_JUMP)
            cost = np.where(same & near, 1.0 - iou + 0.1 * np.minimum(jump, 2.0), _NO_MATCH)
            rows, cols = linear_sum_assignment(cost)
            for row, col in zip(rows, cols, strict=True):
                if cost[row, col] >= _NO_MATCH:
                    continue
                detection = int(chunk[col])
                alive[row].update(boxes[detection].copy(), frame)
                numbers[detection] = alive[row].number
                unmatched.remove(detection)
        for detection in unmatched:
            alive.append(
                _Track(
                    number=next_number,
                    label=int(labels[detection]),
                    box=boxes[detection].copy(),
                    velocity=np.zeros(4),
                    last_frame=frame,
                )
            )
            numbers[detection] = next_number
            next_number += 1
    return numbers


def _centre_distance(a: np.ndarray, b: np.ndarray) -> np.ndarray:
    """[n, m] distance between the centres of `a` and `b`, in sizes of the `a` box."""
    centre_a = a[:, :2] + a[:, 2:] / 2
    centre_b = b[:, :2] + b[:, 2:] / 2
    scale = np.sqrt(np.maximum(a[:, 2] * a[:, 3], 1.0))[:, None]
    return np.linalg.norm(centre_a[:, None, :] - centre_b[None, :, :], axis=2) / scale


def skeletons_to_boxes(
    boxes: np.ndarray, skeletons: Sequence[np.ndarray], *, share: float = SKELETON_IN_BOX
) -> np.ndarray:
    """For skeletons on one frame (each `[k, 2]` points), the index of the box each one
    follows (one skeleton per box), or -1: the box holding most of its points, when that
    is at least `share` of them."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    owner = np.full(len(skeletons), -1, dtype=np.int64)
    if not len(skeletons) or not boxes.shape[0]:
        return owner
    inside = np.zeros((len(skeletons), boxes.shape[0]))
    bounds = np.zeros((len(skeletons), 4))
    for i, points in enumerate(skeletons):
        points = np.asarray(points, dtype=np.float64).reshape(-1, 2)
        if points.shape[0]:
            inside[i] = points_inside(points, boxes).mean(axis=0)
            bounds[i] = _bounds(points)
    # Ties (a skeleton inside two boxes) go to the box that fits it best.
    score = inside + 1e-3 * box_iou_matrix(bounds, boxes)
    rows, cols = linear_sum_assignment(-score)
    for row, col in zip(rows, cols, strict=True):
        if inside[row, col] >= share:
            owner[row] = col
    return owner


def _bounds(points: np.ndarray) -> np.ndarray:
    low, high = points.min(axis=0), points.max(axis=0)
    return np.array([low[0], low[1], max(high[0] - low[0], 1.0), max(high[1] - low[1], 1.0)])


# --- on prediction units --------------------------------------------------------------------


@dataclass(frozen=True)
class LinkedFrame:
    """The track numbers of one unit's boxes and skeletons, in their order (None: a shape
    that gives no box, e.g. no numbers)."""

    boxes: list[int | None]
    keypoints: list[int | None]


def _number(value: object) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float) or not math.isfinite(value):
        return None
    return float(value)


def _box_of(box: object) -> np.ndarray | None:
    if not isinstance(box, Mapping):
        return None
    if isinstance(box.get("bbox"), list) and len(box["bbox"]) == 4:
        values = [_number(v) for v in box["bbox"]]
    else:
        values = [_number(box.get(k)) for k in ("x", "y", "w", "h")]
    if None in values or values[2] <= 0 or values[3] <= 0:
        return None
    return np.array(values, dtype=np.float64)


def _points_of(instance: object) -> np.ndarray | None:
    """A skeleton's placed points ([x, y] or [x, y, c] with c > 0) as `[k, 2]`."""
    if not isinstance(instance, Mapping) or not isinstance(instance.get("points"), Mapping):
        return None
    points = []
    for value in instance["points"].values():
        if not isinstance(value, list | tuple) or len(value) < 2:
            continue
        x, y = _number(value[0]), _number(value[1])
        flag = _number(value[2]) if len(value) > 2 else 1.0
        if x is not None and y is not None and flag:
            points.append((x, y))
    return np.array(points, dtype=np.float64) if points else None


def _label_of(shape: object) -> object:
    """The class a shape is linked within: its label, else its most probable class."""
    if not isinstance(shape, Mapping):
        return None
    if isinstance(shape.get("label"), str):
        return shape["label"]
    probs = shape.get("class_probs") or shape.get("probs")
    if isinstance(probs, list) and probs and all(_number(p) is not None for p in probs):
        return ("class", max(range(len(probs)), key=probs.__getitem__))
    return None


def _given_track(shape: object) -> int | None:
    track = shape.get("track") if isinstance(shape, Mapping) else None
    if isinstance(track, int) and not isinstance(track, bool) and track >= 1:
        return track
    return None


def link_frames(
    units: Sequence[Mapping],
    *,
    iou_threshold: float = IOU_THRESHOLD,
    max_age: int = MAX_AGE,
) -> list[LinkedFrame]:
    """Track numbers for the boxes and skeletons of a video task's prediction units (one
    per frame, any order; frames are taken in the order of their "index"). When every box
    carries a "track" id (a tracker's own) those are kept and skeletons without one follow
    their box; otherwise everything is linked here, numbered 1, 2, ... by first frame."""
    boxes_given = [_given_track(box) for unit in units for box in (unit.get("boxes") or [])]
    keep_given = bool(boxes_given) and None not in boxes_given
    indices = sorted({_frame_key(unit) for unit in units})
    position = {index: p for p, index in enumerate(indices)}
    label_ids: dict[object, int] = {}

    # Objects to link: every box, and every skeleton that follows no box (by its bounds).
    frames, boxes, labels, owners = [], [], [], []  # owners: (unit, "box" | "kp", position)
    follows: list[list[int]] = []  # per unit: per skeleton, the box it follows or -1
    for u, unit in enumerate(units):
        unit_boxes = [_box_of(box) for box in unit.get("boxes") or []]
        unit_points = [_points_of(inst) for inst in unit.get("keypoints") or []]
        valid = [i for i, box in enumerate(unit_boxes) if box is not None]
        with_points = [i for i, points in enumerate(unit_points) if points is not None]
        owner = skeletons_to_boxes(
            np.array([unit_boxes[i] for i in valid]).reshape(-1, 4),
            [unit_points[i] for i in with_points],
        )
        unit_follows = [-1] * len(unit_points)
        for k, i in enumerate(with_points):
            if owner[k] >= 0:
                unit_follows[i] = valid[owner[k]]
        follows.append(unit_follows)
        for i in valid:
            frames.append(position[_frame_key(unit)])
            boxes.append(unit_boxes[i])
            labels.append(label_ids.setdefault(_label_of(unit["boxes"][i]), len(label_ids)))
            owners.append((u, "box", i))
        for i in with_points:
            if unit_follows[i] < 0:
                frames.append(position[_frame_key(unit)])
                boxes.append(_bounds(unit_points[i]))
                label = _label_of(unit["keypoints"][i])
                labels.append(label_ids.setdefault(label, len(label_ids)))
                owners.append((u, "kp", i))

    numbers = (
        link_boxes(
            np.array(frames, dtype=np.int64),
            np.array(boxes).reshape(-1, 4),
            labels=np.array(labels, dtype=np.int64),
            iou_threshold=iou_threshold,
            max_age=max_age,
        )
        if boxes
        else np.zeros(0, dtype=np.int64)
    )
    out = [
        LinkedFrame(
            boxes=[None] * len(unit.get("boxes") or []),
            keypoints=[None] * len(unit.get("keypoints") or []),
        )
        for unit in units
    ]
    for (u, kind, i), number in zip(owners, numbers.tolist(), strict=True):
        if kind == "box":
            given = _given_track(units[u]["boxes"][i])
            out[u].boxes[i] = given if keep_given else number
        else:
            given = _given_track(units[u]["keypoints"][i])
            out[u].keypoints[i] = (
                given if keep_given and given else (None if keep_given else number)
            )
    for u, unit_follows in enumerate(follows):
        for i, box in enumerate(unit_follows):
            if box >= 0:
                given = _given_track(units[u]["keypoints"][i]) if keep_given else None
                out[u].keypoints[i] = given or out[u].boxes[box]
    return out


def _frame_key(unit: Mapping) -> int:
    index = unit.get("index")
    return int(index) if isinstance(index, int) and not isinstance(index, bool) else 0
