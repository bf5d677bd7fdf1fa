"""The optical-flow core of propagation (annotate.propagation.flow), on synthetic moving
textures whose true motion is known: no database, no Django."""

from __future__ import annotations

import math

import numpy as np
import pytest

from annotate.propagation.flow import FlowSettings, FlowTracker, ShapeStart, track_shapes
from tests.annotate.moving_textures import Sprite, render


def corner_error(box, truth) -> float:
    """Mean distance of the top-left and bottom-right corners, in pixels."""
    (x, y, w, h), (tx, ty, tw, th) = box, truth
    return (math.dist((x, y), (tx, ty)) + math.dist((x + w, y + h), (tx + tw, ty + th))) / 2


def test_a_box_on_a_moving_texture_is_followed_to_within_a_pixel_over_thirty_frames():
    sprite = Sprite(x=60, y=50, width=60, height=80, velocity=(2.3, 1.1))
    frames = render([sprite], 31)

    steps = list(track_shapes(frames, [ShapeStart(key="a", box=sprite.box(0))]))

    assert len(steps) == 30
    assert corner_error(steps[9][0].box, sprite.box(10)) < 0.5
    assert corner_error(steps[29][0].box, sprite.box(30)) < 1.0
    assert min(s[0].confidence for s in steps) > 0.8


def test_a_growing_box_grows_with_its_object():
    sprite = Sprite(x=100, y=70, width=50, height=60, velocity=(0.8, 0.4), growth=1.01)
    frames = render([sprite], 31)

    last = list(track_shapes(frames, [ShapeStart(key=1, box=sprite.box(0))]))[-1][0]

    x, y, w, h = last.box
    assert w == pytest.approx(sprite.box(30)[2], rel=0.03)  # 35% larger than at the start
    assert corner_error(last.box, sprite.box(30)) < 1.5


def test_keypoints_are_followed_as_points_with_a_confidence_each():
    sprite = Sprite(x=40, y=40, width=70, height=90, velocity=(1.7, -0.6))
    frames = render([sprite], 21)
    layout = {"head": (0.5, 0.15), "left_hip": (0.3, 0.7), "right_hip": (0.7, 0.7)}
    start = {name: sprite.point(0, u, v) for name, (u, v) in layout.items()}

    steps = list(track_shapes(frames, [ShapeStart(key=3, points=start)]))

    last = steps[-1][0]
    assert last.box is None and last.box_confidence is None
    for name, (u, v) in layout.items():
        assert math.dist(last.points[name], sprite.point(20, u, v)) < 1.0
        assert last.point_confidence[name] > 0.8
    assert set(last.point_confidence) == set(layout)


def test_shapes_move_together_in_one_flow_call_per_direction_and_frame(monkeypatch):
    import cv2

    sprites = [
        Sprite(x=20 + 90 * i, y=60, width=50, height=70, velocity=(1.0, 0.5 * i), seed=i + 1)
        for i in range(3)
    ]
    frames = render(sprites, 6)
    calls = []
    real = cv2.calcOpticalFlowPyrLK

    def counting(*args, **kwargs):
        calls.append(len(args[2]))
        return real(*args, **kwargs)

    monkeypatch.setattr(cv2, "calcOpticalFlowPyrLK", counting)
    shapes = [
        ShapeStart(key=i, box=s.box(0), points={"p": s.point(0, 0.5, 0.5)})
        for i, s in enumerate(sprites)
    ]

    steps = list(track_shapes(frames, shapes))

    assert len(calls) == 2 * 5  # forward and backward, per frame pair
    assert calls[0] > 3 * FlowSettings().min_features  # every shape's points in one call
    for i, sprite in enumerate(sprites):
        assert corner_error(steps[-1][i].box, sprite.box(5)) < 0.5


def test_confidence_drops_when_the_texture_in_the_box_is_replaced():
    sprite = Sprite(x=80, y=60, width=60, height=60, velocity=(1.5, 0.0))
    frames = render([sprite], 16, replaced={0: 10})
    settings = FlowSettings()

    steps = list(track_shapes(frames, [ShapeStart(key=0, box=sprite.box(0))], settings))

    before = [s[0].confidence for s in steps[:8]]  # frames 1-8
    at_swap = steps[9][0].confidence  # frame 10, the first with the other texture
    assert min(before) > 0.8
    assert at_swap < 0.3


def test_a_keypoint_covered_by_something_else_loses_its_confidence():
    walker = Sprite(x=40, y=80, width=60, height=80, velocity=(2.0, 0.0), seed=1)
    # Covers the walker's left hip on frames 6 to 9, moving the other way.
    passer = Sprite(x=100, y=120, width=30, height=50, velocity=(-6.0, 0.0), seed=2)
    frames = render([walker, passer], 14)
    start = {"head": walker.point(0, 0.5, 0.1), "left_hip": walker.point(0, 0.25, 0.75)}

    tracker = FlowTracker(frames[0], [ShapeStart(key="w", points=start)])
    confidence = [tracker.step(f)[0].point_confidence for f in frames[1:]]

    assert min(c["head"] for c in confidence) > 0.8  # never covered
    assert min(c["left_hip"] for c in confidence) < 0.3


def test_an_occluded_keypoint_moves_with_its_box_not_by_its_own_flow():
    sprite = Sprite(x=60, y=60, width=60, height=80, velocity=(1.2, 0.8))
    frames = render([sprite], 11)
    start = ShapeStart(
        key=0,
        box=sprite.box(0),
        points={"elbow": sprite.point(0, 0.9, 0.5)},
        occluded=frozenset({"elbow"}),
    )

    last = list(track_shapes(frames, [start]))[-1][0]

    assert math.dist(last.points["elbow"], sprite.point(10, 0.9, 0.5)) < 1.0
    assert last.point_confidence["elbow"] == pytest.approx(last.confidence)


def test_a_dropped_shape_is_no_longer_followed():
    sprites = [Sprite(x=30, y=40, width=50, height=50, velocity=(1, 0), seed=s) for s in (1, 2)]
    sprites[1].x = 200
    frames = render(sprites, 5)
    tracker = FlowTracker(
        frames[0], [ShapeStart(key=k, box=s.box(0)) for k, s in enumerate(sprites)]
    )

    assert [s.key for s in tracker.step(frames[1])] == [0, 1]
    tracker.drop(0)
    assert [s.key for s in tracker.step(frames[2])] == [1]
    assert tracker.following == [1]


def test_a_box_without_texture_is_lost_not_invented():
    flat = [np.full((120, 160), 100, np.uint8) for _ in range(4)]

    steps = list(track_shapes(flat, [ShapeStart(key=0, box=(40.0, 30.0, 40.0, 40.0))]))

    assert all(s[0].confidence == 0.0 for s in steps)
    assert steps[-1][0].lost


def test_two_shapes_with_one_key_are_refused():
    frame = np.zeros((50, 50), np.uint8)
    with pytest.raises(ValueError):
        FlowTracker(frame, [ShapeStart(key=1, box=(1, 1, 5, 5)), ShapeStart(key=1)])
