"""CVAT for video 1.1 XML (one file, or a zip of them as our export writes) into records.

Read as a stream (iterparse), one <track> at a time. Boxes and skeletons are read, an
"outside" one as the keyframe from which the object is gone, with their occluded flag and
<attribute> values. Points shapes of one point are read as PointRecords: the import tells
whether they are the points form of a skeleton ("<class>_<keypoint>", see points_form) and
reports the others. Other shapes (polygons, polylines, points of several points, masks,
cuboids, ellipses, tags) are reported per record, by kind. A track's group_id, when present,
names the object (our export writes it so a box track and a skeleton track stay one object),
else its id; the import maps either to a track number of the video. A skeleton point's
flags give its visibility: outside 0, occluded 1, else 2. Labels "<class>_skeleton" (our
export) name the class. The video is the task's <source> file, else its <name>.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import BinaryIO

from . import FileRejected, ImageRecord, ImageRef, PointRecord, RecordError, ShapeRecord
from .archive import open_zip

SKELETON_SUFFIX = "_skeleton"


def read_cvat(stream: BinaryIO) -> Iterator[ShapeRecord | ImageRecord | RecordError]:
    yield from xml_files_read(stream, _read_one)


def xml_files_read(stream: BinaryIO, read_one) -> Iterator:
    """`read_one(name, stream)` over each .xml file of a zip, or over the one XML file sent
    (CVAT for video and CVAT for images alike)."""
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(b"PK"):
        archive = open_zip(stream)
        names = sorted(n for n in archive.names if n.endswith(".xml"))
        if not names:
            raise FileRejected("The archive holds no CVAT .xml file.")
        for name in names:
            with archive.open(name) as member:
                yield from read_one(name, member)
    else:
        yield from read_one("annotations.xml", stream)


PROLOG_LIMIT = 64 * 1024


def refuse_doctype(name: str, head: bytes) -> None:
    """CVAT files have no DOCTYPE; refusing one up front rules out entity expansion attacks
    (entities can only be declared there), so the standard parser is safe on the rest."""
    text = head.decode("utf-8", errors="replace")
    position = 0
    while True:
        while position < len(text) and text[position] in " \t\r\n\ufeff":
            position += 1
        if text.startswith("<?", position):
            closing = "?>"
        elif text.startswith("<!--", position):
            closing = "-->"
        elif text.startswith("<!", position):
            raise FileRejected(f"{name}: a DOCTYPE is not allowed in a CVAT file.")
        else:
            return
        end = text.find(closing, position)
        if end < 0:
            raise FileRejected(f"{name}: the XML prolog is too long or unterminated.")
        position = end + len(closing)


class _Rejoined:
    """The prolog already read, then the rest of the stream: the parser sees the whole file
    without the stream having to seek back (an archive entry is read once, forward)."""

    def __init__(self, head: bytes, rest) -> None:
        self.head, self.rest = head, rest

    def read(self, size: int = -1) -> bytes:
        if self.head:
            chunk, self.head = self.head, b""
            return chunk
        return self.rest.read(size)


def _read_one(name: str, stream) -> Iterator[ShapeRecord | ImageRecord | RecordError]:
    head = stream.read(PROLOG_LIMIT)
    refuse_doctype(name, head)
    video = None
    task_name = source = None
    depth = 0
    try:
        # No DOCTYPE (checked above), so no entities to expand.
        events = ET.iterparse(_Rejoined(head, stream), events=("start", "end"))  # noqa: S314
        for event, element in events:
            if event == "start":
                depth += 1
                continue
            depth -= 1
            if element.tag == "name" and task_name is None and depth == 3:
                task_name = (element.text or "").strip() or None  # <meta><task><name>
            elif element.tag == "source" and source is None and depth in (2, 3):
                source = (element.text or "").strip() or None
            elif element.tag == "meta" and video is None:
                video = _video_ref(name, source, task_name)
                yield ImageRecord(name, video)
            elif element.tag == "image":
                raise FileRejected(f"{name}: this is CVAT for images; export CVAT for video 1.1.")
            elif element.tag == "track":
                if video is None:
                    video = _video_ref(name, source, task_name)
                    yield ImageRecord(name, video)
                yield from _track(name, video, element)
                element.clear()
            elif element.tag == "tag" and depth == 1:
                yield RecordError(
                    f"{name} tag frame {element.get('frame')}",
                    f"A CVAT tag (a label for the whole frame, {element.get('label')!r}) "
                    "cannot be stored: this project keeps boxes and skeletons.",
                    kind="tag",
                )
    except ET.ParseError as error:
        line, column = error.position
        raise FileRejected(f"{name}: malformed XML at line {line}, column {column}.") from None
    if video is None:
        raise FileRejected(f"{name}: no CVAT task or track found.")


def _video_ref(name: str, source: str | None, task_name: str | None) -> ImageRef:
    """The video the file annotates: CVAT's <source> is the uploaded file's name, <name> the
    task's, which may differ; both are tried, then the XML file's own name."""
    fallback = name.rsplit("/", 1)[-1].removesuffix(".xml")
    names = [n for n in dict.fromkeys([source, task_name, fallback]) if n]
    return ImageRef(names[0], whole_video=True, other_names=tuple(names[1:]))


UNSUPPORTED = ("polygon", "polyline", "points", "mask", "cuboid", "ellipse")


def _attributes(shape) -> dict:
    return {a.get("name"): (a.text or "") for a in shape.findall("attribute") if a.get("name")}


def _flag(element, name: str) -> bool:
    return element.get(name, "0").strip() == "1"


def one_point(record: str, shape, label: str) -> tuple[float, float] | RecordError:
    """The point of a CVAT <points> shape holding one, else why it cannot be read."""
    text = (shape.get("points") or "").strip()
    pairs = [p for p in text.split(";") if p.strip()]
    if len(pairs) != 1:
        return RecordError(
            record,
            f"A CVAT points shape of {len(pairs)} points (label {label!r}) "
            "cannot be stored: this project keeps boxes and skeletons, and reads a points "
            "shape only as one keypoint of a skeleton, labeled '<class>_<keypoint>'; not "
            "imported.",
            kind="points",
        )
    try:
        x, y = (float(v) for v in pairs[0].split(","))
    except ValueError:
        return RecordError(record, "Coordinates must be numbers.")
    return x, y


def _track(name: str, video: ImageRef, track) -> Iterator:
    where = f"{name} track {track.get('id')}"
    label = track.get("label") or ""
    if label.endswith(SKELETON_SUFFIX):
        label = label[: -len(SKELETON_SUFFIX)]
    group, track_id = (track.get("group_id") or "").strip(), (track.get("id") or "").strip()
    if group and group != "0":  # CVAT writes group_id 0 for "no group"
        number = f"group {group}"
    elif track_id:
        number = f"track {track_id}"
    else:
        yield RecordError(where, "A track needs an id.")
        return
    for shape in track:
        record = f"{where} frame {shape.get('frame')}"
        if shape.tag == "points":
            yield _point(record, video, shape, track.get("label") or "", number)
            continue
        if shape.tag not in ("box", "skeleton"):
            kind = shape.tag if shape.tag in UNSUPPORTED else "shape"
            yield RecordError(
                record,
                f"A CVAT {shape.tag} cannot be stored: this project keeps boxes and skeletons; "
                "not imported.",
                kind=kind,
            )
            continue
        outside = _flag(shape, "outside")
        try:
            frame = int(shape.get("frame"))
            if shape.tag == "box":
                left, top = float(shape.get("xtl")), float(shape.get("ytl"))
                box = (left, top, float(shape.get("xbr")) - left, float(shape.get("ybr")) - top)
                points = None
            else:
                box, points = None, {}
                for point in shape.findall("points"):
                    x, y = (float(v) for v in point.get("points", "").split(",")[:2])
                    v = 0 if _flag(point, "outside") else 1 if _flag(point, "occluded") else 2
                    points[point.get("label")] = [x, y, v] if v else [0, 0, 0]
        except (TypeError, ValueError):
            yield RecordError(record, "Frame and coordinates must be numbers.")
            continue
        yield ShapeRecord(
            record=record,
            image=ImageRef(video.asset_name, frame, other_names=video.other_names),
            label=label,
            box=box,
            named_points=points,
            track=number,
            keyframe=outside or _flag(shape, "keyframe") or shape.get("keyframe") is None,
            outside=outside,
            occluded=_flag(shape, "occluded"),
            attributes=_attributes(shape),
        )


def _point(record: str, video: ImageRef, shape, label: str, number: str):
    point = one_point(record, shape, label)
    if isinstance(point, RecordError):
        return point
    try:
        frame = int(shape.get("frame"))
    except (TypeError, ValueError):
        return RecordError(record, "Frame and coordinates must be numbers.")
    return PointRecord(
        record=record,
        image=ImageRef(video.asset_name, frame, other_names=video.other_names),
        label=label,
        obj=number,
        x=point[0],
        y=point[1],
        outside=_flag(shape, "outside"),
        occluded=_flag(shape, "occluded"),
        keyframe=_flag(shape, "keyframe") or shape.get("keyframe") is None,
        attributes=_attributes(shape),
    )
