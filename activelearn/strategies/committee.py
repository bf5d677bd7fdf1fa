"""Query by committee: disagreement among two or more models, from `[n, classes, members]`."""

from __future__ import annotations

import numpy as np

from activelearn.strategies.validation import as_probabilities


def _committee(probs: np.ndarray) -> np.ndarray:
    probs = as_probabilities(probs, ndim=3, min_classes=1)
    if probs.shape[2] < 2:
        raise ValueError(f"a committee needs at least 2 members on axis 2, got shape {probs.shape}")
    return probs


def vote_entropy(probs: np.ndarray) -> np.ndarray:
    """Entropy of the members' hard votes (each member votes for its top class).

    Dagan & Engelson, "Committee-based sampling for training probabilistic classifiers",
    ICML 1995. A member whose top classes tie votes for the lowest class index, a rule that
    depends on the class, never on the asset's position.
    """
    probs = _committee(probs)
    n, classes, members = probs.shape
    if n == 0:
        return np.zeros(0)
    votes = probs.argmax(axis=1)  # [n, members]
    counts = np.zeros((n, classes))
    np.add.at(counts, (np.repeat(np.arange(n), members), votes.ravel()), 1.0)
    fractions = counts / members
    logs = np.log(np.where(fractions > 0, fractions, 1.0))
    return np.maximum(-(fractions * logs).sum(axis=1), 0.0)


def mean_kl_to_consensus(probs: np.ndarray) -> np.ndarray:
    """Mean Kullback-Leibler divergence from each member to the committee's mean prediction.

    McCallum & Nigam, "Employing EM and pool-based active learning for text classification",
    ICML 1998. Zero when all members agree, whatever they agree on.
    """
    probs = _committee(probs)
    if probs.shape[0] == 0:
        return np.zeros(0)
    consensus = probs.mean(axis=2, keepdims=True)
    # Where a member gives 0 the term is 0; where it gives p > 0 the consensus is > 0 too.
    ratio = np.where(probs > 0, probs / np.where(consensus > 0, consensus, 1.0), 1.0)
    divergence = (probs * np.log(ratio)).sum(axis=1)  # [n, members]
    return np.maximum(divergence.mean(axis=1), 0.0)
