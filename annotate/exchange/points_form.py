"""The points form of skeletons read back: CVAT <points> shapes of one point labeled
"<class>_<keypoint>" (of a class and a keypoint of the project's schema), as our CVAT
exports write them with skeletons="points" for tools that cannot read skeletons.

The readers know the format only, so they hand such shapes over as PointRecords; here, with
the schema's names, the points of one object become one skeleton record, which the import
then places and validates like every other record:

- CVAT for images: the points of one group_id (of one class) are one skeleton, joined with
  the box of that group and class when there is one; points without a group are one
  skeleton per class and image. A keypoint given twice in one object is refused.
- CVAT for video: the points tracks of one group_id (else each track alone) are one
  skeleton track, frame by frame. A point's outside flag means not labeled there; where
  every point of the object is outside, the object is gone (an outside keyframe). A point
  missing on a frame where others are given takes its value as CVAT does: interpolated
  between its shapes, carried on after its last one, not labeled before its first.

A point's occluded flag is visibility 1; the skeleton's attributes are the points'. Anything
else in a <points> shape stays refused, per record, with the reason.
"""

from __future__ import annotations

from bisect import bisect_left
from collections import defaultdict
from collections.abc import Iterable

from .readers import PointRecord, RecordError, ShapeRecord


def points_form_join(records: list, *, class_names: Iterable[str], keypoint_names: list[str]):
    """`records` with each PointRecord read as a keypoint of a skeleton, or refused."""
    labels, ambiguous = _labels(list(class_names), keypoint_names)
    out: list = []
    on_images: dict[tuple, dict[str, PointRecord]] = defaultdict(dict)
    on_tracks: dict[tuple, dict[str, dict[int, PointRecord]]] = defaultdict(
        lambda: defaultdict(dict)
    )
    for record in records:
        if not isinstance(record, PointRecord):
            out.append(record)
            continue
        pair = labels.get(record.label)
        if pair is None:
            out.append(RecordError(record.record, _foreign(record.label, ambiguous), kind="points"))
            continue
        class_name, keypoint = pair
        if record.image.frame_index is None:
            seen = on_images[(record.image, record.obj, class_name)]
        else:
            video = (record.image.asset_name, record.image.other_names)
            seen = on_tracks[(video, record.obj, class_name)][keypoint]
        at = keypoint if record.image.frame_index is None else record.image.frame_index
        if at in seen:
            out.append(
                RecordError(
                    record.record,
                    f"Keypoint {keypoint!r} is given twice for one {class_name} "
                    f"({record.obj or 'points without a group'}); not imported.",
                    kind="keypoint_duplicate",
                )
            )
            continue
        seen[at] = record
    out.extend(_image_skeletons(on_images, out))
    for (_, obj, class_name), points in on_tracks.items():
        out.extend(_track_skeletons(obj, class_name, points))
    return out


def _labels(class_names: list[str], keypoint_names: list[str]):
    labels: dict[str, tuple[str, str] | None] = {}
    ambiguous = set()
    for class_name in class_names:
        for keypoint in keypoint_names:
            label = f"{class_name}_{keypoint}"
            if label in labels:
                ambiguous.add(label)
            labels[label] = (class_name, keypoint)
    for label in ambiguous:
        labels.pop(label)
    return labels, ambiguous


def _foreign(label: str, ambiguous: set[str]) -> str:
    if label in ambiguous:
        return (
            f"A CVAT points shape labeled {label!r} cannot be read: that name is "
            "'<class>_<keypoint>' for two pairs of the project's classes and keypoints; "
            "not imported."
        )
    return (
        f"A CVAT points shape labeled {label!r} cannot be stored: this project keeps boxes "
        "and skeletons, and reads a points shape only as a keypoint of a skeleton, labeled "
        "'<class>_<keypoint>' with a class and a keypoint of the project's schema; not "
        "imported."
    )


def _value(point: PointRecord) -> list[float]:
    if point.outside:
        return [0, 0, 0]
    return [point.x, point.y, 1 if point.occluded else 2]


def _attributes(points: Iterable[PointRecord]) -> dict:
    merged: dict = {}
    for point in points:
        for name, value in (point.attributes or {}).items():
            merged.setdefault(name, value)
    return merged


def _image_skeletons(on_images: dict, records: list) -> list[ShapeRecord]:
    """One skeleton per image, group and class; into the box of that group when there is."""
    boxes: dict[tuple, ShapeRecord] = {}
    for record in records:
        if isinstance(record, ShapeRecord) and record.group and record.named_points is None:
            boxes.setdefault((record.image, record.group, record.label), record)
    made = []
    for (image, obj, class_name), points in on_images.items():
        named = {keypoint: _value(point) for keypoint, point in points.items()}
        attributes = _attributes(points.values())
        box = boxes.pop((image, obj, class_name), None) if obj else None
        if box is not None:
            box.named_points = named
            box.attributes = {**attributes, **(box.attributes or {})}
            continue
        first = next(iter(points.values()))
        made.append(
            ShapeRecord(
                record=f"{first.record} and the other {class_name} points of {obj or 'the image'}",
                image=image,
                label=class_name,
                named_points=named,
                attributes=attributes,
            )
        )
    return made


def _at(frames: list[int], given: dict[int, PointRecord], frame: int) -> list[float]:
    """A keypoint's value on a frame where its track has no shape, as CVAT reads a track."""
    after = bisect_left(frames, frame)
    if after == 0:
        return [0, 0, 0]
    before = given[frames[after - 1]]
    if before.outside:
        return [0, 0, 0]
    following = given[frames[after]] if after < len(frames) else None
    if following is None or following.outside:
        return _value(before)
    t = (frame - frames[after - 1]) / (frames[after] - frames[after - 1])
    x = before.x + t * (following.x - before.x)
    y = before.y + t * (following.y - before.y)
    return [x, y, 1 if before.occluded else 2]


def _track_skeletons(obj: str, class_name: str, points: dict) -> list[ShapeRecord]:
    """The points tracks of one object as one skeleton track: a shape on every frame one of
    them has, an outside one where all are outside (once, where the object goes)."""
    frames_of = {keypoint: sorted(given) for keypoint, given in points.items()}
    made = []
    present = False
    for frame in sorted({f for given in points.values() for f in given}):
        here = [given[frame] for given in points.values() if frame in given]
        named = {
            keypoint: _value(given[frame])
            if frame in given
            else _at(frames_of[keypoint], given, frame)
            for keypoint, given in points.items()
        }
        outside = not any(value[2] for value in named.values())
        if outside and not present:
            continue  # not there yet, or already gone
        present = not outside
        first = here[0]
        made.append(
            ShapeRecord(
                record=f"{first.record} and the other {class_name} points of {obj}",
                image=first.image,
                label=class_name,
                named_points=named,
                track=obj,
                keyframe=outside or any(p.keyframe for p in here),
                outside=outside,
                attributes=_attributes(here),
            )
        )
    return made
