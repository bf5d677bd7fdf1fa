"""CVAT for images 1.1 XML: a zip with annotations.xml, one <image> per exported image asset
with its <box> and <skeleton> elements (a skeleton's <points> per keypoint: outside for not
labeled, occluded for 1), each with its occluded flag and the class's <attribute> values. A
box and the skeleton of one object share a group_id. Labels are typed as in the video format:
boxes use the class name, skeletons "<class>_skeleton" with the keypoints as sub-labels.
Video tasks are left out: CVAT for video 1.1 ("cvat") keeps their tracks.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import BinaryIO
from xml.sax.saxutils import quoteattr

from django.db.models import QuerySet

from annotate.models import Project

from ..selectors import DEFAULT_CHUNK_SIZE, AssetInfo, iter_export_tasks, label_classes
from ..shapes import pair_shapes
from .coco import export_keypoint_names
from .common import zip_entry
from .cvat import _attribute_values, _f, _meta


def _points(names: list[str], flat: list) -> str:
    parts = []
    for k, name in enumerate(names):
        x, y, v = flat[3 * k : 3 * k + 3]
        parts.append(
            f'<points label={quoteattr(name)} occluded="{int(int(v) == 1)}" '
            f'outside="{int(int(v) == 0)}" points="{_f(x)},{_f(y)}"></points>'
        )
    return "".join(parts)


def write_cvat_images(
    out: BinaryIO,
    *,
    project: Project,
    annotations: QuerySet,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[int]:
    names = export_keypoint_names(project)
    classes = label_classes(project)
    schemas = {c.id: c.attributes or [] for c in classes}
    label = {c.id: c.name for c in classes}
    done = 0
    with (
        zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive,
        archive.open(zip_entry("annotations.xml"), "w") as xml,
    ):
        xml.write(b'<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n')
        xml.write(b"<version>1.1</version>\n")
        task = AssetInfo(id=0, kind="image", name=project.name, width=0, height=0, frame_count=0)
        meta = _meta(project, task, names).replace(
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
            boxes, skeletons = exported.shapes_on(frame.id)
            objects = pair_shapes(boxes, skeletons if names else [], names)
            for group, (box, skeleton, flat) in enumerate(objects, 1):
                both = box is not None and skeleton is not None
                grouped = f' group_id="{group}"' if both else ""
                if box is not None:
                    xml.write(
                        f'<box label={quoteattr(label[box.label_class_id])} source="manual" '
                        f'occluded="{int(box.occluded)}" xtl="{_f(box.x)}" ytl="{_f(box.y)}" '
                        f'xbr="{_f(box.x + box.w)}" ybr="{_f(box.y + box.h)}" z_order="0"'
                        f"{grouped}>{_attribute_values(box, schemas)}</box>\n".encode()
                    )
                if skeleton is not None:
                    skeleton_label = f"{label[skeleton.label_class_id]}_skeleton"
                    xml.write(
                        f'<skeleton label={quoteattr(skeleton_label)} source="manual" '
                        f'occluded="{int(skeleton.occluded)}" z_order="0"{grouped}>'
                        f"{_points(names, flat)}{_attribute_values(skeleton, schemas)}"
                        "</skeleton>\n".encode()
                    )
            xml.write(b"</image>\n")
            yield done
        xml.write(b"</annotations>\n")
