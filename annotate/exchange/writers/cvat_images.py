"""CVAT for images 1.1 XML: a zip with annotations.xml, one <image> per exported image asset
with its <box> and <skeleton> elements (a skeleton's <points> per keypoint: outside for not
labeled, occluded for 1), each with its occluded flag and the class's <attribute> values. A
box and the skeleton of one object share a group_id. Labels are typed as in the video format:
boxes use the class name, skeletons "<class>_skeleton" with the keypoints as sub-labels.
Video tasks are left out: CVAT for video 1.1 ("cvat") keeps their tracks.

For tools that cannot read skeletons, skeletons="points" writes each labeled keypoint as a
<points> shape labeled "<class>_<keypoint>" (occluded for 1; a point not labeled is not
written), all of one object in one group_id with its box, each with the skeleton's attribute
values; skeletons="omit" writes the boxes only. What has no place is counted in left_out.
With include_images the archive carries the images at images/<name>, where CVAT and
datumaro look for them.
"""

from __future__ import annotations

import shutil
import zipfile
from collections import Counter
from collections.abc import Iterator
from typing import BinaryIO
from xml.sax.saxutils import quoteattr

from django.db.models import QuerySet

from annotate.models import Project

from ..selectors import (
    DEFAULT_CHUNK_SIZE,
    AssetInfo,
    image_files,
    iter_export_tasks,
    label_classes,
)
from ..shapes import labeled_count, pair_shapes
from .coco import export_keypoint_names
from .common import zip_entry
from .cvat import _attribute_values, _f, _meta, point_label


def _points(names: list[str], flat: list) -> str:
    parts = []
    for k, name in enumerate(names):
        x, y, v = flat[3 * k : 3 * k + 3]
        parts.append(
            f'<points label={quoteattr(name)} occluded="{int(int(v) == 1)}" '
            f'outside="{int(int(v) == 0)}" points="{_f(x)},{_f(y)}"></points>'
        )
    return "".join(parts)


def _loose_points(label: str, names: list[str], flat: list, group: str, attributes: str) -> str:
    """The points form of one skeleton: a <points> shape per labeled keypoint."""
    parts = []
    for k, name in enumerate(names):
        x, y, v = flat[3 * k : 3 * k + 3]
        if int(v) == 0:
            continue
        parts.append(
            f'<points label={quoteattr(point_label(label, name))} source="manual" '
            f'occluded="{int(int(v) == 1)}" points="{_f(x)},{_f(y)}" z_order="0"{group}>'
            f"{attributes}</points>\n"
        )
    return "".join(parts)


def _image_entry(name: str) -> zipfile.ZipInfo:
    entry = zip_entry(f"images/{name}")
    entry.compress_type = zipfile.ZIP_STORED  # already compressed
    return entry


def write_cvat_images(
    out: BinaryIO,
    *,
    project: Project,
    annotations: QuerySet,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    skeletons: str = "skeleton",
    include_images: bool = False,
    left_out: Counter | None = None,
) -> Iterator[int]:
    left_out = Counter() if left_out is None else left_out
    names = export_keypoint_names(project)
    classes = label_classes(project)
    schemas = {c.id: c.attributes or [] for c in classes}
    label = {c.id: c.name for c in classes}
    done = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        # The images go in after annotations.xml: one entry of a zip is written at a time.
        wanted: list[tuple[int, str]] = []
        with archive.open(zip_entry("annotations.xml"), "w") as xml:
            xml.write(b'<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n')
            xml.write(b"<version>1.1</version>\n")
            task = AssetInfo(
                id=0, kind="image", name=project.name, width=0, height=0, frame_count=0
            )
            meta = _meta(project, task, names, skeletons).replace(
                "<mode>interpolation</mode>", "<mode>annotation</mode>"
            )
            xml.write(meta.encode())
            image_id = 0
            for exported in iter_export_tasks(annotations, chunk_size=chunk_size):
                done += 1
                if exported.asset.kind == "video":
                    yield done
                    continue
                frame = exported.frames[0]
                xml.write(
                    f'<image id="{image_id}" name={quoteattr(exported.asset.name)} '
                    f'width="{frame.width or 0}" height="{frame.height or 0}">\n'.encode()
                )
                image_id += 1
                if include_images:
                    wanted.append((exported.asset.id, exported.asset.name))
                xml.write(_objects(exported, frame, names, label, schemas, skeletons, left_out))
                xml.write(b"</image>\n")
                yield done
            xml.write(b"</annotations>\n")
        for asset_id, name in wanted:
            stored = image_files(asset_id=asset_id, frame_ids=[None])[None]
            with stored.open("rb") as source, archive.open(_image_entry(name), "w") as target:
                shutil.copyfileobj(source, target, 1024 * 1024)


def _objects(exported, frame, names, label, schemas, skeletons: str, left_out) -> bytes:
    boxes, skeleton_rows = exported.shapes_on(frame.id)
    if skeletons == "omit" and names:
        left_out["skeleton"] += len(skeleton_rows)
    with_skeletons = names and skeletons != "omit"
    objects = pair_shapes(boxes, skeleton_rows if with_skeletons else [], names)
    text = []
    for group, (box, skeleton, flat) in enumerate(objects, 1):
        if skeletons == "points" and skeleton is not None:
            if not labeled_count(flat):
                left_out["skeleton_empty"] += 1  # no labeled point: nothing to write
                skeleton = None
            elif skeleton.occluded:
                left_out["skeleton_occluded"] += 1
        both = box is not None and skeleton is not None
        grouped = f' group_id="{group}"' if both else ""
        if box is not None:
            text.append(
                f'<box label={quoteattr(label[box.label_class_id])} source="manual" '
                f'occluded="{int(box.occluded)}" xtl="{_f(box.x)}" ytl="{_f(box.y)}" '
                f'xbr="{_f(box.x + box.w)}" ybr="{_f(box.y + box.h)}" z_order="0"'
                f"{grouped}>{_attribute_values(box, schemas)}</box>\n"
            )
        if skeleton is None:
            continue
        attributes = _attribute_values(skeleton, schemas)
        if skeletons == "points":
            # The points of one skeleton stay one object: a group even without a box.
            name = label[skeleton.label_class_id]
            text.append(_loose_points(name, names, flat, f' group_id="{group}"', attributes))
            continue
        text.append(
            f"<skeleton label={quoteattr(label[skeleton.label_class_id] + '_skeleton')} "
            f'source="manual" occluded="{int(skeleton.occluded)}" z_order="0"{grouped}>'
            f"{_points(names, flat)}{attributes}</skeleton>\n"
        )
    return "".join(text).encode()
