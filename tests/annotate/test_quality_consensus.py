"""The consensus of k annotators (annotate.quality.consensus) and their agreement
(annotate.quality.agreement), on shapes whose merged answer is known by hand."""

from __future__ import annotations

import pytest

from annotate.quality.agreement import agreement, pairwise, summary
from annotate.quality.consensus import ConsensusSettings, consensus_form
from annotate.quality.shapes import BOX, KEYPOINTS, Shape


def box(x, y, w=10.0, h=10.0, label="cat", frame=None, track=None):
    return Shape(kind=BOX, label=label, frame=frame, box=(x, y, w, h), track=track)


def skeleton(points, label="person", frame=None, track=None):
    return Shape(kind=KEYPOINTS, label=label, frame=frame, points=tuple(points), track=track)


def test_two_annotators_boxes_are_averaged_and_a_lone_box_kept_at_half():
    alice = [box(0, 0), box(100, 100)]
    bob = [box(2, 0), box(300, 300, label="dog")]
    result = consensus_form([alice, bob])
    kept = [s for s in result.shapes if s.kept]
    assert len(kept) == 3  # one matched pair, two boxes each drawn by one of two (= half)
    pair = next(s for s in kept if len(s.members) == 2)
    assert pair.box == pytest.approx((1.0, 0.0, 10.0, 10.0))
    assert pair.members == {0: 0, 1: 0}
    assert pair.support == 1.0
    assert pair.agreement == pytest.approx(10 * 9 / (10 * 11))
    lone = [s for s in kept if len(s.members) == 1]
    assert {s.support for s in lone} == {0.5}
    assert all(s.disputed for s in lone)


def test_three_annotators_median_majority_class_and_quorum():
    a = [box(0, 0, label="cat"), box(500, 500)]
    b = [box(1, 0, label="dog")]
    c = [box(60, 0, w=70, label="cat")]  # a careless box: IoU with the others >= .05 only
    settings = ConsensusSettings(iou_threshold=0.1)
    result = consensus_form([a, b, c], settings=settings)
    merged = [s for s in result.shapes if len(s.members) == 3]
    assert len(merged) == 0  # c is too far off to pair
    result = consensus_form([a, b, [box(3, 0, label="cat")]])
    (three,) = [s for s in result.shapes if len(s.members) == 3]
    assert three.label == "cat" and three.votes == {"cat": 2, "dog": 1}
    assert three.box == pytest.approx((1.0, 0.0, 10.0, 10.0))  # median of 0, 1, 3
    (lone,) = [s for s in result.shapes if len(s.members) == 1]
    assert lone.support == pytest.approx(1 / 3) and not lone.kept  # 1 of 3 is under half


def test_class_tie_goes_to_the_earlier_annotator():
    result = consensus_form([[box(0, 0, label="dog")], [box(0, 0, label="cat")]])
    assert result.shapes[0].label == "dog"


def test_keypoints_averaged_per_joint_among_those_who_labeled_it():
    sigmas = [0.1, 0.1, 0.1]
    a = [skeleton([(0, 0, 2), (10, 10, 2), (0, 0, 0)])]
    b = [skeleton([(2, 0, 2), (10, 12, 1), (5, 5, 2)])]
    result = consensus_form([a, b], sigmas=sigmas)
    (merged,) = result.shapes
    assert merged.points[0] == pytest.approx((1, 0, 2))
    assert merged.points[1] == pytest.approx((10, 11, 2))  # one saw it, one occluded: 2 wins tie
    assert merged.points[2] == pytest.approx((5, 5, 2))  # half labeled it: kept
    assert 0 < merged.agreement < 1


def walk(track, frames, x0, dx, label="car"):
    return [
        box(x0 + dx * i, 0, 20, 20, label=label, frame=f, track=track) for i, f in enumerate(frames)
    ]


def test_tracks_matched_by_identity_over_time_and_renumbered():
    alice = walk(1, range(6), 0, 5) + walk(2, range(6), 300, -5)
    bob = walk(9, range(6), 301, -5) + walk(4, range(6), 1, 5)
    result = consensus_form([alice, bob])
    assert [(t.number, t.members) for t in result.tracks] == [(1, {0: 1, 1: 4}), (2, {0: 2, 1: 9})]
    first = [s for s in result.shapes if s.track == 1]
    assert [s.frame for s in first] == list(range(6))
    assert first[0].box == pytest.approx((0.5, 0, 20, 20))
    assert all(s.kept for s in result.shapes)
    scores = agreement(alice, bob)
    assert scores.tracks.idsw == 0 and scores.tracks.idf1 == 1.0


def test_a_track_only_one_of_three_drew_is_dropped():
    a = walk(1, range(4), 0, 5)
    b = walk(1, range(4), 0, 5)
    c = walk(1, range(4), 0, 5) + walk(2, range(4), 500, 0)
    result = consensus_form([a, b, c])
    assert [(t.support, t.kept) for t in result.tracks] == [
        (1.0, True),
        (pytest.approx(1 / 3), False),
    ]
    assert len(result.kept()) == 4


def test_agreement_sums_over_frames_and_per_class():
    truth = [box(0, 0, frame=0), box(0, 0, frame=1, label="dog")]
    predicted = [box(0, 0, frame=0), box(0, 0, frame=1, label="cat")]
    scores = agreement(truth, predicted)
    assert (scores.boxes.tp, scores.boxes.fp, scores.boxes.fn) == (1, 1, 1)
    assert scores.boxes.per_class["dog"]["f1"] == 0.0
    assert scores.keypoints is None and scores.tracks is None
    assert summary([scores])["box_f1"] == pytest.approx(0.5)
    assert [(i, j) for i, j, _ in pairwise([truth, predicted, truth])] == [(0, 1), (0, 2), (1, 2)]


def test_keypoint_agreement_per_joint():
    sigmas = [0.1, 0.1]
    truth = [skeleton([(0, 0, 2), (10, 10, 2)])]
    predicted = [skeleton([(0, 0, 2), (10, 10, 0)])]
    scores = agreement(truth, predicted, sigmas=sigmas)
    assert scores.keypoints.per_joint == [1.0, 0.0]
    assert scores.keypoints.mean_oks == pytest.approx(0.5)
