"""A track's shape on every frame of a segment, from its keyframes: the one place on the
server that says where a tracked object is (exports use it; static/annotate/interpolate.js
`shapeAtFrame` is its twin in the labeling page, with the same rules).

The rules, as CVAT has them:
- before a track's first keyframe it is absent;
- from a keyframe on it is where that keyframe says, moving linearly towards the next
  keyframe; before an outside keyframe, and after its last keyframe, it stays put (to the end
  of the segment);
- an `outside` keyframe means the object is gone from that frame until the next keyframe;
  its geometry (where the object was last seen) moves nothing.
Keypoints move where both keyframes labeled them; a point labeled on one side only keeps the
earlier keyframe's value (it neither appears from nowhere nor jumps). The occluded flag and
attribute values are the earlier keyframe's (held, never interpolated): CVAT's mutable
attributes, keyframe by keyframe.

Only keyframes count: a stored row with keyframe false is a copy of the interpolation (older
drafts and CVAT files store every frame) and is ignored here. Pure: no Django, no database.
"""

from __future__ import annotations

import dataclasses
from collections.abc import Callable, Iterator, Sequence
from typing import Protocol, TypeVar


class Keyframe(Protocol):
    """A stored shape of a track: a box (x, y, w, h) or a skeleton (points), a dataclass."""

    outside: bool


S = TypeVar("S", bound=Keyframe)


def lerp(a: float, b: float, t: float) -> float:
    return a + (b - a) * t


def interpolate_points(a: dict, b: dict, t: float) -> dict:
    out = {}
    for name in dict.fromkeys([*a, *b]):
        pa, pb = a.get(name), b.get(name)
        if pa and pb and pa[2] > 0 and pb[2] > 0:
            out[name] = [lerp(pa[0], pb[0], t), lerp(pa[1], pb[1], t), pa[2]]
        else:
            out[name] = list(pa) if pa else [0, 0, 0]
    return out


def between(a: S, b: S, t: float) -> S:
    """The shape a fraction t of the way from keyframe a to keyframe b (a copy of a, moved);
    never outside and never a keyframe itself."""
    if hasattr(a, "points"):
        moved = {"points": interpolate_points(a.points, b.points, t)}
    else:
        moved = {k: lerp(getattr(a, k), getattr(b, k), t) for k in ("x", "y", "w", "h")}
    fields = {f.name for f in dataclasses.fields(a)}
    if "keyframe" in fields:
        moved["keyframe"] = False
    return dataclasses.replace(a, outside=False, **moved)


def shape_at(
    keyframes: Sequence[tuple[int, S]],
    position: int,
    *,
    move: Callable[[S, S, float], S] = between,
) -> tuple[S, bool] | None:
    """(shape, is_keyframe) of the track at `position`, or None where it is absent.
    `keyframes`: (position in the segment, shape) sorted by position, keyframes only."""
    lo, hi = 0, len(keyframes) - 1
    if hi < 0 or position < keyframes[0][0]:
        return None
    while lo < hi:  # the last keyframe at or before `position`
        mid = (lo + hi + 1) // 2
        if keyframes[mid][0] <= position:
            lo = mid
        else:
            hi = mid - 1
    at, shape = keyframes[lo]
    if shape.outside:
        return None
    if at == position:
        return shape, True
    if lo + 1 == len(keyframes) or keyframes[lo + 1][1].outside:
        return move(shape, shape, 0.0), False
    after, following = keyframes[lo + 1]
    return move(shape, following, (position - at) / (after - at)), False


def track_frames(
    keyframes: Sequence[tuple[int, S]],
    count: int,
    *,
    move: Callable[[S, S, float], S] = between,
) -> Iterator[tuple[int, S, bool]]:
    """(position, shape, is_keyframe) for every position in [0, count) where the track is
    present, in order: one pass over the keyframes."""
    ordered = sorted(keyframes, key=lambda pair: pair[0])
    for i, (at, shape) in enumerate(ordered):
        if shape.outside or at >= count:
            continue
        end = ordered[i + 1][0] if i + 1 < len(ordered) else count
        following = ordered[i + 1][1] if i + 1 < len(ordered) else None
        if following is not None and following.outside:
            following = None  # held where it was last seen until it goes
        if at >= 0:
            yield at, shape, True
        for position in range(max(at + 1, 0), min(end, count)):
            if following is None:
                yield position, move(shape, shape, 0.0), False
            else:
                yield position, move(shape, following, (position - at) / (end - at)), False
