"""Expected gradient length: closed form against hand values and brute-force gradients."""

import numpy as np
import pytest

from activelearn.retraining.baseline import baseline_fit
from activelearn.strategies import (
    expected_gradient_length,
    expected_gradient_length_from_weights,
)


def brute_force_egl(probs, features):
    """Sum over labels of p_y * ||(p - e_y) x~^T|| with the bias feature appended."""
    scores = []
    for p, x in zip(probs, features, strict=True):
        x_tilde = np.append(x, 1.0)
        total = 0.0
        for label in range(p.shape[0]):
            gradient = np.outer(p - np.eye(p.shape[0])[label], x_tilde)
            total += p[label] * np.linalg.norm(gradient)
        scores.append(total)
    return np.array(scores)


def test_an_undecided_binary_prediction_on_a_unit_feature_has_length_one():
    # ||x~|| = sqrt(2), ||p - e_y|| = sqrt(0.5) for both labels.
    assert expected_gradient_length(np.array([[0.5, 0.5]]), np.array([[1.0, 0.0]]))[
        0
    ] == pytest.approx(1.0)


def test_a_certain_prediction_expects_no_change():
    assert expected_gradient_length(np.array([[1.0, 0.0, 0.0]]), np.array([[3.0]]))[0] == 0.0


def test_closed_form_equals_the_brute_force_sum_over_labels():
    rng = np.random.default_rng(3)
    logits = rng.normal(size=(20, 4))
    probs = np.exp(logits) / np.exp(logits).sum(axis=1, keepdims=True)
    features = rng.normal(size=(20, 6))
    np.testing.assert_allclose(
        expected_gradient_length(probs, features), brute_force_egl(probs, features)
    )


def test_larger_inputs_expect_larger_changes_at_equal_uncertainty():
    probs = np.array([[0.5, 0.5], [0.5, 0.5]])
    scores = expected_gradient_length(probs, np.array([[1.0], [10.0]]))
    assert scores[1] > scores[0]


def test_scores_from_weights_match_scores_from_the_baseline_probabilities():
    rng = np.random.default_rng(0)
    features = rng.normal(size=(40, 3))
    for n_classes in (2, 3):
        labels = np.arange(40) % n_classes
        model = baseline_fit(features + labels[:, None], labels)
        embedded = model.embed(features)
        np.testing.assert_allclose(
            expected_gradient_length_from_weights(embedded, model.coef, model.intercept),
            model.expected_gradient_length(features),
        )


def test_features_and_probabilities_must_describe_the_same_assets():
    with pytest.raises(ValueError, match="same assets"):
        expected_gradient_length(np.full((2, 2), 0.5), np.ones((3, 2)))
    with pytest.raises(ValueError, match="NaN"):
        expected_gradient_length(np.full((1, 2), 0.5), np.array([[np.inf]]))
