"""Per-keypoint OKS and PCK, matching predicted people to labeled ones, mastery over the last
versions and the keypoint weights that follow it: pure numpy, on arrays with known answers."""

from __future__ import annotations

import math

import numpy as np
import pytest

from activelearn.scoring.joint_metrics import (
    Person,
    image_joint_scores,
    joint_summary,
    mastered_keypoints,
    point_oks,
    point_pck,
)
from activelearn.strategies import keypoint_instance_scores, mastery_weights

SIGMAS = np.array([0.025, 0.1])  # a precise joint (an eye) and a loose one (a hip)


def _person(points, present=None, score=1.0) -> Person:
    xy = np.asarray(points, dtype=float)
    mask = np.ones(len(xy), bool) if present is None else np.asarray(present, bool)
    return Person(xy=xy, present=mask, score=score)


def test_oks_of_one_keypoint_is_cocos_formula_with_k_twice_sigma_and_s_squared_the_area():
    area, d = 100.0 * 100.0, 5.0
    oks = point_oks([[0.0, 0.0], [0.0, 0.0]], [[d, 0.0], [d, 0.0]], area, SIGMAS)
    expected = [math.exp(-(d**2) / (2 * area * (2 * s) ** 2)) for s in SIGMAS]
    assert oks.tolist() == pytest.approx(expected)
    # The same miss costs a precise joint more than a loose one.
    assert oks[0] < oks[1] < 1.0


def test_a_perfect_point_has_an_oks_of_one():
    assert point_oks([[3.0, 4.0]], [[3.0, 4.0]], 50.0, [0.05]).tolist() == [1.0]


def test_pck_counts_points_within_a_share_of_the_box_side():
    pck = point_pck([[0, 0], [0, 0]], [[9.9, 0], [10.1, 0]], side=100.0, alpha=0.1)
    assert pck.tolist() == [1.0, 0.0]


def test_each_prediction_is_matched_to_the_person_it_fits_whatever_the_order():
    left = _person([[10, 10], [60, 110]])
    right = _person([[200, 10], [250, 110]])
    # Predicted in the other order: right first, exact; left shifted by 3 px on the eye.
    predicted = [_person([[200, 10], [250, 110]], score=0.9), _person([[13, 10], [60, 110]])]
    oks, pck = image_joint_scores([left, right], predicted, SIGMAS)
    assert oks[1].tolist() == pytest.approx([1.0, 1.0])
    assert oks[0, 1] == pytest.approx(1.0)
    assert oks[0, 0] == pytest.approx(math.exp(-9 / (2 * 50 * 100 * (2 * 0.025) ** 2)))
    assert pck.tolist() == [[1.0, 1.0], [1.0, 1.0]]  # 3 px is within a tenth of 100 px


def test_a_person_nobody_predicted_counts_as_missed_on_every_labeled_joint():
    oks, pck = image_joint_scores([_person([[0, 0], [0, 100]])], [], SIGMAS)
    assert oks.tolist() == [[0.0, 0.0]]
    assert pck.tolist() == [[0.0, 0.0]]


def test_an_unlabeled_point_is_not_measured_and_a_point_the_model_lacks_is_an_error():
    labeled = _person([[0, 0], [0, 100]], present=[True, False])
    predicted = _person([[0, 0], [0, 100]], present=[False, True])
    oks, _ = image_joint_scores([labeled], [predicted], SIGMAS)
    assert oks[0, 0] == 0.0
    assert np.isnan(oks[0, 1])
    mean_oks, _, points = joint_summary(oks, oks)
    assert points.tolist() == [1, 0]
    assert np.isnan(mean_oks[1])


def test_the_summary_is_the_mean_over_labeled_points():
    oks = np.array([[1.0, np.nan], [0.5, 0.2]])
    mean_oks, mean_pck, points = joint_summary(oks, oks)
    assert mean_oks.tolist() == pytest.approx([0.75, 0.2])
    assert points.tolist() == [2, 1]


def test_a_joint_is_mastered_only_when_under_the_threshold_in_each_of_the_last_versions():
    errors = np.array(
        [
            [0.50, 0.05, 0.05, 0.05],  # oldest
            [0.08, 0.20, 0.05, np.nan],
            [0.07, 0.05, 0.30, 0.05],  # newest
        ]
    )
    assert mastered_keypoints(errors, 0.1, 2).tolist() == [True, False, False, False]
    assert mastered_keypoints(errors, 0.1, 1).tolist() == [True, True, False, True]
    assert mastered_keypoints(errors, 0.1, 3).tolist() == [False, False, False, False]


def test_fewer_versions_than_required_master_nothing():
    assert mastered_keypoints(np.array([[0.0, 0.0]]), 0.1, 2).tolist() == [False, False]


def test_mastered_joints_weigh_nothing_and_the_others_weigh_their_error():
    names = ["nose", "left_hip", "tail"]
    weights = mastery_weights(names, {"nose": 0.05, "left_hip": 0.4}, ["nose"])
    assert weights == {"nose": 0.0, "left_hip": 0.4, "tail": 1.0}  # tail: never measured


def test_mastery_multiplies_the_managers_weights():
    weights = mastery_weights(["a", "b"], {"a": 0.2, "b": 0.4}, [], {"a": 3.0})
    assert weights == pytest.approx({"a": 0.6, "b": 0.4})


def test_when_every_joint_is_mastered_the_managers_weights_still_rank():
    assert mastery_weights(["a", "b"], {"a": 0.0, "b": 0.0}, ["a", "b"], {"a": 2.0}) == {
        "a": 2.0,
        "b": 1.0,
    }


def test_doubt_on_a_mastered_joint_no_longer_raises_an_instance_score():
    names = ["nose", "left_hip"]
    weights = mastery_weights(names, {"nose": 0.02, "left_hip": 0.5}, ["nose"])
    doubtful_nose, doubtful_hip = [0.0, 1.0], [1.0, 0.0]
    confidences = np.array([doubtful_nose, doubtful_hip])
    scores = keypoint_instance_scores(confidences, names, weights=weights)
    assert scores.tolist() == pytest.approx([0.0, 1.0])
