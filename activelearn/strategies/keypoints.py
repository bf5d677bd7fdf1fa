"""Keypoints: per-point confidence to uncertainty, weighted by keypoint name, per frame.

A pose model reports a confidence in [0, 1] per keypoint per instance (heatmap peak or
visibility score). A project manager can weight some points above others, e.g. shoulders
and hips above hands and feet, so doubt about the points that matter ranks first.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Literal

import numpy as np

from activelearn.strategies.detection import threshold_uncertainty
from activelearn.strategies.validation import (
    Aggregate,
    aggregate_by_group,
    as_finite_array,
    as_group_index,
    check_aggregate,
)

PointMethod = Literal["one_minus", "threshold"]


def keypoint_weights(
    keypoint_names: Sequence[str], weights: Mapping[str, float] | None
) -> np.ndarray:
    """Weights per keypoint column, normalised to sum to 1; unnamed keypoints weigh 1."""
    names = list(keypoint_names)
    if len(set(names)) != len(names):
        raise ValueError("keypoint_names must be unique")
    weights = dict(weights or {})
    unknown = sorted(set(weights) - set(names))
    if unknown:
        raise ValueError(f"weights name unknown keypoints: {', '.join(unknown)}")
    values = np.array([float(weights.get(name, 1.0)) for name in names])
    if values.size and (not np.all(np.isfinite(values)) or values.min() < 0):
        raise ValueError("keypoint weights must be finite and >= 0")
    if values.size == 0 or values.sum() <= 0:
        raise ValueError("keypoint weights must have a positive sum")
    return values / values.sum()


def keypoint_instance_scores(
    confidences: np.ndarray,
    keypoint_names: Sequence[str],
    *,
    weights: Mapping[str, float] | None = None,
    method: PointMethod = "one_minus",
    threshold: float = 0.5,
) -> np.ndarray:
    """Weighted mean point uncertainty per instance, from `[instances, keypoints]`.

    `one_minus` takes 1 - confidence (a weak heatmap peak is a doubtful point);
    `threshold` takes closeness to the visibility threshold, for models whose confidence
    means "is this point visible" (as in Kao et al.'s objectness term, ACCV 2018).
    Uncertainty-weighted keypoint selection follows Liu & Ferrari, "Active learning for
    human pose estimation", ICCV 2017.
    """
    confidences = as_finite_array(confidences, name="confidences", ndim=2)
    column_weights = keypoint_weights(keypoint_names, weights)
    if confidences.shape[1] != column_weights.shape[0]:
        raise ValueError(
            f"confidences has {confidences.shape[1]} keypoint columns but "
            f"{column_weights.shape[0]} keypoint names were given"
        )
    if confidences.size and (confidences.min() < 0.0 or confidences.max() > 1.0):
        raise ValueError("confidences must lie in [0, 1]")
    if method == "one_minus":
        uncertainty = 1.0 - confidences
    elif method == "threshold":
        uncertainty = threshold_uncertainty(confidences, threshold)
    else:
        raise ValueError(f"method must be 'one_minus' or 'threshold', got {method!r}")
    # Row-wise sum rather than a matrix product, so each instance is summed the same way
    # wherever it sits in the batch.
    return (uncertainty * column_weights).sum(axis=1)


def keypoint_frame_scores(
    confidences: np.ndarray,
    frame_index: np.ndarray,
    n_frames: int,
    keypoint_names: Sequence[str],
    *,
    weights: Mapping[str, float] | None = None,
    method: PointMethod = "one_minus",
    threshold: float = 0.5,
    aggregate: Aggregate = "max",
) -> np.ndarray:
    """One score per frame: instance scores reduced by max, mean or sum; 0 with no people."""
    check_aggregate(aggregate)
    confidences = as_finite_array(confidences, name="confidences", ndim=2)
    frame_index = as_group_index(
        frame_index, n_groups=n_frames, length=confidences.shape[0], name="frame_index"
    )
    per_instance = keypoint_instance_scores(
        confidences, keypoint_names, weights=weights, method=method, threshold=threshold
    )
    return aggregate_by_group(per_instance, frame_index, n_frames, how=aggregate)


# A keypoint that is still being learned never weighs less than this share of the
# largest error, so a nearly mastered one still counts a little.
MIN_UNMASTERED_WEIGHT = 0.05


def mastery_weights(
    keypoint_names: Sequence[str],
    errors: Mapping[str, float],
    mastered: Sequence[str],
    base: Mapping[str, float] | None = None,
) -> dict[str, float]:
    """Per-keypoint weights that follow what the model has mastered: 0 for a mastered
    keypoint (pre-filled, no longer asked), its error (1 - mean OKS on the validation slice)
    for one still being learned, 1 for one never measured; times the manager's `base`
    weight. Everything mastered (or weighing 0) leaves `base` as it is, so the score still
    ranks. Active learning spends labels where the model is weakest (Liu & Ferrari, ICCV 2017).
    """
    names = list(keypoint_names)
    base = dict(base or {})
    done = set(mastered)
    known = np.array([float(errors[n]) for n in names if n in errors and n not in done])
    floor = MIN_UNMASTERED_WEIGHT * float(known.max()) if known.size else 0.0
    weights: dict[str, float] = {}
    for name in names:
        if name in done:
            factor = 0.0
        elif name in errors and np.isfinite(errors[name]):
            factor = max(float(np.clip(errors[name], 0.0, 1.0)), floor)
        else:
            factor = 1.0
        weights[name] = float(base.get(name, 1.0)) * factor
    if sum(weights.values()) <= 0:
        return {name: float(base.get(name, 1.0)) for name in names}
    return weights
