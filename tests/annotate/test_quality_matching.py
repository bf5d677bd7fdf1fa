"""Matching and agreement (annotate.quality.matching): Hungarian box matching on IoU, box F1
per class, COCO OKS with per-joint sigmas, and tracks matched by identity over time; answers
worked out by hand."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annotate.quality.matching import (
    COCO17_SIGMAS,
    DEFAULT_SIGMA,
    box_f1,
    default_sigmas,
    keypoint_agreement,
    match_boxes,
    match_keypoints,
    match_similarity,
    match_tracks,
    oks,
    oks_matrix,
    points_array,
    track_agreement,
    track_iou_matrix,
)
from annotate.schema import COCO17_KEYPOINTS


def test_hungarian_beats_greedy_on_boxes():
    # Greedy would pair a0 with b0 (IoU .8) and leave a1 alone; the best total pairs both.
    similarity = np.array([[0.8, 0.7], [0.75, 0.0]])
    matching = match_similarity(similarity, 0.5)
    assert matching.pairs == [(0, 1), (1, 0)]
    assert matching.unmatched_a == [] and matching.unmatched_b == []


def test_pairs_below_the_threshold_stay_unmatched():
    a = [[0, 0, 10, 10], [100, 100, 10, 10]]
    b = [[1, 0, 10, 10], [105, 100, 10, 10]]  # IoU 9/11 and 5/15
    matching = match_boxes(a, b, iou_threshold=0.5)
    assert matching.pairs == [(0, 0)]
    assert matching.scores == [pytest.approx(90 / 110)]
    assert matching.unmatched_a == [1] and matching.unmatched_b == [1]


def test_classes_must_agree_when_given():
    a, b = [[0, 0, 10, 10]], [[0, 0, 10, 10]]
    assert match_boxes(a, b, a_classes=["cat"], b_classes=["dog"]).pairs == []
    assert match_boxes(a, b, a_classes=["cat"], b_classes=["cat"]).pairs == [(0, 0)]


def test_box_f1_overall_and_per_class():
    truth = [[0, 0, 10, 10], [50, 50, 10, 10], [200, 0, 10, 10]]
    predicted = [[0, 0, 10, 10], [50, 50, 10, 10], [400, 0, 10, 10]]
    scores = box_f1(
        truth,
        predicted,
        truth_classes=["cat", "dog", "dog"],
        predicted_classes=["cat", "cat", "dog"],
    )
    # cat-cat matches; the second pair disagrees on class; the third does not overlap.
    assert (scores.tp, scores.fp, scores.fn) == (1, 2, 2)
    assert scores.f1 == pytest.approx(2 / 6)
    assert scores.per_class["cat"] == {
        "tp": 1,
        "fp": 1,
        "fn": 0,
        "precision": 0.5,
        "recall": 1.0,
        "f1": pytest.approx(2 / 3),
    }
    assert scores.per_class["dog"]["tp"] == 0 and scores.per_class["dog"]["f1"] == 0.0
    assert scores.mean_iou == 1.0


def test_two_empty_sets_agree():
    assert box_f1([], [], truth_classes=[], predicted_classes=[]).f1 == 1.0


def test_default_sigmas():
    assert default_sigmas(COCO17_KEYPOINTS).tolist() == list(COCO17_SIGMAS)
    assert default_sigmas(["nose", "tail"]).tolist() == [0.026, DEFAULT_SIGMA]


def test_oks_follows_the_coco_formula():
    truth = np.array([[0, 0, 2], [10, 0, 2], [0, 10, 2], [0, 0, 0]], dtype=float)
    predicted = truth.copy()
    predicted[0, :2] = (1, 0)  # one pixel off
    predicted[3] = (50, 50, 2)  # a joint the truth did not label does not count
    sigmas = [0.1, 0.05, 0.05, 0.05]
    area = 100.0  # the labeled joints' box: 10 x 10
    expected = (math.exp(-1 / (2 * area * 0.2**2)) + 1 + 1) / 3
    assert oks(truth, predicted, sigmas=sigmas) == pytest.approx(expected)
    # A joint the truth labeled but the prediction lacks scores 0.
    predicted[1, 2] = 0
    assert oks(truth, predicted, sigmas=sigmas) == pytest.approx((expected * 3 - 1) / 3)


def test_larger_sigmas_forgive_more():
    truth = np.array([[[0, 0, 2], [10, 10, 2]]], dtype=float)
    predicted = truth + [[[2, 0, 0], [0, 0, 0]]]
    tight = oks_matrix(truth, predicted, sigmas=[0.02, 0.02])[0, 0]
    loose = oks_matrix(truth, predicted, sigmas=[0.2, 0.2])[0, 0]
    assert tight < loose < 1.0


def test_points_array_from_stored_points():
    array = points_array([{"a": [1, 2, 1], "b": [3, 4]}, {}], ["a", "b"])
    assert array.tolist() == [[[1, 2, 1], [3, 4, 2]], [[0, 0, 0], [0, 0, 0]]]


def test_keypoint_matching_and_per_joint_agreement():
    names = ["head", "tail"]
    sigmas = [0.05, 0.1]
    near = {"head": [0, 0, 2], "tail": [100, 100, 2]}
    far = {"head": [500, 500, 2], "tail": [600, 600, 2]}
    far_off = {"head": [502, 500, 2], "tail": [600, 600, 2]}
    a = points_array([near, far], names)
    b = points_array([far_off, near], names)
    assert match_keypoints(a, b, sigmas=sigmas).pairs == [(0, 1), (1, 0)]
    agreement = keypoint_agreement(a, b, sigmas=sigmas)
    assert (agreement.tp, agreement.fp, agreement.fn) == (2, 0, 0)
    head = (1 + math.exp(-4 / (2 * 10000 * 0.1**2))) / 2
    assert agreement.per_joint == [pytest.approx(head), 1.0]
    assert agreement.mean_oks == pytest.approx((1 + (head * 2 - 1 + 1) / 2) / 2)


def test_bad_skeleton_shapes_are_refused():
    with pytest.raises(ValueError):
        oks_matrix(np.zeros((1, 3, 3)), np.zeros((1, 3, 3)), sigmas=[0.1, 0.1])
    with pytest.raises(ValueError):
        oks_matrix(np.zeros((1, 2, 3)), np.zeros((1, 2, 3)), sigmas=[0.1, 0.0])


def walk(track, frames, x0, dx):
    return [(f, track, x0 + dx * i, 0.0, 20.0, 20.0) for i, f in enumerate(frames)]


def test_tracks_matched_by_identity_over_time():
    a = walk(1, range(10), 0, 5) + walk(2, range(10), 300, -5)
    # b numbers them the other way round, and one box is a bit off.
    b = walk(7, range(10), 300, -5) + walk(3, range(10), 1, 5)
    assert match_tracks(a, b) == {1: 3, 2: 7}
    matrix, a_ids, b_ids = track_iou_matrix(a, b)
    assert (a_ids, b_ids) == ([1, 2], [3, 7])
    assert matrix[0, 0] == pytest.approx(19 * 20 / (21 * 20))
    scores = track_agreement(a, b)
    assert scores.idsw == 0 and scores.idf1 == 1.0 and scores.hota > 0.9


def test_a_track_seen_on_half_its_frames_counts_half():
    a = walk(1, range(10), 0, 0)
    b = walk(1, range(5), 0, 0)
    matrix, _, _ = track_iou_matrix(a, b)
    assert matrix[0, 0] == pytest.approx(0.5)
    assert match_tracks(a, b, min_mean_iou=0.6) == {}
