"""Novelty: distance to the nearest labeled assets."""

import math

import numpy as np
import pytest

from activelearn.strategies import nearest_labeled_distance

ASSETS = np.array([[0.0, 0.0], [3.0, 4.0], [1.0, 0.0]])
LABELED = np.array([[0.0, 0.0], [6.0, 8.0]])


def test_novelty_is_the_distance_to_the_nearest_labeled_asset():
    np.testing.assert_allclose(nearest_labeled_distance(ASSETS, LABELED), [0.0, 5.0, 1.0])


def test_novelty_over_two_neighbours_averages_their_distances():
    expected = [5.0, 5.0, (1.0 + math.hypot(5.0, 8.0)) / 2]
    np.testing.assert_allclose(nearest_labeled_distance(ASSETS, LABELED, neighbours=2), expected)


def test_asking_for_more_neighbours_than_labeled_assets_uses_them_all():
    np.testing.assert_allclose(
        nearest_labeled_distance(ASSETS, LABELED, neighbours=5),
        nearest_labeled_distance(ASSETS, LABELED, neighbours=2),
    )


def test_novelty_needs_something_labeled_and_matching_widths():
    with pytest.raises(ValueError, match="at least one labeled"):
        nearest_labeled_distance(ASSETS, np.zeros((0, 2)))
    with pytest.raises(ValueError, match="dimensions"):
        nearest_labeled_distance(ASSETS, np.zeros((1, 3)))
    with pytest.raises(ValueError, match="neighbours"):
        nearest_labeled_distance(ASSETS, LABELED, neighbours=0)


def test_embeddings_so_large_their_distances_overflow_are_refused():
    with pytest.raises(ValueError, match="overflow"):
        nearest_labeled_distance(np.array([[1e200, 0.0]]), LABELED)
