"""Matching one set of shapes to another, and how well two sets agree: pure numpy/scipy.

- Boxes are matched one-to-one by the Hungarian algorithm (scipy's linear_sum_assignment,
  Kuhn 1955 / Munkres 1957) maximising the summed IoU; a pair counts only at IoU >= the
  threshold. Box F1 at a threshold (the PASCAL VOC rule, Everingham et al., IJCV 2010)
  matches within each class, so a box drawn with another class is a miss and a false find.
- Keypoints use COCO's object keypoint similarity (Ronchi and Perona, "Benchmarking and
  Error Diagnosis in Multi-Instance Pose Estimation", ICCV 2017; cocodataset.org/#keypoints-
  eval): OKS = sum_i exp(-d_i^2 / (2 s^2 k_i^2)) [v_i > 0] / sum_i [v_i > 0], d_i the distance
  of joint i, s^2 the object's area, k_i = 2 sigma_i. Sigmas are per joint, passed in
  (`default_sigmas` gives COCO's for the COCO-17 names and DEFAULT_SIGMA otherwise).
- Tracks are matched by identity over time (`match_tracks`), and scored with HOTA, IDF1 and
  identity switches from annotate.quality.track_metrics.

Shapes are arrays, never models: boxes `[n, 4]` (x, y, w, h) pixels, top-left corner;
skeletons `[n, K, 3]` (x, y, visibility), COCO visibility (0 not labeled, 1 occluded,
2 visible); tracks rows of (frame, track id, x, y, w, h) as in track_metrics.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import linear_sum_assignment

from annotate.quality.track_metrics import (
    TrackRows,
    TrackScores,
    box_iou_matrix,
    track_scores,
    tracks_array,
)
from annotate.schema import COCO17_KEYPOINTS

__all__ = [
    "COCO17_SIGMAS",
    "DEFAULT_SIGMA",
    "BoxF1",
    "KeypointAgreement",
    "Matching",
    "box_f1",
    "box_iou_matrix",
    "default_sigmas",
    "keypoint_agreement",
    "match_boxes",
    "match_keypoints",
    "match_similarity",
    "match_tracks",
    "oks",
    "oks_matrix",
    "points_array",
    "track_agreement",
    "track_iou_matrix",
]

# COCO's per-joint sigmas for its 17 keypoints, in COCO17_KEYPOINTS order (pycocotools).
COCO17_SIGMAS = (
    0.026, 0.025, 0.025, 0.035, 0.035, 0.079, 0.079, 0.072, 0.072,
    0.062, 0.062, 0.107, 0.107, 0.087, 0.087, 0.089, 0.089,
)  # fmt: skip
# For a joint COCO has no figure for (the value activelearn's evaluation uses too).
DEFAULT_SIGMA = 0.05
_EPS = float(np.finfo(float).eps)


@dataclass(frozen=True)
class Matching:
    """A one-to-one matching of `a` (rows) to `b` (columns): `pairs` [(i, j), ...] with
    their `scores` (IoU or OKS), and the indices left over on each side, all ascending."""

    pairs: list[tuple[int, int]]
    scores: list[float]
    unmatched_a: list[int]
    unmatched_b: list[int]


def match_similarity(similarity: np.ndarray, threshold: float) -> Matching:
    """The one-to-one matching maximising the summed similarity ([n, m], higher is closer),
    keeping only pairs at >= `threshold` (a pair below it leaves both sides unmatched)."""
    similarity = np.asarray(similarity, dtype=float)
    n, m = similarity.shape
    pairs: list[tuple[int, int]] = []
    scores: list[float] = []
    if n and m:
        # Pairs below the threshold weigh nothing, so they never displace a pair that counts.
        weights = np.where(similarity >= threshold - _EPS, similarity, 0.0)
        rows, cols = linear_sum_assignment(-weights)
        for i, j in zip(rows.tolist(), cols.tolist(), strict=True):
            if similarity[i, j] >= threshold - _EPS and similarity[i, j] > 0:
                pairs.append((i, j))
                scores.append(float(similarity[i, j]))
    matched_a = {i for i, _ in pairs}
    matched_b = {j for _, j in pairs}
    return Matching(
        pairs=pairs,
        scores=scores,
        unmatched_a=[i for i in range(n) if i not in matched_a],
        unmatched_b=[j for j in range(m) if j not in matched_b],
    )


def _class_mask(a_classes: Sequence | None, b_classes: Sequence | None, n: int, m: int):
    if a_classes is None or b_classes is None:
        return np.ones((n, m), dtype=bool)
    return (
        np.asarray(list(a_classes), dtype=object)[:, None]
        == np.asarray(list(b_classes), dtype=object)[None, :]
    )


def match_boxes(
    a: np.ndarray | Sequence[Sequence[float]],
    b: np.ndarray | Sequence[Sequence[float]],
    *,
    iou_threshold: float = 0.5,
    a_classes: Sequence | None = None,
    b_classes: Sequence | None = None,
) -> Matching:
    """Boxes of `a` matched to boxes of `b` ([n, 4] and [m, 4], x, y, w, h) by Hungarian
    assignment on IoU, a pair kept at IoU >= `iou_threshold`. Given both class lists, only
    boxes of the same class may pair."""
    a = np.asarray(a, dtype=float).reshape(-1, 4)
    b = np.asarray(b, dtype=float).reshape(-1, 4)
    iou = box_iou_matrix(a, b) * _class_mask(a_classes, b_classes, len(a), len(b))
    return match_similarity(iou, iou_threshold)


@dataclass(frozen=True)
class BoxF1:
    """Box agreement of a prediction (or a second annotator) with a truth. `per_class`
    holds the same figures for each class name present on either side."""

    tp: int
    fp: int
    fn: int
    precision: float
    recall: float
    f1: float
    mean_iou: float  # over the matched pairs (0 when none)
    per_class: dict[str, dict[str, float | int]] = field(default_factory=dict)

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def _f1_figures(tp: int, fp: int, fn: int) -> tuple[float, float, float]:
    """(precision, recall, F1); two empty sets agree perfectly (1, 1, 1)."""
    if tp + fp + fn == 0:
        return 1.0, 1.0, 1.0
    precision = tp / (tp + fp) if tp + fp else 0.0
    recall = tp / (tp + fn) if tp + fn else 0.0
    return precision, recall, 2 * tp / (2 * tp + fp + fn)


def box_f1(
    truth: np.ndarray | Sequence[Sequence[float]],
    predicted: np.ndarray | Sequence[Sequence[float]],
    *,
    truth_classes: Sequence[str],
    predicted_classes: Sequence[str],
    iou_threshold: float = 0.5,
) -> BoxF1:
    """F1 of `predicted` boxes against `truth` boxes at an IoU threshold, a match needing
    the same class; overall and per class. Symmetric in F1 (precision and recall swap)."""
    truth = np.asarray(truth, dtype=float).reshape(-1, 4)
    predicted = np.asarray(predicted, dtype=float).reshape(-1, 4)
    truth_classes, predicted_classes = list(truth_classes), list(predicted_classes)
    if len(truth_classes) != len(truth) or len(predicted_classes) != len(predicted):
        raise ValueError("one class per box")
    matching = match_boxes(
        truth,
        predicted,
        iou_threshold=iou_threshold,
        a_classes=truth_classes,
        b_classes=predicted_classes,
    )
    per_class: dict[str, dict[str, float | int]] = {}
    for name in sorted(set(map(str, truth_classes)) | set(map(str, predicted_classes))):
        tp = sum(1 for i, _ in matching.pairs if str(truth_classes[i]) == name)
        fn = sum(1 for c in truth_classes if str(c) == name) - tp
        fp = sum(1 for c in predicted_classes if str(c) == name) - tp
        precision, recall, f1 = _f1_figures(tp, fp, fn)
        per_class[name] = {
            "tp": tp,
            "fp": fp,
            "fn": fn,
            "precision": precision,
            "recall": recall,
            "f1": f1,
        }
    tp = len(matching.pairs)
    fp, fn = len(predicted) - tp, len(truth) - tp
    precision, recall, f1 = _f1_figures(tp, fp, fn)
    return BoxF1(
        tp=tp,
        fp=fp,
        fn=fn,
        precision=precision,
        recall=recall,
        f1=f1,
        mean_iou=float(np.mean(matching.scores)) if matching.scores else 0.0,
        per_class=per_class,
    )


# --- keypoints ------------------------------------------------------------------------------


def default_sigmas(names: Sequence[str]) -> np.ndarray:
    """Per-joint OKS sigmas for a skeleton's joint names: COCO's for the COCO-17 names,
    DEFAULT_SIGMA for any other. A project with its own sigmas passes those instead."""
    coco = dict(zip(COCO17_KEYPOINTS, COCO17_SIGMAS, strict=True))
    return np.array([coco.get(name, DEFAULT_SIGMA) for name in names], dtype=float)


def points_array(
    instances: Sequence[Mapping[str, Sequence[float] | None]], names: Sequence[str]
) -> np.ndarray:
    """[n, K, 3] (x, y, visibility) from skeletons stored as {name: [x, y, v]} (the
    KeypointInstance.points form), joints in `names` order; a joint a skeleton lacks is
    (0, 0, 0), not labeled. A point given as [x, y] counts as visible."""
    out = np.zeros((len(instances), len(names), 3), dtype=float)
    for n, points in enumerate(instances):
        for k, name in enumerate(names):
            point = (points or {}).get(name)
            if point is None or len(point) < 2:
                continue
            visibility = float(point[2]) if len(point) >= 3 else 2.0
            out[n, k] = (float(point[0]), float(point[1]), visibility)
    return out


def _skeletons(values, sigmas) -> tuple[np.ndarray, np.ndarray]:
    array = np.asarray(values, dtype=float)
    if array.ndim == 2:
        array = array[None]
    sigmas = np.asarray(sigmas, dtype=float).reshape(-1)
    if array.size == 0:
        return np.zeros((0, len(sigmas), 3)), sigmas
    if array.ndim != 3 or array.shape[2] < 3 or array.shape[1] != len(sigmas):
        raise ValueError(f"skeletons must be [n, {len(sigmas)}, 3]; got {array.shape}")
    if np.any(sigmas <= 0):
        raise ValueError("sigmas must be > 0")
    return array[:, :, :3], sigmas


def _areas(truth: np.ndarray) -> np.ndarray:
    """COCO's s^2 for skeletons without a segment: the area of the labeled joints' box
    (at least 1 px^2, so a single joint still has a scale)."""
    labeled = truth[:, :, 2] > 0
    xs = np.where(labeled, truth[:, :, 0], np.nan)
    ys = np.where(labeled, truth[:, :, 1], np.nan)
    with np.errstate(all="ignore"):
        width = np.nanmax(xs, axis=1) - np.nanmin(xs, axis=1)
        height = np.nanmax(ys, axis=1) - np.nanmin(ys, axis=1)
    area = np.nan_to_num(width * height, nan=0.0)
    return np.maximum(area, 1.0)


def _joint_similarity(
    truth: np.ndarray, predicted: np.ndarray, sigmas: np.ndarray, areas: np.ndarray | None
) -> tuple[np.ndarray, np.ndarray]:
    """[n, m, K] exp(-d^2 / (2 s^2 k^2)) per joint, and [n, K] which truth joints count.
    A joint labeled in the truth but not in the prediction scores 0."""
    area = _areas(truth) if areas is None else np.maximum(np.asarray(areas, float), 1.0)
    squared = ((truth[:, None, :, :2] - predicted[None, :, :, :2]) ** 2).sum(axis=-1)
    k2 = (2.0 * sigmas) ** 2
    similarity = np.exp(-squared / (2.0 * area[:, None, None] * k2[None, None, :]))
    similarity = np.where(predicted[None, :, :, 2] > 0, similarity, 0.0)
    return similarity, truth[:, :, 2] > 0


def oks_matrix(
    truth: np.ndarray,
    predicted: np.ndarray,
    *,
    sigmas: Sequence[float] | np.ndarray,
    areas: Sequence[float] | np.ndarray | None = None,
) -> np.ndarray:
    """[n, m] OKS of each predicted skeleton ([m, K, 3]) against each truth skeleton
    ([n, K, 3]), with per-joint `sigmas` ([K]) and the truth objects' `areas` ([n], pixels^2;
    by default the box of their labeled joints). A truth with no labeled joint scores 0."""
    truth, sigmas = _skeletons(truth, sigmas)
    predicted, _ = _skeletons(predicted, sigmas)
    if len(truth) == 0 or len(predicted) == 0:
        return np.zeros((len(truth), len(predicted)))
    similarity, counted = _joint_similarity(truth, predicted, sigmas, areas)
    total = (similarity * counted[:, None, :]).sum(axis=-1)
    labeled = counted.sum(axis=-1)[:, None]
    return np.divide(total, labeled, out=np.zeros_like(total), where=labeled > 0)


def oks(
    truth: np.ndarray,
    predicted: np.ndarray,
    *,
    sigmas: Sequence[float] | np.ndarray,
    area: float | None = None,
) -> float:
    """OKS of one predicted skeleton ([K, 3]) against one truth skeleton ([K, 3])."""
    areas = None if area is None else [area]
    return float(oks_matrix(truth, predicted, sigmas=sigmas, areas=areas)[0, 0])


def match_keypoints(
    a: np.ndarray,
    b: np.ndarray,
    *,
    sigmas: Sequence[float] | np.ndarray,
    oks_threshold: float = 0.5,
    a_classes: Sequence | None = None,
    b_classes: Sequence | None = None,
) -> Matching:
    """Skeletons of `a` matched to those of `b` by Hungarian assignment on OKS, symmetrised
    (the mean of OKS with either as the truth, so the matching does not depend on which
    annotator comes first), a pair kept at OKS >= `oks_threshold`."""
    a, sigmas = _skeletons(a, sigmas)
    b, _ = _skeletons(b, sigmas)
    similarity = (
        0.5
        * (oks_matrix(a, b, sigmas=sigmas) + oks_matrix(b, a, sigmas=sigmas).T)
        * _class_mask(a_classes, b_classes, len(a), len(b))
    )
    return match_similarity(similarity, oks_threshold)


@dataclass(frozen=True)
class KeypointAgreement:
    """Skeleton agreement of a prediction (or a second annotator) with a truth: F1 of the
    skeletons at the OKS threshold, the mean OKS of matched pairs, and per joint the mean
    similarity over matched pairs where the truth labeled it (None: never labeled)."""

    tp: int
    fp: int
    fn: int
    f1: float
    mean_oks: float
    per_joint: list[float | None]
    per_joint_count: list[int] = field(default_factory=list)  # matched pairs behind each

    def as_dict(self) -> dict:
        return dataclasses.asdict(self)


def keypoint_agreement(
    truth: np.ndarray,
    predicted: np.ndarray,
    *,
    sigmas: Sequence[float] | np.ndarray,
    oks_threshold: float = 0.5,
    truth_classes: Sequence | None = None,
    predicted_classes: Sequence | None = None,
) -> KeypointAgreement:
    """Skeletons of `predicted` against `truth` ([n, K, 3], [m, K, 3]): matched one-to-one
    by Hungarian assignment on OKS (against the truth), pairs kept at >= `oks_threshold`."""
    truth, sigmas = _skeletons(truth, sigmas)
    predicted, _ = _skeletons(predicted, sigmas)
    matrix = oks_matrix(truth, predicted, sigmas=sigmas) * _class_mask(
        truth_classes, predicted_classes, len(truth), len(predicted)
    )
    matching = match_similarity(matrix, oks_threshold)
    per_joint: list[float | None] = [None] * len(sigmas)
    per_joint_count = [0] * len(sigmas)
    if matching.pairs:
        rows = np.array([i for i, _ in matching.pairs])
        cols = np.array([j for _, j in matching.pairs])
        similarity, counted = _joint_similarity(truth[rows], predicted[cols], sigmas, None)
        paired = similarity[np.arange(len(rows)), np.arange(len(rows))]  # [p, K]
        for k in range(len(sigmas)):
            mask = counted[:, k]
            if mask.any():
                per_joint[k] = float(paired[mask, k].mean())
                per_joint_count[k] = int(mask.sum())
    tp = len(matching.pairs)
    fp, fn = len(predicted) - tp, len(truth) - tp
    return KeypointAgreement(
        tp=tp,
        fp=fp,
        fn=fn,
        f1=_f1_figures(tp, fp, fn)[2],
        mean_oks=float(np.mean(matching.scores)) if matching.scores else 0.0,
        per_joint=per_joint,
        per_joint_count=per_joint_count,
    )


# --- tracks ---------------------------------------------------------------------------------


def track_iou_matrix(a: TrackRows, b: TrackRows) -> tuple[np.ndarray, list[int], list[int]]:
    """How well each track of `a` follows each track of `b` over time: [n, m] the mean IoU
    over the frames either track is on (a frame only one of them is on counts 0, so two
    tracks that cross once do not look alike), with the track ids of the rows and columns."""
    a, b = tracks_array(a), tracks_array(b)
    a_ids = sorted({int(t) for t in a[:, 1]})
    b_ids = sorted({int(t) for t in b[:, 1]})
    out = np.zeros((len(a_ids), len(b_ids)))
    if not a_ids or not b_ids:
        return out, a_ids, b_ids
    a_index = {t: i for i, t in enumerate(a_ids)}
    b_index = {t: j for j, t in enumerate(b_ids)}
    shared_sum = np.zeros_like(out)
    shared_count = np.zeros_like(out)
    a_col = np.array([a_index[int(t)] for t in a[:, 1]], dtype=np.int64)
    b_col = np.array([b_index[int(t)] for t in b[:, 1]], dtype=np.int64)
    a_order, b_order = np.argsort(a[:, 0], kind="stable"), np.argsort(b[:, 0], kind="stable")
    frames = np.intersect1d(a[:, 0], b[:, 0])
    a_sorted, b_sorted = a[a_order, 0], b[b_order, 0]
    a_start, a_end = np.searchsorted(a_sorted, frames), np.searchsorted(a_sorted, frames, "right")
    b_start, b_end = np.searchsorted(b_sorted, frames), np.searchsorted(b_sorted, frames, "right")
    for i in range(len(frames)):
        rows_a = a_order[a_start[i] : a_end[i]]
        rows_b = b_order[b_start[i] : b_end[i]]
        iou = box_iou_matrix(a[rows_a, 2:6], b[rows_b, 2:6])
        cells = np.ix_(a_col[rows_a], b_col[rows_b])
        shared_sum[cells] += iou
        shared_count[cells] += 1
    a_frames = np.bincount(a_col, minlength=len(a_ids)).astype(float)
    b_frames = np.bincount(b_col, minlength=len(b_ids)).astype(float)
    union = a_frames[:, None] + b_frames[None, :] - shared_count
    np.divide(shared_sum, union, out=out, where=union > 0)
    return out, a_ids, b_ids


def match_tracks(a: TrackRows, b: TrackRows, *, min_mean_iou: float = 0.3) -> dict[int, int]:
    """Track ids of `a` matched to track ids of `b` ({a id: b id}) by identity over time:
    Hungarian assignment on `track_iou_matrix`, a pair kept at mean IoU >= `min_mean_iou`."""
    matrix, a_ids, b_ids = track_iou_matrix(a, b)
    matching = match_similarity(matrix, min_mean_iou)
    return {a_ids[i]: b_ids[j] for i, j in matching.pairs}


def track_agreement(
    truth: TrackRows, predicted: TrackRows, *, iou_threshold: float = 0.5
) -> TrackScores:
    """HOTA, IDF1, identity switches (and MOTA) of `predicted` tracks against `truth`, rows
    of (frame, track id, x, y, w, h): annotate.quality.track_metrics.track_scores."""
    return track_scores(truth, predicted, iou_threshold=iou_threshold)
