"""Blending: a weighted mix of several strategies' scores after putting them on one scale.

Raw scores are not comparable (entropy in nats, margin in [0, 1], distances unbounded), so
each is replaced by its rank before mixing; the blend only depends on each strategy's order.
"""

from __future__ import annotations

from collections.abc import Mapping

import numpy as np

from activelearn.strategies.validation import as_scores


def rank_normalise(scores: np.ndarray) -> np.ndarray:
    """Ranks scaled to (0, 1]: the highest score gets 1, ties share their average rank."""
    scores = as_scores(scores)
    n = scores.shape[0]
    if n == 0:
        return np.zeros(0)
    order = np.argsort(scores, kind="stable")
    sorted_scores = scores[order]
    # Average rank per run of equal values, so ties never depend on input order.
    starts = np.flatnonzero(np.r_[True, sorted_scores[1:] != sorted_scores[:-1]])
    ends = np.r_[starts[1:], n]
    average_rank = (starts + ends + 1) / 2.0  # 1-based ranks starts+1 .. ends
    ranks = np.empty(n)
    ranks[order] = np.repeat(average_rank, ends - starts)
    return ranks / n


def blend(scores: Mapping[str, np.ndarray], weights: Mapping[str, float]) -> np.ndarray:
    """Weighted mean of rank-normalised scores, in (0, 1].

    Rank aggregation in the spirit of Cormack, Clarke & Buettcher, "Reciprocal rank fusion
    outperforms Condorcet and individual rank learning methods", SIGIR 2009, here as a
    weighted Borda count. `weights` names the strategies to mix; every named strategy must
    have scores, weights must be >= 0 with a positive sum.
    """
    if not weights:
        raise ValueError("weights must name at least one strategy")
    missing = sorted(set(weights) - set(scores))
    if missing:
        raise ValueError(f"weights name strategies without scores: {', '.join(missing)}")
    checked_weights: dict[str, float] = {}
    for name, weight in weights.items():
        weight = float(weight)
        if not np.isfinite(weight) or weight < 0:
            raise ValueError(f"weight for {name!r} must be finite and >= 0, got {weight}")
        checked_weights[name] = weight
    total = sum(checked_weights.values())
    if total <= 0:
        raise ValueError("weights must have a positive sum")
    lengths = {name: as_scores(scores[name], name=f"scores[{name!r}]").shape[0] for name in weights}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"all score vectors must have the same length, got {lengths}")
    n = next(iter(lengths.values()))
    mixed = np.zeros(n)
    for name in sorted(checked_weights):
        mixed += checked_weights[name] * rank_normalise(scores[name])
    return mixed / total
