"""Diversity: cover the embedding space instead of piling a batch onto one confusing region.

Two tools. `k_center_greedy` (core-set) orders assets by coverage, with or without a model.
`diverse_batch` re-picks a batch from the top-scored candidates so it spreads over the
embedding space, and `diverse_rerank` turns that pick into scores the queue can store.
Both run in a canonical, content-based order so results never depend on input order.
"""

from __future__ import annotations

import numpy as np

from activelearn.strategies.blend import rank_normalise
from activelearn.strategies.classification import margin
from activelearn.strategies.validation import as_embeddings, as_scores, canonical_order

# Rows per block when measuring distances to a large labeled set, to bound memory.
DISTANCE_BLOCK_ROWS = 2048


def min_squared_distances(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    """Squared Euclidean distance from each point to its nearest centre (inf if none)."""
    result = np.full(points.shape[0], np.inf)
    if centres.shape[0] == 0:
        return result
    centre_norms = (centres**2).sum(axis=1)
    for start in range(0, points.shape[0], DISTANCE_BLOCK_ROWS):
        block = points[start : start + DISTANCE_BLOCK_ROWS]
        squared = (block**2).sum(axis=1)[:, None] - 2.0 * block @ centres.T + centre_norms
        result[start : start + block.shape[0]] = np.maximum(squared.min(axis=1), 0.0)
    return result


def _squared_distances_to(points: np.ndarray, centre: np.ndarray) -> np.ndarray:
    difference = points - centre
    return (difference**2).sum(axis=1)


def k_center_greedy(
    embeddings: np.ndarray, k: int, *, labeled_embeddings: np.ndarray | None = None
) -> np.ndarray:
    """Indices of `k` assets picked farthest-first: each pick is the asset farthest from
    everything labeled or picked so far (a 2-approximation of the k-center problem).

    Sener & Savarese, "Active learning for convolutional neural networks: a core-set
    approach", ICLR 2018; Gonzalez, "Clustering to minimize the maximum intercluster
    distance", 1985. With nothing labeled the first pick is the asset nearest the mean, a
    typical one, rather than an outlier.
    """
    embeddings = as_embeddings(embeddings)
    k = _check_k(k)
    n = embeddings.shape[0]
    if labeled_embeddings is None:
        labeled = np.zeros((0, embeddings.shape[1]))
    else:
        labeled = as_embeddings(labeled_embeddings, name="labeled_embeddings")
        if labeled.shape[1] != embeddings.shape[1]:
            raise ValueError(
                f"labeled_embeddings has {labeled.shape[1]} dimensions, embeddings has "
                f"{embeddings.shape[1]}"
            )
    k = min(k, n)
    if k == 0:
        return np.zeros(0, dtype=np.int64)
    order = canonical_order(embeddings)
    points = embeddings[order]
    # Points are in canonical order from here on, so these sums come out the same however
    # the caller ordered them, and the fast |x|^2 - 2 x.c + |c|^2 form is safe to use.
    norms = (points**2).sum(axis=1)
    distances = min_squared_distances(points, labeled)
    picks: list[int] = []
    if labeled.shape[0] == 0:
        first = int(np.argmin(_squared_distances_to(points, points.mean(axis=0))))
        picks.append(first)
        distances = _distances_to_point(points, norms, first)
    distances[picks] = -1.0
    while len(picks) < k:
        pick = int(np.argmax(distances))  # first maximum in canonical order
        picks.append(pick)
        np.minimum(distances, _distances_to_point(points, norms, pick), out=distances)
        distances[pick] = -1.0
    return order[np.asarray(picks, dtype=np.int64)]


def _distances_to_point(points: np.ndarray, norms: np.ndarray, index: int) -> np.ndarray:
    squared = norms - 2.0 * (points @ points[index]) + norms[index]
    return np.maximum(squared, 0.0)


def k_center_scores(
    embeddings: np.ndarray,
    *,
    labeled_embeddings: np.ndarray | None = None,
    k: int | None = None,
) -> np.ndarray:
    """Coverage scores in (0, 1]: the first `k` farthest-first picks on top in pick order,
    then the rest by distance to what is labeled or picked. `k` defaults to all assets,
    which costs O(n^2); pass the queue head size for large pools.
    """
    embeddings = as_embeddings(embeddings)
    n = embeddings.shape[0]
    k = n if k is None else min(_check_k(k), n)
    picks = k_center_greedy(embeddings, k, labeled_embeddings=labeled_embeddings)
    covered = embeddings[picks]
    if labeled_embeddings is not None:
        covered = np.vstack([as_embeddings(labeled_embeddings, name="labeled_embeddings"), covered])
    rest = np.setdiff1d(np.arange(n), picks)
    rest_distance = min_squared_distances(embeddings[rest], covered)
    rest_order = rest[canonical_order(-rest_distance, embeddings[rest])]
    position = np.empty(n, dtype=np.int64)
    position[np.concatenate([picks, rest_order])] = np.arange(n)
    return (n - position) / max(n, 1)


def diverse_batch(
    scores: np.ndarray,
    embeddings: np.ndarray,
    k: int,
    *,
    prefilter: int = 10,
    iterations: int = 25,
    tie_break: np.ndarray | None = None,
) -> np.ndarray:
    """Pick `k` assets from the `prefilter * k` best-scored ones, spread over the embedding.

    Zhdanov, "Diverse mini-batch active learning", arXiv:1901.05954, 2019: weighted k-means
    (k clusters) over the pre-filtered candidates, weighted by informativeness, then the
    candidate nearest each centre; `prefilter` is the paper's beta. Weights here are the
    candidates' score ranks, so any strategy's score can be wrapped whatever its scale.
    Centres start from a deterministic farthest-first seeding instead of random k-means++,
    so the batch is a function of the data alone. Returned best score first.

    Assets with equal scores and equal embeddings are told apart by `tie_break` (rows of
    extra data, e.g. the probabilities the score came from); only true duplicates are left,
    and swapping those changes nothing visible.
    """
    scores = as_scores(scores)
    embeddings = as_embeddings(embeddings)
    if embeddings.shape[0] != scores.shape[0]:
        raise ValueError(
            f"embeddings has {embeddings.shape[0]} rows but scores has {scores.shape[0]}"
        )
    k = _check_k(k)
    if prefilter < 1:
        raise ValueError(f"prefilter must be >= 1, got {prefilter}")
    extra = () if tie_break is None else (np.asarray(tie_break, dtype=np.float64),)
    if extra and extra[0].shape[0] != scores.shape[0]:
        raise ValueError(f"tie_break has {extra[0].shape[0]} rows but scores has {scores.shape[0]}")
    wanted = prefilter * k
    pool = np.arange(scores.shape[0])
    if scores.shape[0] > wanted:
        # Only the best `wanted` scores (and anything tied with the last) need ordering.
        threshold = np.partition(scores, scores.shape[0] - wanted)[scores.shape[0] - wanted]
        pool = np.flatnonzero(scores >= threshold)
    ranked = pool[
        canonical_order(-scores[pool], embeddings[pool], *(column[pool] for column in extra))
    ]
    candidates = ranked[:wanted]
    if candidates.shape[0] <= k:
        return candidates
    points = embeddings[candidates]
    weights = rank_normalise(scores[candidates])
    centres = _farthest_first_seeds(points, k)
    assignment = np.full(points.shape[0], -1)
    for _ in range(iterations):
        new_assignment = _nearest_centre(points, centres)
        if np.array_equal(new_assignment, assignment):
            break
        assignment = new_assignment
        for cluster in range(k):
            members = assignment == cluster
            if members.any():
                member_weights = weights[members]
                centres[cluster] = member_weights @ points[members] / member_weights.sum()
    chosen: list[int] = []
    for cluster in range(k):
        members = np.flatnonzero(assignment == cluster)
        if members.size:
            nearest = members[np.argmin(_squared_distances_to(points[members], centres[cluster]))]
            chosen.append(int(nearest))
    # Duplicate embeddings can leave clusters empty; top up with the best remaining scores.
    for candidate in range(points.shape[0]):
        if len(chosen) >= k:
            break
        if candidate not in chosen:
            chosen.append(candidate)
    chosen.sort()  # candidates are already in best-score-first canonical order
    return candidates[np.asarray(chosen, dtype=np.int64)]


def diverse_rerank(
    scores: np.ndarray,
    embeddings: np.ndarray,
    *,
    batch_size: int,
    prefilter: int = 10,
    tie_break: np.ndarray | None = None,
) -> np.ndarray:
    """Scores with a diverse batch (see `diverse_batch`) lifted above everything else.

    Output lies in (0, 2]: the rank-normalised input score, plus 1 for the `batch_size`
    assets of the diverse batch, so the queue hands out that batch first and then falls back
    to the plain ranking until the next rescoring.
    """
    scores = as_scores(scores)
    batch = diverse_batch(scores, embeddings, batch_size, prefilter=prefilter, tie_break=tie_break)
    result = rank_normalise(scores)
    result[batch] += 1.0
    return result


def _farthest_first_seeds(points: np.ndarray, k: int) -> np.ndarray:
    # Points arrive best score first, so the best candidate seeds the first cluster.
    picks = [0]
    distances = _squared_distances_to(points, points[0])
    while len(picks) < k:
        pick = int(np.argmax(distances))
        picks.append(pick)
        distances = np.minimum(distances, _squared_distances_to(points, points[pick]))
    return points[picks].copy()


def _nearest_centre(points: np.ndarray, centres: np.ndarray) -> np.ndarray:
    squared = (points**2).sum(axis=1)[:, None] - 2.0 * points @ centres.T + (centres**2).sum(axis=1)
    return squared.argmin(axis=1)


def _check_k(k: int) -> int:
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    return int(k)


def diverse_margin(
    probs: np.ndarray, embeddings: np.ndarray, *, batch_size: int = 10, prefilter: int = 10
) -> np.ndarray:
    """Margin uncertainty, with the next batch re-picked for diversity: the default strategy.

    Margin (Scheffer et al. 2001) looks only at the two classes the model hesitates
    between, which keeps it informative with many classes where entropy spreads over all of
    them (Settles, "Active Learning Literature Survey", 2009, section 3.1). Taken top-k it
    tends to fill a batch with near-duplicates from one confusing region, so the batch is
    re-picked from the `prefilter * batch_size` most uncertain assets by weighted k-means
    (Zhdanov 2019, see `diverse_batch`): still among the most uncertain, but spread out.
    Set `batch_size` to the number of labels between rescorings. The defaults are generic,
    not fitted to a data set; benchmarks/README.md (label efficiency) says what was tried.
    """
    scores = margin(probs)
    if scores.shape[0] == 0:
        return scores
    return diverse_rerank(
        scores,
        embeddings,
        batch_size=batch_size,
        prefilter=prefilter,
        tie_break=np.asarray(probs, dtype=np.float64).reshape(scores.shape[0], -1),
    )
