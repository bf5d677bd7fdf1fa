"""Least confidence, margin, entropy and random on small arrays with hand-computed scores."""

import math

import numpy as np
import pytest

from activelearn.strategies import (
    entropy,
    least_confidence,
    margin,
    normalised_entropy,
    random_scores,
)

PROBS = np.array(
    [
        [0.7, 0.2, 0.1],  # fairly sure
        [0.4, 0.4, 0.2],  # torn between two classes
        [1.0, 0.0, 0.0],  # certain
    ]
)


def test_least_confidence_is_one_minus_the_top_probability():
    np.testing.assert_allclose(least_confidence(PROBS), [0.3, 0.6, 0.0])


def test_margin_is_one_minus_the_gap_between_the_two_top_classes():
    np.testing.assert_allclose(margin(PROBS), [0.5, 1.0, 0.0])


def test_entropy_matches_the_hand_computed_sum_in_nats():
    expected = [
        -(0.7 * math.log(0.7) + 0.2 * math.log(0.2) + 0.1 * math.log(0.1)),
        -(2 * 0.4 * math.log(0.4) + 0.2 * math.log(0.2)),
        0.0,
    ]
    np.testing.assert_allclose(entropy(PROBS), expected)
    assert entropy(PROBS)[0] == pytest.approx(0.80182, abs=1e-5)


def test_normalised_entropy_of_a_uniform_prediction_is_one():
    np.testing.assert_allclose(normalised_entropy(np.full((2, 4), 0.25)), [1.0, 1.0])


def test_the_torn_asset_ranks_first_and_the_certain_one_last_for_every_uncertainty_score():
    for score in (least_confidence, margin, entropy):
        assert list(np.argsort(-score(PROBS))) == [1, 0, 2]


def test_margin_with_a_single_class_is_zero():
    np.testing.assert_array_equal(margin(np.ones((3, 1))), [0.0, 0.0, 0.0])


def test_no_assets_give_no_scores():
    for score in (least_confidence, margin, entropy):
        assert score(np.zeros((0, 3))).shape == (0,)


def test_float32_softmax_rounding_is_accepted_and_renormalised():
    probs = np.array([[0.3333333, 0.3333333, 0.3333333]], dtype=np.float32)
    assert entropy(probs)[0] == pytest.approx(math.log(3))


@pytest.mark.parametrize(
    ("probs", "message"),
    [
        (np.array([[0.5, np.nan]]), "NaN or infinite"),
        (np.array([[np.inf, 0.0]]), "NaN or infinite"),
        (np.array([0.5, 0.5]), "2 dimension"),
        (np.array([[0.5, 0.2]]), "sum to 1"),
        (np.array([[1.5, -0.5]]), r"\[0, 1\]"),
        ([["a", "b"]], "numeric"),
    ],
)
def test_bad_probabilities_are_refused_with_a_clear_message(probs, message):
    for score in (least_confidence, margin, entropy):
        with pytest.raises(ValueError, match=message):
            score(probs)


def test_random_scores_replay_with_the_same_seed_and_differ_with_another():
    first = random_scores(50, rng=np.random.default_rng(7))
    again = random_scores(50, rng=np.random.default_rng(7))
    other = random_scores(50, rng=np.random.default_rng(8))
    np.testing.assert_array_equal(first, again)
    assert not np.array_equal(first, other)
    assert first.min() >= 0.0 and first.max() < 1.0


def test_random_scores_refuse_a_missing_generator_or_a_negative_count():
    with pytest.raises(ValueError, match="Generator"):
        random_scores(3, rng=7)
    with pytest.raises(ValueError, match="non-negative"):
        random_scores(-1, rng=np.random.default_rng(0))
