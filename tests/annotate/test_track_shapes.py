"""annotate.track_shapes: where a track is on each frame of its segment, from its keyframes
(the rules static/annotate/interpolate.js follows in the page)."""

from __future__ import annotations

from dataclasses import dataclass, field

from annotate.track_shapes import shape_at, track_frames


@dataclass
class B:
    x: float
    y: float = 0.0
    w: float = 10.0
    h: float = 10.0
    outside: bool = False
    keyframe: bool = True


@dataclass
class K:
    points: dict = field(default_factory=dict)
    outside: bool = False


def xs(keyframes, count):
    return {at: round(shape.x, 3) for at, shape, _ in track_frames(keyframes, count)}


def test_a_track_lasts_from_its_first_keyframe_to_the_end_of_the_segment():
    assert xs([(2, B(20))], 5) == {2: 20, 3: 20, 4: 20}


def test_frames_between_keyframes_are_interpolated_and_only_keyframes_say_so():
    frames = list(track_frames([(0, B(0)), (4, B(40))], 5))
    assert [(at, shape.x, keyframe) for at, shape, keyframe in frames] == [
        (0, 0, True),
        (1, 10, False),
        (2, 20, False),
        (3, 30, False),
        (4, 40, True),
    ]
    assert frames[1][1].keyframe is False


def test_an_outside_keyframe_removes_the_track_until_its_next_keyframe():
    keyframes = [(0, B(0)), (2, B(99, outside=True)), (4, B(40))]
    assert xs(keyframes, 6) == {0: 0, 1: 0, 4: 40, 5: 40}


def test_the_frames_before_an_outside_keyframe_hold_the_last_shape_seen():
    # Its geometry moves nothing: where it was last seen is the previous keyframe.
    assert xs([(0, B(0)), (3, B(300, outside=True))], 5) == {0: 0, 1: 0, 2: 0}


def test_shape_at_agrees_with_track_frames_on_every_frame():
    keyframes = [(1, B(10)), (3, B(30)), (5, B(0, outside=True)), (7, B(70))]
    every = {at: shape.x for at, shape, _ in track_frames(keyframes, 10)}
    for position in range(10):
        found = shape_at(keyframes, position)
        assert (found[0].x if found else None) == every.get(position)


def test_keypoints_move_where_both_keyframes_labeled_them():
    a = K({"nose": [0, 0, 2], "hip": [5, 5, 1], "ear": [0, 0, 0]})
    b = K({"nose": [10, 20, 2], "hip": [0, 0, 0], "ear": [7, 7, 2]})
    (half, keyframe) = shape_at([(0, a), (2, b)], 1)
    assert keyframe is False
    assert half.points == {"nose": [5, 10, 2], "hip": [5, 5, 1], "ear": [0, 0, 0]}
