"""CVAT for video 1.1 XML: one annotations file per video, tracks with keyframes.

A track split over several segments (tasks) is written as one <track>. Boxes and skeletons of
one object are two CVAT tracks with the same group_id (our track number): CVAT types its
labels, so boxes use the class name and skeletons "<class>_skeleton", with the keypoints as
sub-labels. A keypoint's visibility maps
to CVAT's flags: 0 -> outside, 1 -> occluded, 2 -> visible. Every frame where a track is
present is written, computed from its keyframes (annotate.track_shapes, the rules CVAT has);
after each stretch an outside copy on the next extracted frame ends it, as CVAT would
otherwise carry it on. Frame numbers are source frame indices (see frame_filter in the meta).
Each shape has its occluded flag and its <attribute> values; the meta declares each class's
attribute schema as CVAT does (mutable, input_type, default_value, values).
"""

from __future__ import annotations

import zipfile
from bisect import bisect_left, bisect_right
from collections.abc import Iterator
from itertools import groupby
from typing import BinaryIO
from xml.sax.saxutils import escape, quoteattr

from django.db.models import QuerySet

from annotate.attributes import as_text, complete, default_value
from annotate.models import Project
from annotate.track_shapes import track_frames

from ..selectors import (
    AssetInfo,
    TrackKeyframe,
    frame_indices,
    iter_track_keyframes,
    label_classes,
    video_assets,
)
from .coco import export_keypoint_names
from .common import without_suffix, zip_entry


def _f(value: float) -> str:
    return f"{float(value):.2f}"


def _attribute_specs(schema: list[dict]) -> str:
    """A class's attribute schema as CVAT declares it in the meta."""
    parts = []
    for spec in schema:
        kind = spec["input"]
        if kind == "select":
            values = spec["values"]
        elif kind == "number":
            values = [as_text(spec[k]) for k in ("min", "max", "step")]
        elif kind == "checkbox":
            values = ["false"]
        else:
            values = []
        parts.append(
            f"<attribute><name>{escape(spec['name'])}</name>"
            f"<mutable>{'True' if spec.get('mutable') else 'False'}</mutable>"
            f"<input_type>{kind}</input_type>"
            f"<default_value>{escape(as_text(default_value(spec)))}</default_value>"
            f"<values>{escape(chr(10).join(values))}</values></attribute>"
        )
    return f"<attributes>{''.join(parts)}</attributes>"


def _attribute_values(row, schemas: dict[int, list]) -> str:
    """Every attribute of the shape's class (its default where the shape has none)."""
    values = complete(schemas.get(row.label_class_id) or [], row.attributes or {})
    return "".join(
        f"<attribute name={quoteattr(name)}>{escape(as_text(value))}</attribute>"
        for name, value in values.items()
    )


def _meta(project: Project, asset: AssetInfo, names: list[str]) -> str:
    size = asset.frame_count or 0
    labels = []
    for label_class in label_classes(project):
        specs = _attribute_specs(label_class.attributes or [])
        labels.append(
            f"<label><name>{escape(label_class.name)}</name><type>rectangle</type>{specs}</label>"
        )
        if names:
            skeleton = escape(f"{label_class.name}_skeleton")
            labels.append(f"<label><name>{skeleton}</name><type>skeleton</type>{specs}</label>")
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


def _box(schemas: dict[int, list]):
    def write(index: int, row, keyframe: bool, outside: bool = False) -> str:
        return _box_text(index, row, keyframe, outside, schemas)

    return write


def _box_text(index: int, row, keyframe: bool, outside: bool, schemas: dict) -> str:
    x, y, w, h = row.x, row.y, row.w, row.h
    return (
        f'<box frame="{index}" keyframe="{int(keyframe)}" outside="{int(outside)}" '
        f'occluded="{int(row.occluded)}" xtl="{_f(x)}" ytl="{_f(y)}" xbr="{_f(x + w)}" '
        f'ybr="{_f(y + h)}" z_order="0">{_attribute_values(row, schemas)}</box>\n'
    )


def _skeleton(names: list[str], schemas: dict[int, list]):
    def write(index: int, row, keyframe: bool, outside: bool = False) -> str:
        parts = [
            f'<skeleton frame="{index}" keyframe="{int(keyframe)}" outside="{int(outside)}" '
            f'occluded="{int(row.occluded)}" z_order="0">'
        ]
        for name in names:
            point = row.points.get(name) or [0, 0, 0]
            v = int(point[2]) if len(point) > 2 else 0
            parts.append(
                f'<points label={quoteattr(name)} keyframe="{int(keyframe)}" '
                f'outside="{int(v == 0 or outside)}" occluded="{int(v == 1)}" '
                f'points="{_f(point[0])},{_f(point[1])}"></points>'
            )
        parts.append(_attribute_values(row, schemas))
        parts.append("</skeleton>\n")
        return "".join(parts)

    return write


def _present(keyframes: list[TrackKeyframe], indices: list[int]) -> Iterator[tuple]:
    """(source frame index, shape, is keyframe) wherever one track is present, segment by
    segment, from its keyframes in the exported versions (annotate.track_shapes)."""
    for _, group in groupby(keyframes, key=lambda k: k.segment):
        group = list(group)
        first, last = group[0].segment
        lo, hi = bisect_left(indices, first), bisect_right(indices, last)
        segment = indices[lo:hi]
        position = {index: i for i, index in enumerate(segment)}
        pairs = [(position[k.frame_index], k.shape) for k in group if k.frame_index in position]
        for at, shape, keyframe in track_frames(pairs, len(segment)):
            yield segment[at], shape, keyframe


def _tracks(keyframes, write, label_of, indices: list[int], first_id: int):
    """<track> elements, one per track number; yields text pieces and finally the next id.

    Every frame where the track is present is written (as CVAT does), a keyframe where ours
    has one and wherever the track comes back; an outside shape on the next extracted frame
    after each stretch, so CVAT neither carries the track on nor joins stretches up."""
    following = dict(zip(indices, indices[1:], strict=False))
    track_id = first_id
    for number, group in groupby(keyframes, key=lambda k: k.track):
        group = list(group)
        label = quoteattr(label_of[group[0].shape.label_class_id])
        pieces = []
        previous = None  # (frame index, shape) last written
        for index, shape, keyframe in _present(group, indices):
            if previous is not None and following.get(previous[0]) != index:
                pieces.append(write(following[previous[0]], previous[1], True, outside=True))
                previous = None
            pieces.append(write(index, shape, keyframe or previous is None))
            previous = (index, shape)
        if previous is not None and previous[0] in following:
            pieces.append(write(following[previous[0]], previous[1], True, outside=True))
        if not pieces:
            continue
        # group_id keeps the object: its box track and skeleton track share our number.
        yield f'<track id="{track_id}" label={label} source="manual" group_id="{number}">\n'
        yield from pieces
        yield "</track>\n"
        track_id += 1
    yield track_id


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
    schemas = {c.id: c.attributes or [] for c in classes}
    skeleton_label = {c.id: f"{c.name}_skeleton" for c in classes}
    done = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for asset in video_assets(annotations):
            indices = frame_indices(asset.id)
            with archive.open(zip_entry(f"{without_suffix(asset.name)}.xml"), "w") as xml:
                xml.write(b'<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n')
                xml.write(b"<version>1.1</version>\n")
                xml.write(_meta(project, asset, names).encode())
                kinds = [(False, _box(schemas), box_label)]
                if names:
                    kinds.append((True, _skeleton(names, schemas), skeleton_label))
                next_id = 0
                for skeletons, write, label_of in kinds:
                    keyframes = iter_track_keyframes(
                        annotations, asset_id=asset.id, skeletons=skeletons, chunk_size=chunk_size
                    )
                    for piece in _tracks(keyframes, write, label_of, indices, next_id):
                        if isinstance(piece, int):
                            next_id = piece
                        else:
                            xml.write(piece.encode())
                xml.write(b"</annotations>\n")
            done += 1
            yield done
