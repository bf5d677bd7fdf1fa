"""Uncertainty scores for classification: one score per asset from `[n, classes]` probabilities.

Higher means label sooner. All are row-wise, so they cannot depend on the order of assets.
"""

from __future__ import annotations

import numpy as np

from activelearn.strategies.validation import as_probabilities


def least_confidence(probs: np.ndarray) -> np.ndarray:
    """One minus the top class probability.

    Lewis & Gale, "A sequential algorithm for training text classifiers", SIGIR 1994;
    Culotta & McCallum, "Reducing labeling effort for structured prediction tasks", AAAI 2005.
    """
    probs = as_probabilities(probs)
    if probs.shape[0] == 0:
        return np.zeros(0)
    return 1.0 - probs.max(axis=1)


def margin(probs: np.ndarray) -> np.ndarray:
    """One minus the gap between the two most likely classes (small gap = label sooner).

    Scheffer, Decomain & Wrobel, "Active hidden Markov models for information extraction",
    IDA 2001. With a single class there is nothing to confuse, so the score is 0.
    """
    probs = as_probabilities(probs)
    if probs.shape[0] == 0:
        return np.zeros(0)
    if probs.shape[1] < 2:
        return np.zeros(probs.shape[0])
    top_two = np.sort(probs, axis=1)[:, -2:]
    return 1.0 - (top_two[:, 1] - top_two[:, 0])


def entropy(probs: np.ndarray) -> np.ndarray:
    """Shannon entropy of the predicted class distribution, in nats.

    Shannon, "A mathematical theory of communication", 1948, as an active-learning
    heuristic in Settles, "Active Learning Literature Survey", 2009, section 3.1.
    """
    probs = as_probabilities(probs)
    return _entropy_rows(probs)


def normalised_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy divided by log(classes), so it lies in [0, 1] whatever the class count."""
    probs = as_probabilities(probs)
    if probs.shape[1] < 2:
        return np.zeros(probs.shape[0])
    return _entropy_rows(probs) / np.log(probs.shape[1])


def random_scores(n: int, *, rng: np.random.Generator) -> np.ndarray:
    """Uniform random scores: the passive-learning baseline every strategy is measured against.

    Randomness comes only from the caller's `rng`, so a run can be replayed.
    """
    if isinstance(n, bool) or not isinstance(n, int | np.integer) or n < 0:
        raise ValueError(f"n must be a non-negative integer, got {n!r}")
    if not isinstance(rng, np.random.Generator):
        raise ValueError("rng must be a numpy.random.Generator (np.random.default_rng(seed))")
    return rng.random(int(n))


def _entropy_rows(probs: np.ndarray) -> np.ndarray:
    # 0 * log 0 is 0 by continuity; where() keeps log away from zeros.
    logs = np.log(np.where(probs > 0, probs, 1.0))
    return np.maximum(-(probs * logs).sum(axis=1), 0.0)
