"""Input checks and order-independent grouping shared by the query strategies.

Every strategy validates its arrays here, so a bad input fails with one clear ValueError
(naming the argument) instead of a NaN score that would silently sink or float in the queue.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

# Softmax outputs in float32 sum to 1 only up to rounding; anything further off is not a
# probability vector and is refused rather than quietly renormalised.
PROBABILITY_TOLERANCE = 1e-3

# Squared distances between embeddings must stay finite in float64 (max ~1.8e308).
MAX_EMBEDDING_MAGNITUDE = 1e100

Aggregate = Literal["max", "mean", "sum"]
AGGREGATES: tuple[str, ...] = ("max", "mean", "sum")


def as_finite_array(values: object, *, name: str, ndim: int) -> np.ndarray:
    """Return `values` as a float64 array with `ndim` dimensions, all finite."""
    try:
        array = np.asarray(values, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ValueError(f"{name} must be numeric, got {type(values).__name__}") from error
    if array.ndim != ndim:
        raise ValueError(f"{name} must have {ndim} dimension(s), got shape {array.shape}")
    if not np.all(np.isfinite(array)):
        bad = int(np.size(array) - np.count_nonzero(np.isfinite(array)))
        raise ValueError(f"{name} contains {bad} NaN or infinite value(s)")
    return array


def as_probabilities(
    probs: object, *, name: str = "probs", ndim: int = 2, min_classes: int = 1
) -> np.ndarray:
    """Check class probabilities, classes on axis 1: `[n, classes]` or `[n, classes, members]`.

    Values must lie in [0, 1] and sum to 1 over the classes (within PROBABILITY_TOLERANCE);
    the result is renormalised so rounding in the model's softmax cannot leak into scores.
    """
    array = as_finite_array(probs, name=name, ndim=ndim)
    if array.shape[1] < min_classes:
        raise ValueError(
            f"{name} needs at least {min_classes} classes on axis 1, got shape {array.shape}"
        )
    if array.size and (
        array.min() < -PROBABILITY_TOLERANCE or array.max() > 1 + PROBABILITY_TOLERANCE
    ):
        raise ValueError(f"{name} must lie in [0, 1], got values in [{array.min()}, {array.max()}]")
    array = np.clip(array, 0.0, 1.0)
    totals = array.sum(axis=1, keepdims=True)
    if array.size and not np.allclose(totals, 1.0, atol=PROBABILITY_TOLERANCE, rtol=0.0):
        worst = float(np.abs(totals - 1.0).max())
        raise ValueError(f"{name} must sum to 1 over classes (axis 1); off by up to {worst:.3g}")
    return array / np.where(totals > 0, totals, 1.0)


def as_embeddings(values: object, *, name: str = "embeddings") -> np.ndarray:
    """Check an `[n, dims]` embedding matrix with at least one dimension."""
    array = as_finite_array(values, name=name, ndim=2)
    if array.shape[1] < 1:
        raise ValueError(f"{name} needs at least one dimension, got shape {array.shape}")
    if array.size and np.abs(array).max() > MAX_EMBEDDING_MAGNITUDE:
        raise ValueError(
            f"{name} has values beyond {MAX_EMBEDDING_MAGNITUDE:g} in magnitude; "
            "distances between them would overflow"
        )
    return array


def as_scores(values: object, *, name: str = "scores") -> np.ndarray:
    """Check a one-dimensional vector of finite scores."""
    return as_finite_array(values, name=name, ndim=1)


def as_group_index(values: object, *, n_groups: int, length: int, name: str) -> np.ndarray:
    """Check integer group ids (image, frame or instance) in [0, n_groups), one per row."""
    if n_groups < 0:
        raise ValueError(f"n_groups must be >= 0, got {n_groups}")
    array = np.asarray(values)
    if array.ndim != 1 or array.shape[0] != length:
        raise ValueError(f"{name} must have shape ({length},), got {array.shape}")
    if length == 0:
        return array.astype(np.int64)
    if not np.issubdtype(array.dtype, np.integer):
        raise ValueError(f"{name} must hold integers, got dtype {array.dtype}")
    if array.min() < 0 or array.max() >= n_groups:
        raise ValueError(f"{name} must lie in [0, {n_groups}), got [{array.min()}, {array.max()}]")
    return array.astype(np.int64)


def check_aggregate(how: str) -> None:
    if how not in AGGREGATES:
        raise ValueError(f"aggregate must be one of {', '.join(AGGREGATES)}; got {how!r}")


def aggregate_by_group(
    values: np.ndarray,
    group_index: np.ndarray,
    n_groups: int,
    *,
    how: Aggregate,
    empty: float = 0.0,
) -> np.ndarray:
    """Reduce per-row values to one value per group by max, mean or sum.

    Rows are sorted by (group, value) first, so floating-point sums do not depend on the
    order the rows came in. Groups without rows get `empty`.
    """
    check_aggregate(how)
    result = np.full(n_groups, float(empty))
    if values.size == 0:
        return result
    order = np.lexsort((values, group_index))
    sorted_values = values[order]
    sorted_groups = group_index[order]
    groups, starts, counts = np.unique(sorted_groups, return_index=True, return_counts=True)
    if how == "max":
        reduced = np.maximum.reduceat(sorted_values, starts)
    else:
        reduced = np.add.reduceat(sorted_values, starts)
        if how == "mean":
            reduced = reduced / counts
    result[groups] = reduced
    return result


def canonical_order(*columns: np.ndarray) -> np.ndarray:
    """A permutation that sorts rows by their content (first column most significant).

    Greedy algorithms break ties by position; running them in this order instead makes
    their result depend only on the data, never on the order rows were passed in.
    """
    if not columns or columns[0].shape[0] == 0:
        return np.arange(0, dtype=np.int64)
    keys: list[np.ndarray] = []
    for column in columns:
        keys.extend(column.reshape(column.shape[0], -1).T)
    return np.lexsort(keys[::-1])
