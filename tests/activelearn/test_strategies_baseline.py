"""The built-in baseline model that the strategies and the label-efficiency benchmark use."""

import numpy as np
import pytest
from sklearn.datasets import load_digits
from sklearn.model_selection import train_test_split

from activelearn.retraining.baseline import baseline_fit
from activelearn.strategies import margin


def test_the_baseline_reaches_the_benchmark_accuracy_bar_on_digits():
    features, labels = load_digits(return_X_y=True)
    pool_x, test_x, pool_y, test_y = train_test_split(
        features, labels, test_size=0.3, stratify=labels, random_state=0
    )
    model = baseline_fit(pool_x, pool_y)
    accuracy = (model.classes[model.predict_proba(test_x).argmax(axis=1)] == test_y).mean()
    assert accuracy >= 0.95


def test_probabilities_cover_only_the_classes_seen_and_feed_the_strategies():
    rng = np.random.default_rng(0)
    labels = np.array([3, 7, 9] * 10)
    features = rng.normal(size=(30, 4)) + labels[:, None]
    model = baseline_fit(features, labels)
    probs = model.predict_proba(features[:5])
    assert list(model.classes) == [3, 7, 9]
    assert probs.shape == (5, 3)
    np.testing.assert_allclose(probs.sum(axis=1), 1.0)
    assert np.all(np.isfinite(margin(probs)))
    assert model.embed(features).shape == features.shape
    assert model.coef.shape == (3, 4) and model.intercept.shape == (3,)


def test_the_baseline_refuses_a_single_class_or_mismatched_labels():
    with pytest.raises(ValueError, match="two classes"):
        baseline_fit(np.ones((4, 2)), np.zeros(4))
    with pytest.raises(ValueError, match="labels must have shape"):
        baseline_fit(np.ones((4, 2)), np.array([0, 1]))
    with pytest.raises(ValueError, match="NaN"):
        baseline_fit(np.array([[np.nan, 1.0], [0.0, 1.0]]), np.array([0, 1]))
