"""Per-keypoint error of a pose model, and which keypoints it has mastered: pure numpy.

Per keypoint j of a labeled person matched to a predicted one (Ronchi & Perona, "Benchmarking
and Error Diagnosis in Multi-Instance Pose Estimation", ICCV 2017, break COCO's OKS down the
same way):

- OKS_j = exp(-d_j^2 / (2 s^2 k_j^2)), COCO's formula for one keypoint: d_j the distance
  between the labeled and the predicted point, s^2 the person's area, k_j = 2 sigma_j with
  sigma_j the skeleton's sigma of that keypoint;
- PCK_j = 1 when d_j <= PCK_ALPHA x the longer side of the person's box, else 0.

Only labeled points count (visibility > 0). A labeled person no prediction matches, or a
point the matched prediction lacks, counts as OKS 0 and PCK 0: a missed joint is an error.
Predictions that match nobody do not change a keypoint's figures (AP counts those).

A keypoint is mastered when its error, 1 - mean OKS_j, is under the threshold in each of the
last N measured versions.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np

# PCK's threshold relative to the box's longer side (MMPose's bbox-normalised PCK uses 0.05
# for tight crops; a tenth suits whole-person boxes).
PCK_ALPHA = 0.1


@dataclass(frozen=True)
class Person:
    """One labeled or predicted person: `xy` [keypoints, 2], `present` [keypoints] (labeled,
    or predicted), and for a prediction its score (the matching order)."""

    xy: np.ndarray
    present: np.ndarray
    score: float = 1.0


def _box(person: Person) -> tuple[float, float]:
    """Area and longer side of the box around a labeled person's points (at least 1 px)."""
    seen = person.xy[person.present]
    if not len(seen):
        return 1.0, 1.0
    w, h = np.ptp(seen[:, 0]), np.ptp(seen[:, 1])
    return max(float(w * h), 1.0), max(float(w), float(h), 1.0)


def point_oks(
    labeled: np.ndarray, predicted: np.ndarray, area: float, sigmas: np.ndarray
) -> np.ndarray:
    """OKS of each keypoint: exp(-d^2 / (2 s^2 k^2)), k = 2 sigma, s^2 = area. [k, 2] inputs."""
    d2 = ((np.asarray(labeled, float) - np.asarray(predicted, float)) ** 2).sum(axis=-1)
    k2 = (2.0 * np.asarray(sigmas, float)) ** 2
    return np.exp(-d2 / (2.0 * area * k2))


def point_pck(
    labeled: np.ndarray, predicted: np.ndarray, side: float, alpha: float = PCK_ALPHA
) -> np.ndarray:
    """1.0 for each keypoint within alpha x side of its label, else 0.0."""
    d = np.sqrt(((np.asarray(labeled, float) - np.asarray(predicted, float)) ** 2).sum(axis=-1))
    return (d <= alpha * side).astype(float)


def _pair_oks(gt: Person, dt: Person, area: float, sigmas: np.ndarray) -> np.ndarray:
    """Per keypoint OKS of a prediction against a labeled person; 0 where it lacks a point,
    NaN where the person has no label."""
    oks = np.where(dt.present, point_oks(gt.xy, dt.xy, area, sigmas), 0.0)
    return np.where(gt.present, oks, np.nan)


def image_joint_scores(
    labeled: Sequence[Person],
    predicted: Sequence[Person],
    sigmas: np.ndarray,
    *,
    alpha: float = PCK_ALPHA,
) -> tuple[np.ndarray, np.ndarray]:
    """OKS and PCK per labeled person and keypoint, `[people, keypoints]`, NaN where a point
    is unlabeled. Predictions are matched greedily, most confident first, each to the
    unmatched labeled person it fits best (mean OKS), as COCOeval matches."""
    sigmas = np.asarray(sigmas, dtype=float)
    k = sigmas.shape[0]
    oks = np.zeros((len(labeled), k))
    pck = np.zeros((len(labeled), k))
    boxes = [_box(person) for person in labeled]
    free = list(range(len(labeled)))
    for dt in sorted(predicted, key=lambda p: -p.score):
        if not free:
            break
        fits = [np.nanmean(_pair_oks(labeled[i], dt, boxes[i][0], sigmas)) for i in free]
        best = int(np.argmax(fits))
        if not fits[best] > 0:
            continue
        i = free.pop(best)
        gt = labeled[i]
        oks[i] = np.where(dt.present, point_oks(gt.xy, dt.xy, boxes[i][0], sigmas), 0.0)
        pck[i] = np.where(dt.present, point_pck(gt.xy, dt.xy, boxes[i][1], alpha), 0.0)
    for i, person in enumerate(labeled):
        oks[i, ~person.present] = np.nan
        pck[i, ~person.present] = np.nan
    return oks, pck


def joint_summary(oks: np.ndarray, pck: np.ndarray) -> tuple[np.ndarray, np.ndarray, np.ndarray]:
    """Mean OKS, mean PCK and labeled-point count per keypoint over `[people, keypoints]`
    (NaN means for a keypoint never labeled)."""
    oks, pck = np.asarray(oks, float), np.asarray(pck, float)
    counts = (~np.isnan(oks)).sum(axis=0)
    with np.errstate(invalid="ignore"):
        mean_oks = np.where(counts > 0, np.nansum(oks, axis=0) / np.maximum(counts, 1), np.nan)
        mean_pck = np.where(counts > 0, np.nansum(pck, axis=0) / np.maximum(counts, 1), np.nan)
    return mean_oks, mean_pck, counts


def mastered_keypoints(errors: np.ndarray, threshold: float, last: int) -> np.ndarray:
    """Which keypoints are mastered, from `errors` [versions oldest first, keypoints] (NaN:
    not measured in that version): under `threshold` in every one of the `last` versions.
    Fewer versions than `last` masters nothing."""
    errors = np.asarray(errors, dtype=float)
    if errors.ndim != 2:
        raise ValueError("errors must be [versions, keypoints]")
    if last < 1:
        raise ValueError("last must be at least 1")
    if errors.shape[0] < last:
        return np.zeros(errors.shape[1], dtype=bool)
    recent = errors[-last:]
    with np.errstate(invalid="ignore"):
        return np.all(~np.isnan(recent) & (recent < threshold), axis=0)
