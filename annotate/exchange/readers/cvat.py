"""CVAT for video 1.1 XML (one file, or a zip of them as our export writes) into records.

Read as a stream (iterparse), one <track> at a time. Boxes and skeletons are read, an
"outside" one as the keyframe from which the object is gone. A track's group_id, when
present, is the object's track number (our export writes it so a box track and a skeleton
track stay one object), else its id. A skeleton point's flags give its visibility: outside 0,
occluded 1, else 2. Labels "<class>_skeleton" (our export) name the class.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import BinaryIO

from . import FileRejected, ImageRecord, ImageRef, RecordError, ShapeRecord
from .archive import open_zip

SKELETON_SUFFIX = "_skeleton"


def read_cvat(stream: BinaryIO) -> Iterator[ShapeRecord | ImageRecord | RecordError]:
    head = stream.read(4)
    stream.seek(0)
    if head.startswith(b"PK"):
        archive = open_zip(stream)
        names = sorted(n for n in archive.names if n.endswith(".xml"))
        if not names:
            raise FileRejected("The archive holds no CVAT .xml file.")
        for name in names:
            with archive.open(name) as member:
                yield from _read_one(name, member)
    else:
        yield from _read_one("annotations.xml", stream)


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
    try:
        # No DOCTYPE (checked above), so no entities to expand.
        for _, element in ET.iterparse(_Rejoined(head, stream), events=("end",)):  # noqa: S314
            if element.tag == "task" and video is None:
                video = (element.findtext("name") or "").strip() or None
            elif element.tag == "image":
                raise FileRejected(f"{name}: this is CVAT for images; export CVAT for video 1.1.")
            elif element.tag == "track":
                if video is None:
                    video = name.rsplit("/", 1)[-1].removesuffix(".xml")
                    yield ImageRecord(name, ImageRef(video, whole_video=True))
                yield from _track(name, video, element)
                element.clear()
            elif element.tag == "meta" and video is not None:
                yield ImageRecord(name, ImageRef(video, whole_video=True))
    except ET.ParseError as error:
        line, column = error.position
        raise FileRejected(f"{name}: malformed XML at line {line}, column {column}.") from None
    if video is None:
        raise FileRejected(f"{name}: no CVAT task or track found.")


def _flag(element, name: str) -> bool:
    return element.get(name, "0").strip() == "1"


def _track(name: str, video: str, track) -> Iterator[ShapeRecord | RecordError]:
    where = f"{name} track {track.get('id')}"
    label = track.get("label") or ""
    if label.endswith(SKELETON_SUFFIX):
        label = label[: -len(SKELETON_SUFFIX)]
    try:
        number = int(track.get("group_id") or track.get("id"))
    except (TypeError, ValueError):
        yield RecordError(where, "A track needs a whole-number id.")
        return
    for shape in track:
        record = f"{where} frame {shape.get('frame')}"
        if shape.tag not in ("box", "skeleton"):
            yield RecordError(record, f"Only boxes and skeletons are read, not {shape.tag}.")
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
            image=ImageRef(video, frame),
            label=label,
            box=box,
            named_points=points,
            track=number,
            keyframe=outside or _flag(shape, "keyframe") or shape.get("keyframe") is None,
            outside=outside,
        )
