"""Rank normalisation and weighted blends of several strategies."""

import numpy as np
import pytest

from activelearn.strategies import blend, rank_normalise


def test_rank_normalise_gives_the_top_score_one_and_scales_ranks_by_count():
    np.testing.assert_allclose(rank_normalise(np.array([3.0, 1.0, 2.0])), [1.0, 1 / 3, 2 / 3])


def test_tied_scores_share_their_average_rank():
    np.testing.assert_allclose(rank_normalise(np.array([1.0, 1.0, 2.0])), [0.5, 0.5, 1.0])


def test_blend_is_the_weighted_mean_of_the_normalised_ranks():
    scores = {"a": np.array([3.0, 1.0, 2.0]), "b": np.array([10.0, 20.0, 30.0])}
    # a ranks [1, 1/3, 2/3], b ranks [1/3, 2/3, 1]; weights 1 and 3.
    expected = [(1 + 1) / 4, (1 / 3 + 2) / 4, (2 / 3 + 3) / 4]
    np.testing.assert_allclose(blend(scores, {"a": 1.0, "b": 3.0}), expected)


def test_blend_ignores_the_scale_of_each_strategy():
    small = {"a": np.array([0.1, 0.2]), "b": np.array([2.0, 1.0])}
    large = {"a": np.array([100.0, 200.0]), "b": np.array([2.0, 1.0])}
    weights = {"a": 0.7, "b": 0.3}
    np.testing.assert_allclose(blend(small, weights), blend(large, weights))


def test_a_strategy_with_zero_weight_does_not_count():
    scores = {"a": np.array([1.0, 2.0]), "b": np.array([2.0, 1.0])}
    np.testing.assert_allclose(blend(scores, {"a": 1.0, "b": 0.0}), rank_normalise(scores["a"]))


@pytest.mark.parametrize(
    ("weights", "message"),
    [
        ({}, "at least one"),
        ({"missing": 1.0}, "without scores"),
        ({"a": -1.0}, ">= 0"),
        ({"a": float("nan")}, "finite"),
        ({"a": 0.0}, "positive sum"),
    ],
)
def test_bad_weights_are_refused(weights, message):
    with pytest.raises(ValueError, match=message):
        blend({"a": np.array([1.0, 2.0])}, weights)


def test_score_vectors_of_different_lengths_are_refused():
    with pytest.raises(ValueError, match="same length"):
        blend({"a": np.ones(2), "b": np.ones(3)}, {"a": 1.0, "b": 1.0})
