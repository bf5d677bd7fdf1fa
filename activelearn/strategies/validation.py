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


def row_fingerprints(matrix: np.ndarray) -> np.ndarray:
    """A 64-bit fingerprint of each row's exact contents, computed in integer arithmetic.

    Equal rows get equal fingerprints wherever they sit; the sum wraps modulo 2**64, so
    it is exact and independent of order. Different rows collide with negligible odds, and
    `canonical_order` resolves a collision by comparing the rows themselves anyway.
    """
    rows = matrix.reshape(matrix.shape[0], -1)
    width = rows.shape[1]
    multipliers = _FINGERPRINT_MULTIPLIERS[:width]
    if multipliers.shape[0] < width:
        multipliers = np.resize(_FINGERPRINT_MULTIPLIERS, width) ^ np.arange(width, dtype=np.uint64)
    multipliers = multipliers | np.uint64(1)
    result = np.empty(rows.shape[0], dtype=np.uint64)
    # In blocks of rows, so the temporaries stay small and cache-resident.
    for start in range(0, rows.shape[0], FINGERPRINT_BLOCK_ROWS):
        block = np.ascontiguousarray(rows[start : start + FINGERPRINT_BLOCK_ROWS], dtype=np.float64)
        block = block + 0.0  # turns -0.0 into 0.0, so equal values have equal bits
        bits = block.view(np.uint64)
        with np.errstate(over="ignore"):
            mixed = (bits ^ (bits >> np.uint64(31))) * multipliers
            mixed ^= mixed >> np.uint64(29)
            result[start : start + bits.shape[0]] = mixed.sum(axis=1, dtype=np.uint64)
    return result


FINGERPRINT_BLOCK_ROWS = 4096
_FINGERPRINT_MULTIPLIERS = np.random.default_rng(20260101).integers(
    0, np.iinfo(np.uint64).max, size=1024, dtype=np.uint64, endpoint=True
)


def canonical_order(*columns: np.ndarray) -> np.ndarray:
    """A permutation that sorts rows by their content: one-dimensional columns first (the
    first most significant), then the fingerprint of all matrix columns, then, only within
    the rare runs that still tie, the matrices' values themselves.

    Greedy algorithms break ties by position; running them in this order instead makes
    their result depend only on the data, never on the order rows were passed in. Rows
    that are equal in every column are interchangeable, so their relative order is moot.
    """
    if not columns or columns[0].shape[0] == 0:
        return np.arange(0, dtype=np.int64)
    scalars = [column for column in columns if column.ndim == 1]
    matrices = [column.reshape(column.shape[0], -1) for column in columns if column.ndim > 1]
    keys = list(scalars)
    if matrices:
        content = np.hstack(matrices)
        keys.append(row_fingerprints(content))
    order = np.lexsort(keys[::-1])
    if not matrices:
        return order
    # Runs of rows equal in every key: order them by their full contents.
    sorted_keys = [key[order] for key in keys]
    same_as_previous = np.ones(order.shape[0] - 1, dtype=bool)
    for key in sorted_keys:
        same_as_previous &= key[1:] == key[:-1]
    if not same_as_previous.any():
        return order
    run_starts = np.flatnonzero(np.r_[True, ~same_as_previous])
    run_ends = np.r_[run_starts[1:], order.shape[0]]
    for start, end in zip(run_starts, run_ends, strict=True):
        if end - start > 1:
            run = order[start:end]
            order[start:end] = run[np.lexsort(content[run].T[::-1])]
    return order
