"""Novelty: how far an asset sits from everything already labeled.

Far from every labeled example means the model has seen nothing like it: a new class, an
odd viewpoint, or an outlier worth a human look.
"""

from __future__ import annotations

import numpy as np

from activelearn.strategies.diversity import DISTANCE_BLOCK_ROWS
from activelearn.strategies.validation import as_embeddings


def nearest_labeled_distance(
    embeddings: np.ndarray, labeled_embeddings: np.ndarray, *, neighbours: int = 1
) -> np.ndarray:
    """Mean Euclidean distance from each asset to its `neighbours` nearest labeled assets.

    The k-nearest-neighbour outlier score of Ramaswamy, Rastogi & Shim, "Efficient
    algorithms for mining outliers from large data sets", SIGMOD 2000 (here averaged over
    the k, as in Angiulli & Pizzuti 2002), measured against the labeled set only.
    """
    embeddings = as_embeddings(embeddings)
    labeled = as_embeddings(labeled_embeddings, name="labeled_embeddings")
    if labeled.shape[1] != embeddings.shape[1]:
        raise ValueError(
            f"labeled_embeddings has {labeled.shape[1]} dimensions, embeddings has "
            f"{embeddings.shape[1]}"
        )
    if labeled.shape[0] == 0:
        raise ValueError("novelty needs at least one labeled embedding; use k-center before that")
    if (
        isinstance(neighbours, bool)
        or not isinstance(neighbours, int | np.integer)
        or neighbours < 1
    ):
        raise ValueError(f"neighbours must be a positive integer, got {neighbours!r}")
    neighbours = min(int(neighbours), labeled.shape[0])
    result = np.zeros(embeddings.shape[0])
    labeled_norms = (labeled**2).sum(axis=1)
    for start in range(0, embeddings.shape[0], DISTANCE_BLOCK_ROWS):
        block = embeddings[start : start + DISTANCE_BLOCK_ROWS]
        squared = (block**2).sum(axis=1)[:, None] - 2.0 * block @ labeled.T + labeled_norms
        nearest = np.partition(squared, neighbours - 1, axis=1)[:, :neighbours]
        # Sorting before the mean makes the sum independent of the labeled set's order.
        distances = np.sqrt(np.maximum(np.sort(nearest, axis=1), 0.0))
        result[start : start + block.shape[0]] = distances.mean(axis=1)
    return result
