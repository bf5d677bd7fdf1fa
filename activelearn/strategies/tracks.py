"""Track risk: where on a video the tracks are likely wrong, per frame and per segment, so the
labeling goes to the moments a tracker loses identities (people colliding around the ball)
rather than to calm stretches.

Five signals per frame, each in [0, 1]:
- collision: the largest IoU between boxes of two different tracks. Occlusion and close
  interaction are where identity switches happen (Bernardin and Stiefelhagen's CLEAR MOT
  analysis; Luiten et al.'s HOTA paper shows association errors concentrate there);
- lost identity: a track that starts or ends inside the segment with its box away from the
  image border: an object does not appear or vanish in the open, its track did;
- flow error: 1 - the forward-backward confidence of propagated shapes (Kalal, Mikolajczyk
  and Matas, "Forward-Backward Error: Automatic Detection of Tracking Failures", ICPR 2010);
- confidence dip: how far a box's confidence falls below its track's median (relative), the
  model doubting an object it saw clearly before and after;
- disagreement: 1 - the best IoU of a propagated shape with the model's boxes on its frame.
A frame's risk is their noisy-or, 1 - prod(1 - weight * signal); a segment's is its frames'
risk reduced by the project's aggregate (max by default). Every stretch of frames where a
signal is high becomes a reason ("collision of #3 and #7 at frames 41-47") that the queue
shows. Pure numpy: the adapter (activelearn.scoring.adapters) builds the arrays.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

from activelearn.strategies.geometry import box_iou_matrix
from activelearn.strategies.validation import (
    Aggregate,
    aggregate_by_group,
    as_finite_array,
    check_aggregate,
)

# Columns of a track row: frame (its index in the video), track number, box, confidence.
TRACK_COLUMNS = ("frame", "track", "x", "y", "w", "h", "confidence")
# How much each signal counts in a frame's risk.
WEIGHTS = {"collision": 1.0, "lost": 0.6, "flow": 0.8, "dip": 0.5, "disagreement": 0.7}
# From how high a signal a stretch of frames is a reason the queue shows.
REASON_AT = {"collision": 0.1, "lost": 0.5, "flow": 0.5, "dip": 0.3, "disagreement": 0.5}
MAX_REASONS = 5
# Away from the border: farther than this share of the shorter image side (at least 8 px).
BORDER_SHARE = 0.03
BORDER_MIN_PX = 8.0


@dataclass(frozen=True)
class TrackRiskReport:
    """Scores per segment, each segment's frames with their risk, and the reasons (largest
    first): {"kind", "tracks", "frames": [first, last], "peak", "score", "text"}."""

    scores: np.ndarray
    frames: list[np.ndarray]
    frame_risk: list[np.ndarray]
    reasons: list[list[dict]]


def _rows(values: object, name: str) -> np.ndarray:
    if values is None:
        return np.zeros((0, 7))
    array = np.asarray(values, dtype=np.float64)
    if array.size == 0:
        return np.zeros((0, 7))
    array = as_finite_array(array, name=name, ndim=2)
    if array.shape[1] == 6:  # no confidence column: sure
        array = np.hstack([array, np.ones((array.shape[0], 1))])
    if array.shape[1] != 7:
        raise ValueError(f"{name} must be rows of {', '.join(TRACK_COLUMNS)}; got {array.shape}")
    if np.any(array[:, 4:6] < 0):
        raise ValueError(f"{name} has boxes with a negative width or height")
    array[:, 6] = np.clip(array[:, 6], 0.0, 1.0)
    return array


def _index(values: object, n: int, n_segments: int, name: str) -> np.ndarray:
    if values is None:
        if n and n_segments != 1:
            raise ValueError(f"{name} is needed with more than one segment")
        return np.zeros(n, dtype=np.int64)
    index = np.asarray(values).reshape(-1)
    if index.shape[0] != n:
        raise ValueError(f"{name} has {index.shape[0]} entries for {n} rows")
    if n and (index.min() < 0 or index.max() >= n_segments):
        raise ValueError(f"{name} must lie in [0, {n_segments})")
    return index.astype(np.int64)


def _runs(frames: np.ndarray, values: np.ndarray, at: float) -> list[tuple[int, int, int, float]]:
    """(first frame, last frame, peak frame, peak value) of each stretch of consecutive
    frames (as listed) where `values` >= `at`."""
    runs, start = [], None
    for position, high in enumerate(np.append(values >= at, False)):
        if high and start is None:
            start = position
        elif not high and start is not None:
            stretch = values[start:position]
            peak = start + int(np.argmax(stretch))
            runs.append(
                (
                    int(frames[start]),
                    int(frames[position - 1]),
                    int(frames[peak]),
                    float(values[peak]),
                )
            )
            start = None
    return runs


def _frames_text(first: int, last: int) -> str:
    return f"frame {first}" if first == last else f"frames {first}\u2013{last}"


def _reason(kind: str, tracks: Sequence[int], run: tuple[int, int, int, float], **extra) -> dict:
    first, last, peak, score = run
    names = " and ".join(f"#{t}" for t in tracks)
    where = _frames_text(first, last)
    text = {
        "collision": f"collision of {names} at {where}",
        "lost": f"{names} {extra.get('what', 'lost')} away from the border at {where}",
        "flow": f"optical flow unsure of {names} at {where}",
        "dip": f"model's confidence in {names} dips at {where}",
        "disagreement": f"propagated {names} disagrees with the model at {where}",
    }[kind]
    return {
        "kind": kind,
        "tracks": [int(t) for t in tracks],
        "frames": [first, last],
        "peak": peak,
        "score": round(score, 4),
        "text": text,
    }


def _inside(box: np.ndarray, size: np.ndarray | None) -> bool:
    """Whether a box lies away from every border of an image of `size` (width, height)."""
    if size is None or size[0] <= 0 or size[1] <= 0:
        return False
    margin = max(BORDER_MIN_PX, BORDER_SHARE * float(min(size)))
    x, y, w, h = box
    return x > margin and y > margin and x + w < size[0] - margin and y + h < size[1] - margin


def _segment(
    rows: np.ndarray,
    propagated: np.ndarray,
    frame_range: np.ndarray | None,
    size: np.ndarray | None,
    max_reasons: int = MAX_REASONS,
) -> tuple[np.ndarray, np.ndarray, list[dict]]:
    """One segment's frames, their risk and its `max_reasons` largest reasons."""
    frames = np.union1d(rows[:, 0], propagated[:, 0]).astype(np.int64)
    if frame_range is not None:
        first_frame, last_frame = int(frame_range[0]), int(frame_range[1])
    else:
        first_frame = int(frames.min()) if frames.size else 0
        last_frame = int(frames.max()) if frames.size else 0
    position = {int(f): p for p, f in enumerate(frames)}
    signals = {kind: np.zeros(frames.size) for kind in WEIGHTS}
    reasons: list[dict] = []

    # Collisions: per pair of tracks, the IoU on each frame they share.
    pair_iou: dict[tuple[int, int], np.ndarray] = {}
    by_frame = {int(f): rows[rows[:, 0] == f] for f in np.unique(rows[:, 0])}
    for frame, here in by_frame.items():
        if here.shape[0] < 2:
            continue
        iou = box_iou_matrix(here[:, 2:6], here[:, 2:6])
        a, b = np.triu_indices(here.shape[0], k=1)
        for i, j, value in zip(a, b, iou[a, b], strict=True):
            if value <= 0:
                continue
            pair = tuple(sorted((int(here[i, 1]), int(here[j, 1]))))
            if pair[0] == pair[1]:
                continue
            pair_iou.setdefault(pair, np.zeros(frames.size))[position[frame]] = value
    for pair, values in pair_iou.items():
        signals["collision"] = np.maximum(signals["collision"], values)
        for run in _runs(frames, values, REASON_AT["collision"]):
            reasons.append(_reason("collision", pair, run))

    # Lost identities and confidence dips, track by track.
    for track in np.unique(rows[:, 1]):
        mine = rows[rows[:, 1] == track]
        mine = mine[np.argsort(mine[:, 0], kind="stable")]
        start, end = mine[0], mine[-1]
        for row, what, at_edge in ((start, "appears", first_frame), (end, "ends", last_frame)):
            if int(row[0]) != at_edge and _inside(row[2:6], size):
                p = position[int(row[0])]
                signals["lost"][p] = 1.0
                run = (int(row[0]), int(row[0]), int(row[0]), 1.0)
                reasons.append(_reason("lost", [int(track)], run, what=what))
        if mine.shape[0] >= 3:
            median = float(np.median(mine[:, 6]))
            dip = np.zeros(frames.size)
            if median > 0:
                for row in mine:
                    dip[position[int(row[0])]] = max(0.0, median - row[6]) / median
            signals["dip"] = np.maximum(signals["dip"], dip)
            for run in _runs(frames, dip, REASON_AT["dip"]):
                reasons.append(_reason("dip", [int(track)], run))

    # Propagated shapes: their flow error, and how far they are from the model's boxes.
    for track in np.unique(propagated[:, 1]):
        mine = propagated[propagated[:, 1] == track]
        flow = np.zeros(frames.size)
        disagreement = np.zeros(frames.size)
        for row in mine:
            p = position[int(row[0])]
            flow[p] = 1.0 - row[6]
            predicted = by_frame.get(int(row[0]))
            if predicted is not None and predicted.shape[0]:
                disagreement[p] = 1.0 - box_iou_matrix(row[None, 2:6], predicted[:, 2:6]).max()
        signals["flow"] = np.maximum(signals["flow"], flow)
        signals["disagreement"] = np.maximum(signals["disagreement"], disagreement)
        for kind, values in (("flow", flow), ("disagreement", disagreement)):
            for run in _runs(frames, values, REASON_AT[kind]):
                reasons.append(_reason(kind, [int(track)], run))

    calm = np.ones(frames.size)
    for kind, weight in WEIGHTS.items():
        calm *= 1.0 - weight * np.clip(signals[kind], 0.0, 1.0)
    reasons.sort(key=lambda r: (-r["score"] * WEIGHTS[r["kind"]], r["frames"][0], r["tracks"]))
    return frames, 1.0 - calm, reasons[:max_reasons]


def track_risk_report(
    tracks: np.ndarray,
    segment_index: np.ndarray | None = None,
    n_segments: int = 1,
    *,
    frame_ranges: np.ndarray | None = None,
    image_sizes: np.ndarray | None = None,
    propagated: np.ndarray | None = None,
    propagated_index: np.ndarray | None = None,
    aggregate: Aggregate = "max",
    max_reasons: int = MAX_REASONS,
) -> TrackRiskReport:
    """Risk of `n_segments` video segments from their tracks (each with at most
    `max_reasons` reasons, the largest first).

    `tracks`: `[n, 7]` rows (frame, track, x, y, w, h, confidence) of the model's tracks
    (6 columns: confidence 1), `segment_index` `[n]` the segment of each row;
    `frame_ranges` `[n_segments, 2]` each segment's first and last frame (a track starting
    on the first or ending on the last is no lost identity; default: the frames seen);
    `image_sizes` `[n_segments, 2]` width and height (0: unknown, no lost identities);
    `propagated`, `propagated_index`: shapes carried by optical flow, same columns, the
    confidence being the forward-backward one. `aggregate` reduces frames to a segment."""
    check_aggregate(aggregate)
    n_segments = int(n_segments)
    if n_segments < 0:
        raise ValueError("n_segments must be >= 0")
    rows = _rows(tracks, "tracks")
    carried = _rows(propagated, "propagated")
    owner = _index(segment_index, rows.shape[0], n_segments, "segment_index")
    carried_owner = _index(propagated_index, carried.shape[0], n_segments, "propagated_index")
    ranges = (
        None if frame_ranges is None else as_finite_array(frame_ranges, name="frame_ranges", ndim=2)
    )
    sizes = (
        None if image_sizes is None else as_finite_array(image_sizes, name="image_sizes", ndim=2)
    )
    for name, table in (("frame_ranges", ranges), ("image_sizes", sizes)):
        if table is not None and table.shape != (n_segments, 2):
            raise ValueError(f"{name} must be [{n_segments}, 2], got {table.shape}")
    all_frames, all_risk, all_reasons = [], [], []
    for segment in range(n_segments):
        frames, risk, reasons = _segment(
            rows[owner == segment],
            carried[carried_owner == segment],
            None if ranges is None else ranges[segment],
            None if sizes is None else sizes[segment],
            max_reasons,
        )
        all_frames.append(frames)
        all_risk.append(risk)
        all_reasons.append(reasons)
    per_frame = np.concatenate(all_risk) if all_risk else np.zeros(0)
    group = np.repeat(np.arange(n_segments), [r.size for r in all_risk]).astype(np.int64)
    scores = aggregate_by_group(per_frame, group, n_segments, how=aggregate)
    return TrackRiskReport(scores, all_frames, all_risk, all_reasons)


def track_risk_scores(
    tracks: np.ndarray,
    segment_index: np.ndarray | None = None,
    n_segments: int = 1,
    *,
    frame_ranges: np.ndarray | None = None,
    image_sizes: np.ndarray | None = None,
    propagated: np.ndarray | None = None,
    propagated_index: np.ndarray | None = None,
    aggregate: Aggregate = "max",
) -> np.ndarray:
    """One risk score per segment (see `track_risk_report`, which also says why)."""
    return track_risk_report(
        tracks,
        segment_index,
        n_segments,
        frame_ranges=frame_ranges,
        image_sizes=image_sizes,
        propagated=propagated,
        propagated_index=propagated_index,
        aggregate=aggregate,
    ).scores
