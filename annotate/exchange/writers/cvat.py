"""CVAT for video 1.1 XML: one annotations file per video, tracks with keyframes.

A track split over several segments (tasks) is written as one <track>. Boxes and skeletons of
one object are two CVAT tracks with the same group_id (our track number): CVAT types its
labels, so boxes use the class name and skeletons "<class>_skeleton", with the keypoints as
sub-labels. A keypoint's visibility maps
to CVAT's flags: 0 -> outside, 1 -> occluded, 2 -> visible. After a track's last shape an
outside copy on the next extracted frame ends it, as CVAT would otherwise carry it on.
Frame numbers are source frame indices (see frame_filter in the meta).
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import BinaryIO
from xml.sax.saxutils import escape, quoteattr

from django.db.models import QuerySet

from annotate.models import Project

from ..selectors import (
    AssetInfo,
    iter_track_boxes,
    iter_track_keypoints,
    label_classes,
    video_assets,
)
from .coco import export_keypoint_names
from .common import without_suffix, zip_entry


def _f(value: float) -> str:
    return f"{float(value):.2f}"


def _meta(project: Project, asset: AssetInfo, names: list[str]) -> str:
    size = asset.frame_count or 0
    labels = []
    for label_class in label_classes(project):
        labels.append(
            f"<label><name>{escape(label_class.name)}</name><type>rectangle</type>"
            "<attributes></attributes></label>"
        )
        if names:
            skeleton = escape(f"{label_class.name}_skeleton")
            labels.append(
                f"<label><name>{skeleton}</name><type>skeleton</type><attributes></attributes>"
                "</label>"
            )
            labels.extend(
                f"<label><name>{escape(name)}</name><type>points</type>"
                f"<parent>{skeleton}</parent><attributes></attributes></label>"
                for name in names
            )
    return (
        "<meta><task>"
        f"<name>{escape(asset.name)}</name><size>{size}</size><mode>interpolation</mode>"
        f"<start_frame>0</start_frame><stop_frame>{max(size - 1, 0)}</stop_frame>"
        f"<frame_filter>step={project.frame_stride}</frame_filter>"
        f"<labels>{''.join(labels)}</labels>"
        f"<original_size><width>{asset.width or 0}</width>"
        f"<height>{asset.height or 0}</height></original_size>"
        "</task></meta>\n"
    )


def _box(index: int, x, y, w, h, keyframe: bool, outside: bool = False) -> str:
    return (
        f'<box frame="{index}" keyframe="{int(keyframe)}" outside="{int(outside)}" '
        f'occluded="0" xtl="{_f(x)}" ytl="{_f(y)}" xbr="{_f(x + w)}" ybr="{_f(y + h)}" '
        'z_order="0"></box>\n'
    )


def _skeleton(index: int, points: dict, names: list[str], keyframe: bool, outside=False) -> str:
    parts = [
        f'<skeleton frame="{index}" keyframe="{int(keyframe)}" outside="{int(outside)}" '
        'occluded="0" z_order="0">'
    ]
    for name in names:
        point = points.get(name) or [0, 0, 0]
        v = int(point[2]) if len(point) > 2 else 0
        parts.append(
            f'<points label={quoteattr(name)} keyframe="{int(keyframe)}" '
            f'outside="{int(v == 0 or outside)}" occluded="{int(v == 1)}" '
            f'points="{_f(point[0])},{_f(point[1])}"></points>'
        )
    parts.append("</skeleton>\n")
    return "".join(parts)


def _tracks(rows, make_shape, label_of, asset: AssetInfo, stride: int, first_id: int):
    """Group ordered rows into <track> elements; yields text pieces and finally the next id."""
    track_id = first_id
    current = None
    last = None
    for row in rows:
        number, class_id = row[0], row[1]
        if number != current:
            if current is not None:
                yield _close(make_shape, last, asset, stride)
            current = number
            label = quoteattr(label_of[class_id])
            # group_id keeps the object: its box track and skeleton track share our number.
            yield f'<track id="{track_id}" label={label} source="manual" group_id="{number}">\n'
            track_id += 1
        last = row
        yield make_shape(row)
    if current is not None:
        yield _close(make_shape, last, asset, stride)
    yield track_id


def _close(make_shape, last, asset: AssetInfo, stride: int) -> str:
    following = last[2] + stride
    end = ""
    if asset.frame_count is None or following < asset.frame_count:
        end = make_shape((*last[:2], following, *last[3:]), outside=True)
    return end + "</track>\n"


def write_cvat(
    out: BinaryIO,
    *,
    project: Project,
    annotations: QuerySet,
    chunk_size: int = 2000,
) -> Iterator[int]:
    names = export_keypoint_names(project)
    classes = label_classes(project)
    box_label = {c.id: c.name for c in classes}
    skeleton_label = {c.id: f"{c.name}_skeleton" for c in classes}
    done = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for asset in video_assets(annotations):
            with archive.open(zip_entry(f"{without_suffix(asset.name)}.xml"), "w") as xml:
                xml.write(b'<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n')
                xml.write(b"<version>1.1</version>\n")
                xml.write(_meta(project, asset, names).encode())
                pieces = _tracks(
                    iter_track_boxes(annotations, asset_id=asset.id, chunk_size=chunk_size),
                    lambda r, outside=False: _box(r[2], *r[3:7], r[7], outside),
                    box_label,
                    asset,
                    project.frame_stride,
                    0,
                )
                next_id = 0
                for piece in pieces:
                    if isinstance(piece, int):
                        next_id = piece
                    else:
                        xml.write(piece.encode())
                if names:
                    for piece in _tracks(
                        iter_track_keypoints(annotations, asset_id=asset.id, chunk_size=chunk_size),
                        lambda r, outside=False: _skeleton(r[2], r[3], names, r[4], outside),
                        skeleton_label,
                        asset,
                        project.frame_stride,
                        next_id,
                    ):
                        if not isinstance(piece, int):
                            xml.write(piece.encode())
                xml.write(b"</annotations>\n")
            done += 1
            yield done
