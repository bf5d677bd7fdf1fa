"""Selecting assets from scores, kept apart from scoring so any score can feed any selector."""

from __future__ import annotations

import numpy as np

from activelearn.strategies.validation import as_scores


def select_top_k(scores: np.ndarray, k: int, *, rng: np.random.Generator) -> np.ndarray:
    """Indices of the `k` highest scores, best first; exact ties are broken by `rng`.

    Breaking ties at random (rather than by position) keeps upload order from leaking into
    the queue; passing the generator makes a run replayable. `k` larger than the number of
    scores returns them all.
    """
    scores = as_scores(scores)
    if isinstance(k, bool) or not isinstance(k, int | np.integer) or k < 0:
        raise ValueError(f"k must be a non-negative integer, got {k!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator (np.random.default_rng(seed))")
    tie_breaker = rng.random(scores.shape[0])
    order = np.lexsort((tie_breaker, -scores))
    return order[: int(k)]
