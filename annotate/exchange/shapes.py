"""Pure helpers shared by the writers and readers: keypoints as COCO triples, the box of a
skeleton, and pairing a skeleton with the box of the same object on one image.

The formats put a person's box and keypoints in one record, while the database keeps Box and
KeypointInstance rows apart; pairing joins them (same track, or for untracked shapes the
smallest box of the same class that holds every labeled point), and an import splits them again.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Protocol


class _Box(Protocol):
    label_class_id: int
    track: int | None
    x: float
    y: float
    w: float
    h: float


class _Keypoints(Protocol):
    label_class_id: int
    track: int | None
    points: dict


def keypoint_triples(points: dict, names: Sequence[str]) -> list[float | int]:
    """{name: [x, y, v]} -> [x1, y1, v1, x2, ...] in skeleton order. An unlabeled point
    (v = 0, or missing) is 0, 0, 0 as COCO defines."""
    flat: list[float | int] = []
    for name in names:
        point = points.get(name)
        if not point or len(point) < 3 or int(point[2]) == 0:
            flat.extend((0, 0, 0))
        else:
            flat.extend((float(point[0]), float(point[1]), int(point[2])))
    return flat


def points_from_triples(flat: Sequence[float], names: Sequence[str]) -> dict:
    """The inverse of keypoint_triples: [x, y, v, ...] -> {name: [x, y, v]}."""
    points = {}
    for i, name in enumerate(names):
        x, y, v = flat[3 * i : 3 * i + 3]
        v = int(v)
        points[name] = [0, 0, 0] if v == 0 else [float(x), float(y), v]
    return points


def labeled_count(flat: Sequence[float]) -> int:
    return sum(1 for v in flat[2::3] if int(v) > 0)


def keypoints_box(flat: Sequence[float]) -> tuple[float, float, float, float] | None:
    """The tight box around the labeled points, at least one pixel wide and high (a box of
    zero size is not a box); None when no point is labeled."""
    xs = [flat[i] for i in range(0, len(flat), 3) if int(flat[i + 2]) > 0]
    ys = [flat[i + 1] for i in range(0, len(flat), 3) if int(flat[i + 2]) > 0]
    if not xs:
        return None
    x, y = min(xs), min(ys)
    return float(x), float(y), max(max(xs) - x, 1.0), max(max(ys) - y, 1.0)


# A point this close outside a box still counts as inside: normalised formats (YOLO) round
# coordinates, and a skeleton's own box must still hold it after a round trip.
HOLD_TOLERANCE = 0.01


def _holds(box: _Box, flat: Sequence[float]) -> bool:
    t = HOLD_TOLERANCE
    for i in range(0, len(flat), 3):
        if int(flat[i + 2]) > 0:
            px, py = flat[i], flat[i + 1]
            inside_x = box.x - t <= px <= box.x + box.w + t
            if not (inside_x and box.y - t <= py <= box.y + box.h + t):
                return False
    return True


def box_sort_key(box: _Box) -> tuple:
    return (box.label_class_id, box.track or 0, box.x, box.y, box.w, box.h)


def pair_shapes(
    boxes: Sequence[_Box], skeletons: Sequence[_Keypoints], names: Sequence[str]
) -> list[tuple[_Box | None, _Keypoints | None, list]]:
    """The objects on one image: (box or None, skeleton or None, skeleton triples), in an order
    that depends on the shapes' content only, so that an export does not depend on row ids."""
    free = sorted(boxes, key=box_sort_key)
    taken: set[int] = set()
    objects: list[tuple[_Box | None, _Keypoints | None, list]] = []
    tripled = sorted(
        ((k, keypoint_triples(k.points, names)) for k in skeletons),
        key=lambda pair: (pair[0].label_class_id, pair[0].track or 0, pair[1]),
    )
    for skeleton, flat in tripled:
        match = None
        for i, box in enumerate(free):
            if i in taken or box.label_class_id != skeleton.label_class_id:
                continue
            if box.track != skeleton.track:
                continue
            if skeleton.track is not None or _holds(box, flat):
                if match is None or box.w * box.h < free[match].w * free[match].h:
                    match = i
                if skeleton.track is not None:
                    break
        if match is not None:
            taken.add(match)
            objects.append((free[match], skeleton, flat))
        else:
            objects.append((None, skeleton, flat))
    objects.extend((box, None, []) for i, box in enumerate(free) if i not in taken)

    def order(obj: tuple) -> tuple:
        box, skeleton, flat = obj
        shape = box if box is not None else skeleton
        corner = (box.x, box.y, box.w, box.h) if box is not None else keypoints_box(flat) or ()
        return (shape.label_class_id, shape.track or 0, corner, flat)

    objects.sort(key=order)
    return objects


def number_text(value: float) -> str:
    """A number as short, exact text: 12 for 12.0, else Python's round-trip repr."""
    value = float(value)
    if value.is_integer():
        return str(int(value))
    return repr(value)
