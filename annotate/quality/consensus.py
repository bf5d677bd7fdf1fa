"""The consensus of k annotators' labels of one task: pure numpy/scipy, no Django.

Shapes are grouped across annotators, one annotator at a time (a shape joins the group its
Hungarian assignment gives it, annotate.quality.matching, else starts its own), so a group
never holds two shapes of one annotator:
- untracked boxes on the same frame by IoU, skeletons by symmetric OKS with the skeleton's
  per-joint sigmas, always against the group's merged shape so far;
- tracks by identity over time: the mean IoU over the frames either is on
  (matching.track_iou_matrix), then frame by frame within the matched tracks.
A group becomes a merged shape: coordinates the mean of its members (the median from three
members on, which one careless annotator cannot drag), the class by majority (a tie goes to
the class of the earliest annotator in the order given), skeleton joints averaged among the
members that labeled them. A group is kept when at least `quorum` of the k annotators drew it
(half by default); a group below the quorum is reported, not merged, so the reviewer sees
what was left out. Each merged shape keeps its agreement (the members' mean IoU or OKS with
it, and its support: members / k) for the review page.
"""

from __future__ import annotations

from collections import Counter
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from annotate.quality.matching import (
    box_iou_matrix,
    match_similarity,
    oks_matrix,
    track_iou_matrix,
)
from annotate.quality.shapes import BOX, KEYPOINTS, Shape, track_rows

# A merged shape below these is marked disputed on the review page.
DISPUTED_BELOW = 0.75


@dataclass(frozen=True)
class ConsensusSettings:
    iou_threshold: float = 0.5  # boxes pair at IoU >= this
    oks_threshold: float = 0.5  # skeletons pair at OKS >= this
    track_iou: float = 0.3  # tracks pair at a mean IoU over time >= this
    quorum: float = 0.5  # keep a group drawn by at least this share of the annotators


@dataclass
class MergedShape:
    kind: str
    label: str
    frame: int | None
    box: tuple[float, float, float, float] | None
    points: tuple[tuple[float, float, float], ...] | None
    track: int | None  # the merged track's number
    members: dict[int, int]  # annotator (position in the input) -> index of their shape
    votes: dict[str, int]
    support: float  # members / k
    agreement: float  # members' mean IoU (box) or OKS (skeleton) with the merged shape
    kept: bool

    @property
    def disputed(self) -> bool:
        return len(self.votes) > 1 or self.support < 1.0 or self.agreement < DISPUTED_BELOW

    def as_shape(self) -> Shape:
        return Shape(
            kind=self.kind,
            label=self.label,
            frame=self.frame,
            box=self.box,
            points=self.points,
            track=self.track,
        )


@dataclass
class MergedTrack:
    number: int
    label: str
    members: dict[int, int]  # annotator -> their track number
    votes: dict[str, int]
    support: float
    agreement: float  # members' mean IoU over time with the merged track
    kept: bool


@dataclass
class Consensus:
    k: int
    shapes: list[MergedShape] = field(default_factory=list)
    tracks: list[MergedTrack] = field(default_factory=list)

    def kept(self) -> list[Shape]:
        return [shape.as_shape() for shape in self.shapes if shape.kept]


def _centre(values: np.ndarray) -> np.ndarray:
    """Mean of the rows, or their median from three rows on."""
    return np.median(values, axis=0) if len(values) >= 3 else values.mean(axis=0)


def _merge_box(boxes: list[tuple[float, float, float, float]]) -> tuple[float, ...]:
    corners = np.array([(x, y, x + w, y + h) for x, y, w, h in boxes], dtype=float)
    left, top, right, bottom = _centre(corners)
    return float(left), float(top), float(max(right - left, 1e-6)), float(max(bottom - top, 1e-6))


def _merge_points(skeletons: list[np.ndarray]) -> tuple[tuple[float, float, float], ...]:
    """Per joint: labeled when at least half the members labeled it, at their mean (median
    from three), visible (2) when most of those saw it, else occluded (1)."""
    stack = np.stack(skeletons)  # [m, K, 3]
    out = []
    for k in range(stack.shape[1]):
        joint = stack[:, k]
        labeled = joint[joint[:, 2] > 0]
        if not len(labeled) or 2 * len(labeled) < len(stack):
            out.append((0.0, 0.0, 0.0))
            continue
        x, y = _centre(labeled[:, :2])
        visible = 2.0 if 2 * np.sum(labeled[:, 2] == 2) >= len(labeled) else 1.0
        out.append((float(x), float(y), visible))
    return tuple(out)


def _vote(labels: list[tuple[int, str]]) -> tuple[str, dict[str, int]]:
    """The majority class; a tie goes to the class of the earliest annotator."""
    votes = Counter(label for _, label in labels)
    best = max(votes.values())
    winner = min((a, label) for a, label in labels if votes[label] == best)[1]
    return winner, dict(votes)


def _similarity(kind: str, shapes: list[Shape], merged: list[Shape], sigmas) -> np.ndarray:
    if kind == BOX:
        return box_iou_matrix([s.box for s in shapes], [m.box for m in merged])
    a = np.stack([s.points_array() for s in shapes])
    b = np.stack([m.points_array() for m in merged])
    return 0.5 * (oks_matrix(a, b, sigmas=sigmas) + oks_matrix(b, a, sigmas=sigmas).T)


def _merged(kind: str, members: list[Shape]) -> Shape:
    first = members[0]
    if kind == BOX:
        return Shape(
            kind=BOX, label=first.label, frame=first.frame, box=_merge_box([m.box for m in members])
        )
    return Shape(
        kind=KEYPOINTS,
        label=first.label,
        frame=first.frame,
        points=_merge_points([m.points_array() for m in members]),
    )


def _group(
    kind: str,
    per_annotator: list[list[tuple[int, Shape]]],
    threshold: float,
    sigmas,
) -> list[dict[int, tuple[int, Shape]]]:
    """Groups of one frame's shapes of one kind: {annotator: (index, shape)} each."""
    groups: list[dict[int, tuple[int, Shape]]] = []
    merged: list[Shape] = []
    for annotator, items in enumerate(per_annotator):
        if not items:
            continue
        unmatched = list(range(len(items)))
        if groups:
            similarity = _similarity(kind, [s for _, s in items], merged, sigmas)
            matching = match_similarity(similarity, threshold)
            for i, g in matching.pairs:
                groups[g][annotator] = items[i]
                merged[g] = _merged(kind, [s for _, s in groups[g].values()])
            unmatched = matching.unmatched_a
        for i in unmatched:
            groups.append({annotator: items[i]})
            merged.append(items[i][1])
    return groups


def _merge_group(
    kind: str,
    group: dict[int, tuple[int, Shape]],
    *,
    k: int,
    quorum: float,
    sigmas,
    track: int | None = None,
    kept: bool | None = None,
    label: str | None = None,
) -> MergedShape:
    members = [group[a][1] for a in sorted(group)]
    shape = _merged(kind, members)
    winner, votes = _vote([(a, group[a][1].label) for a in sorted(group)])
    if kind == BOX:
        agreement = float(box_iou_matrix([shape.box], [m.box for m in members]).mean())
    else:
        truth = shape.points_array()[None]
        candidates = np.stack([m.points_array() for m in members])
        agreement = float(oks_matrix(truth, candidates, sigmas=sigmas).mean())
    support = len(group) / k
    return MergedShape(
        kind=kind,
        label=label or winner,
        frame=shape.frame,
        box=shape.box,
        points=shape.points,
        track=track,
        members={a: group[a][0] for a in sorted(group)},
        votes=votes,
        support=support,
        agreement=agreement,
        kept=support >= quorum - 1e-9 if kept is None else kept,
    )


def _untracked(annotators, consensus: Consensus, settings: ConsensusSettings, sigmas) -> None:
    keys = sorted(
        {(s.kind, s.frame) for shapes in annotators for s in shapes if s.track is None},
        key=lambda key: (key[0], -1 if key[1] is None else key[1]),
    )
    for kind, frame in keys:
        per_annotator = [
            [
                (i, s)
                for i, s in enumerate(shapes)
                if s.track is None and (s.kind, s.frame) == (kind, frame)
            ]
            for shapes in annotators
        ]
        threshold = settings.iou_threshold if kind == BOX else settings.oks_threshold
        for group in _group(kind, per_annotator, threshold, sigmas):
            consensus.shapes.append(
                _merge_group(kind, group, k=consensus.k, quorum=settings.quorum, sigmas=sigmas)
            )


def _merged_rows(members: dict[int, np.ndarray], number: int) -> np.ndarray:
    """A group's track as rows (frame, number, x, y, w, h): per frame the merged extent of
    the members on it."""
    by_frame: dict[float, list[tuple[float, ...]]] = {}
    for rows in members.values():
        for row in rows:
            by_frame.setdefault(row[0], []).append(tuple(row[2:6]))
    return np.array(
        [(f, number, *_merge_box(boxes)) for f, boxes in sorted(by_frame.items())], dtype=float
    ).reshape(-1, 6)


def _tracked(annotators, consensus: Consensus, settings: ConsensusSettings, sigmas) -> None:
    # Each annotator's tracks as rows, by their own track number.
    rows_of: list[dict[int, np.ndarray]] = []
    for shapes in annotators:
        rows = track_rows(shapes)
        rows_of.append({int(t): rows[rows[:, 1] == t] for t in np.unique(rows[:, 1])})
    groups: list[dict[int, int]] = []  # annotator -> their track number
    merged: list[np.ndarray] = []
    for annotator, tracks in enumerate(rows_of):
        if not tracks:
            continue
        mine = sorted(tracks)
        unmatched = mine
        if groups:
            theirs = np.concatenate(merged)
            matrix, a_ids, g_ids = track_iou_matrix(
                np.concatenate([tracks[t] for t in mine]), theirs
            )
            matching = match_similarity(matrix, settings.track_iou)
            for i, j in matching.pairs:
                g = g_ids[j]
                groups[g][annotator] = a_ids[i]
                merged[g] = _merged_rows({a: rows_of[a][t] for a, t in groups[g].items()}, g)
            unmatched = [a_ids[i] for i in matching.unmatched_a]
        for number in unmatched:
            groups.append({annotator: number})
            merged.append(_merged_rows({annotator: tracks[number]}, len(groups) - 1))

    # A merged track keeps the number its earliest annotator gave it (so a video's tracks
    # stay numbered alike across its segments), or a new one when that is taken.
    used: set[int] = set()
    fresh = max((n for tracks in rows_of for n in tracks), default=0) + 1
    # Each annotator's tracked shapes by (track, kind) and frame, and the track's classes.
    index: list[dict[tuple[int, str], dict[int, tuple[int, Shape]]]] = []
    for shapes in annotators:
        by_track: dict[tuple[int, str], dict[int, tuple[int, Shape]]] = {}
        for i, s in enumerate(shapes):
            if s.track is not None and s.frame is not None:
                by_track.setdefault((s.track, s.kind), {})[s.frame] = (i, s)
        index.append(by_track)

    for members in groups:
        number = members[min(members)]
        if number in used:
            number, fresh = fresh, fresh + 1
        used.add(number)
        labels = [
            (a, s.label)
            for a in sorted(members)
            for kind in (BOX, KEYPOINTS)
            for _, s in index[a].get((members[a], kind), {}).values()
        ]
        label, votes = _vote(labels)
        support = len(members) / consensus.k
        kept = support >= settings.quorum - 1e-9
        truth = _merged_rows({a: rows_of[a][t] for a, t in members.items()}, 0)
        agreement = float(
            np.mean([track_iou_matrix(truth, rows_of[a][t])[0][0, 0] for a, t in members.items()])
        )
        consensus.tracks.append(
            MergedTrack(
                number=number,
                label=label,
                members=dict(sorted(members.items())),
                votes=votes,
                support=support,
                agreement=agreement,
                kept=kept,
            )
        )
        # Frame by frame: a merged shape where at least half of the track's members are.
        for kind in (BOX, KEYPOINTS):
            on = {a: index[a].get((t, kind), {}) for a, t in members.items()}
            for frame in sorted({f for frames in on.values() for f in frames}):
                group = {a: frames[frame] for a, frames in on.items() if frame in frames}
                if 2 * len(group) < len(members):
                    continue
                shape = _merge_group(
                    kind,
                    group,
                    k=consensus.k,
                    quorum=settings.quorum,
                    sigmas=sigmas,
                    track=number,
                    kept=kept,
                    label=label,
                )
                shape.support = len(members) / consensus.k
                consensus.shapes.append(shape)


def consensus_form(
    annotators: Sequence[Sequence[Shape]],
    *,
    sigmas: Sequence[float] | np.ndarray = (),
    settings: ConsensusSettings | None = None,
) -> Consensus:
    """The consensus of k annotators' shapes (one list per annotator, in a fixed order:
    ties go to the earlier). `sigmas` are the skeleton's per-joint OKS sigmas, needed when
    there are skeletons."""
    settings = settings or ConsensusSettings()
    annotators = [list(shapes) for shapes in annotators]
    if not annotators:
        raise ValueError("a consensus needs at least one annotator")
    sigmas = np.asarray(sigmas, dtype=float)
    consensus = Consensus(k=len(annotators))
    _untracked(annotators, consensus, settings, sigmas)
    _tracked(annotators, consensus, settings, sigmas)
    return consensus
