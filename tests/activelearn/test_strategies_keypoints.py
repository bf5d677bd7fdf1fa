"""Keypoints: per-point uncertainty weighted by name, per instance and per frame."""

import numpy as np
import pytest

from activelearn.strategies import keypoint_frame_scores, keypoint_instance_scores

NAMES = ["shoulder", "hip", "hand"]
WEIGHTS = {"shoulder": 2.0, "hip": 2.0, "hand": 1.0}  # normalised to 0.4, 0.4, 0.2


def test_instance_score_is_the_weighted_mean_of_one_minus_confidence():
    confidences = np.array([[0.9, 0.8, 0.1], [1.0, 1.0, 1.0]])
    scores = keypoint_instance_scores(confidences, NAMES, weights=WEIGHTS)
    np.testing.assert_allclose(scores, [0.4 * 0.1 + 0.4 * 0.2 + 0.2 * 0.9, 0.0])


def test_a_doubtful_shoulder_outranks_a_doubtful_hand_when_shoulders_weigh_more():
    doubtful_hand = [1.0, 1.0, 0.0]
    doubtful_shoulder = [0.0, 1.0, 1.0]
    scores = keypoint_instance_scores(
        np.array([doubtful_hand, doubtful_shoulder]), NAMES, weights=WEIGHTS
    )
    np.testing.assert_allclose(scores, [0.2, 0.4])


def test_unweighted_keypoints_count_equally():
    scores = keypoint_instance_scores(np.array([[0.0, 1.0, 1.0]]), NAMES)
    np.testing.assert_allclose(scores, [1 / 3])


def test_threshold_method_scores_points_near_the_visibility_threshold_highest():
    scores = keypoint_instance_scores(
        np.array([[0.5, 0.5, 0.5], [0.0, 1.0, 0.0]]), NAMES, method="threshold"
    )
    np.testing.assert_allclose(scores, [1.0, 0.0])


@pytest.mark.parametrize(
    ("aggregate", "expected"), [("max", [0.3, 0.0]), ("mean", [0.15, 0.0]), ("sum", [0.3, 0.0])]
)
def test_frame_scores_aggregate_instances_and_an_empty_frame_scores_zero(aggregate, expected):
    confidences = np.array([[0.9, 0.8, 0.1], [1.0, 1.0, 1.0]])
    scores = keypoint_frame_scores(
        confidences, np.array([0, 0]), 2, NAMES, weights=WEIGHTS, aggregate=aggregate
    )
    np.testing.assert_allclose(scores, expected)


@pytest.mark.parametrize(
    ("confidences", "weights", "message"),
    [
        (np.ones((1, 3)), {"elbow": 1.0}, "unknown keypoints: elbow"),
        (np.ones((1, 3)), {"hand": -1.0}, ">= 0"),
        (np.ones((1, 3)), {"shoulder": 0.0, "hip": 0.0, "hand": 0.0}, "positive sum"),
        (np.ones((1, 2)), None, "3 keypoint names"),
        (np.full((1, 3), 1.2), None, r"\[0, 1\]"),
        (np.array([[np.nan, 1.0, 1.0]]), None, "NaN"),
    ],
)
def test_bad_keypoint_inputs_are_refused(confidences, weights, message):
    with pytest.raises(ValueError, match=message):
        keypoint_instance_scores(confidences, NAMES, weights=weights)


def test_duplicate_keypoint_names_are_refused():
    with pytest.raises(ValueError, match="unique"):
        keypoint_instance_scores(np.ones((1, 2)), ["hip", "hip"])
