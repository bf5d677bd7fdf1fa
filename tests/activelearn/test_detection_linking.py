"""Detections on video frames joined into tracks (activelearn.inference.linking), on synthetic
detections: people who cross keep their identities while they move smoothly, a gap of a few
frames is bridged, a newcomer gets a new track, and a skeleton follows its box."""

from __future__ import annotations

import numpy as np

from activelearn.inference.linking import link_boxes, link_frames, skeletons_to_boxes
from annotate.quality.track_metrics import track_scores


def walkers(rng, *, people: int, frames: int, jitter: float = 1.0):
    """Rows (frame, person, x, y, w, h) of people walking across a 640x360 field in both
    directions along a few lanes, so that many of them cross."""
    rows = []
    for person in range(people):
        direction = 1 if person % 2 else -1
        x0 = 20.0 if direction > 0 else 580.0
        lane = 100 + 40 * (person % 3)
        speed = rng.uniform(4, 8)
        for f in range(frames):
            x = x0 + direction * speed * f + rng.normal(0, jitter)
            y = lane + rng.normal(0, jitter) + 5 * np.sin(f / 7 + person)
            rows.append((f, person + 1, x, y, 30.0, 70.0))
    return np.array(rows)


def test_people_who_cross_keep_their_identities_when_they_move_smoothly():
    rng = np.random.default_rng(3)
    truth = walkers(rng, people=6, frames=80)
    shuffled = truth[rng.permutation(len(truth))]
    numbers = link_boxes(shuffled[:, 0], shuffled[:, 2:6])
    linked = shuffled.copy()
    linked[:, 1] = numbers
    scores = track_scores(truth, linked)
    assert scores.idsw == 0
    assert scores.idf1 == 1.0
    assert len(set(numbers.tolist())) == 6


def test_a_detector_that_misses_a_person_for_a_few_frames_keeps_the_track():
    truth = np.array([(f, 1, 10.0 + 5 * f, 50.0, 30.0, 60.0) for f in range(20)])
    seen = truth[(truth[:, 0] < 8) | (truth[:, 0] >= 11)]  # frames 8, 9 and 10 missed
    assert set(link_boxes(seen[:, 0], seen[:, 2:6], max_age=5).tolist()) == {1}
    assert set(link_boxes(seen[:, 0], seen[:, 2:6], max_age=2).tolist()) == {1, 2}


def test_someone_who_walks_in_later_starts_a_new_track():
    first = [(f, 10.0 + 4 * f, 50.0) for f in range(10)]
    newcomer = [(f, 400.0 - 4 * f, 200.0) for f in range(5, 10)]
    rows = np.array([(f, x, y, 30.0, 60.0) for f, x, y in first + newcomer])
    numbers = link_boxes(rows[:, 0], rows[:, 1:5])
    assert numbers[:10].tolist() == [1] * 10
    assert numbers[10:].tolist() == [2] * 5


def test_boxes_of_two_classes_never_join_one_track():
    rows = np.array([(f, 10.0, 10.0, 40.0, 40.0) for f in range(4)])
    numbers = link_boxes(rows[:, 0], rows[:, 1:5], labels=np.array([0, 0, 1, 1]))
    assert numbers.tolist() == [1, 1, 2, 2]


def test_a_skeleton_follows_the_box_holding_most_of_its_points():
    boxes = np.array([[0, 0, 50, 100], [40, 0, 50, 100]])
    mostly_right = np.array([[45, 10], [60, 20], [70, 30], [80, 40]])  # 1 of 4 in the left box
    outside = np.array([[300, 300], [310, 310]])
    assert skeletons_to_boxes(boxes, [mostly_right, outside]).tolist() == [1, -1]


def box(x, label="person", **extra):
    return {"x": x, "y": 20.0, "w": 30.0, "h": 60.0, "score": 0.9, "label": label, **extra}


def skeleton(x, **extra):
    points = {"left_shoulder": [x + 5, 30.0, 0.8], "right_hip": [x + 25, 60.0, 0.7]}
    return {"label": "person", "points": points, "score": 0.8, **extra}


def test_boxes_and_skeletons_of_one_person_are_one_track_across_frames():
    units = [
        {"index": 12 + 2 * i, "boxes": [box(10 + 6 * i), box(300 - 6 * i)],
         "keypoints": [skeleton(300 - 6 * i), skeleton(10 + 6 * i)]}
        for i in range(5)
    ]  # fmt: skip
    linked = link_frames(list(reversed(units)))[::-1]
    assert [frame.boxes for frame in linked] == [[1, 2]] * 5
    assert [frame.keypoints for frame in linked] == [[2, 1]] * 5


def test_a_skeleton_without_a_box_is_linked_by_its_points():
    units = [{"index": i, "boxes": [], "keypoints": [skeleton(10 + 3 * i)]} for i in range(4)]
    assert [frame.keypoints for frame in link_frames(units)] == [[1]] * 4


def test_track_ids_a_tracker_gave_are_kept_and_skeletons_follow_their_box():
    units = [
        {"index": i, "boxes": [box(10 + 3 * i, track=7), box(200, track=9)],
         "keypoints": [skeleton(200)]}
        for i in range(3)
    ]  # fmt: skip
    linked = link_frames(units)
    assert [frame.boxes for frame in linked] == [[7, 9]] * 3
    assert [frame.keypoints for frame in linked] == [[9]] * 3
