"""CVAT for images 1.1 XML (annotations.xml, or a zip holding it) into records.

Read as a stream, one <image> at a time, found by its name. <box> and <skeleton> are read
with their occluded flag and <attribute> values; a skeleton point's flags give its
visibility (outside 0, occluded 1, else 2). A box and a skeleton with the same group_id are
one object. A points shape of one point is a PointRecord, which the import reads as a
keypoint of the points form ("<class>_<keypoint>", joined by group_id, see points_form) or
reports. Other shapes (polygons, polylines, points of several points, masks, cuboids,
ellipses) and tags are reported per record, by kind.
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from collections.abc import Iterator
from typing import BinaryIO

from . import FileRejected, ImageRecord, ImageRef, PointRecord, RecordError, ShapeRecord
from .cvat import (
    PROLOG_LIMIT,
    SKELETON_SUFFIX,
    UNSUPPORTED,
    _attributes,
    _flag,
    _Rejoined,
    one_point,
    refuse_doctype,
    xml_files_read,
)


def read_cvat_images(stream: BinaryIO) -> Iterator[ShapeRecord | ImageRecord | RecordError]:
    yield from xml_files_read(stream, _read_one)


def _read_one(name: str, stream) -> Iterator[ShapeRecord | ImageRecord | RecordError]:
    head = stream.read(PROLOG_LIMIT)
    refuse_doctype(name, head)
    seen = 0
    try:
        # No DOCTYPE (checked above), so no entities to expand.
        for _, element in ET.iterparse(_Rejoined(head, stream)):  # noqa: S314
            if element.tag == "track":
                raise FileRejected(f"{name}: this is CVAT for video; import it as 'cvat'.")
            if element.tag != "image":
                continue
            seen += 1
            yield from _image(name, element)
            element.clear()
    except ET.ParseError as error:
        line, column = error.position
        raise FileRejected(f"{name}: malformed XML at line {line}, column {column}.") from None
    if not seen:
        raise FileRejected(f"{name}: no CVAT <image> found.")


def _image(name: str, image) -> Iterator:
    file_name = (image.get("name") or "").strip()
    where = f"{name} image {image.get('id')}"
    if not file_name:
        yield RecordError(where, "An image needs a name.")
        return
    ref = ImageRef(file_name, other_names=(file_name.rsplit("/", 1)[-1],))
    yield ImageRecord(where, ref)
    grouped: dict[str, ShapeRecord] = {}
    records: list[ShapeRecord] = []
    points: list[PointRecord | RecordError] = []
    for n, shape in enumerate(image):
        record = f"{where} {shape.tag} #{n}"
        if shape.tag == "tag":
            yield RecordError(
                record,
                f"A CVAT tag (a label for the whole image, {shape.get('label')!r}) cannot be "
                "stored: this project keeps boxes and skeletons.",
                kind="tag",
            )
            continue
        if shape.tag == "points":
            points.append(_point(record, ref, shape))
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
        label = shape.get("label") or ""
        label = label.removesuffix(SKELETON_SUFFIX) if shape.tag == "skeleton" else label
        box = named = None
        try:
            if shape.tag == "box":
                left, top = float(shape.get("xtl")), float(shape.get("ytl"))
                box = (left, top, float(shape.get("xbr")) - left, float(shape.get("ybr")) - top)
            else:
                named = {}
                for point in shape.findall("points"):
                    x, y = (float(v) for v in point.get("points", "").split(",")[:2])
                    v = 0 if _flag(point, "outside") else 1 if _flag(point, "occluded") else 2
                    named[point.get("label")] = [x, y, v] if v else [0, 0, 0]
        except (TypeError, ValueError):
            yield RecordError(record, "Coordinates must be numbers.")
            continue
        losses = []
        rotation = shape.get("rotation")
        if rotation and float(rotation or 0):
            losses.append(("rotation", "Its rotation is not kept (upright boxes only)."))
        group = (shape.get("group_id") or "").strip()
        partner = grouped.get(group) if group and group != "0" else None
        if partner is not None and partner.label == label:
            # The other half of one object: a box with its skeleton.
            if box is not None and partner.box is None:
                partner.box = box
            elif named is not None and partner.named_points is None:
                partner.named_points = named
            else:
                partner = None
            if partner is not None:
                partner.occluded = partner.occluded or _flag(shape, "occluded")
                partner.attributes = {**_attributes(shape), **(partner.attributes or {})}
                partner.losses.extend(losses)
                continue
        made = ShapeRecord(
            record=record,
            image=ref,
            label=label,
            box=box,
            named_points=named,
            occluded=_flag(shape, "occluded"),
            attributes=_attributes(shape),
            losses=losses,
            group=f"group {group}" if group and group != "0" else None,
        )
        if group and group != "0":
            grouped.setdefault(group, made)
        records.append(made)
    yield from records  # once the image is read: a box may wait for its skeleton
    yield from points


def _point(record: str, ref: ImageRef, shape) -> PointRecord | RecordError:
    point = one_point(record, shape, shape.get("label") or "")
    if isinstance(point, RecordError):
        return point
    group = (shape.get("group_id") or "").strip()
    return PointRecord(
        record=record,
        image=ref,
        label=shape.get("label") or "",
        obj=f"group {group}" if group and group != "0" else "",
        x=point[0],
        y=point[1],
        outside=_flag(shape, "outside"),
        occluded=_flag(shape, "occluded"),
        attributes=_attributes(shape),
    )
