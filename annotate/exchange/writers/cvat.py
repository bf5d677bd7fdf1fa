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

For tools that cannot read CVAT skeletons (datumaro 1.13's CVAT reader fails on the <points>
inside a skeleton track: they have no frame), skeletons="points" writes each keypoint of a
skeleton track as a points track of its own, labeled "<class>_<keypoint>", in the object's
group_id, outside where the point is not labeled, with the skeleton's attribute values; only
the skeleton's own occluded flag has no place there (counted in left_out). skeletons="omit"
writes boxes only and counts the skeleton tracks it left out.
"""

from __future__ import annotations

import zipfile
from bisect import bisect_left, bisect_right
from collections import Counter
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
from .common import ExportError, without_suffix, zip_entry


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


def label_names(
    project: Project, names: list[str], skeletons: str
) -> list[tuple[str, str, str, list[dict]]]:
    """The labels of the meta: (name, CVAT type, parent, attribute schema). Boxes use the class
    name; skeletons "<class>_skeleton" with the keypoints as sub-labels; as points, one label
    "<class>_<keypoint>" per keypoint. Two labels of one name would make the file ambiguous."""
    labels = []
    for label_class in label_classes(project):
        schema = label_class.attributes or []
        labels.append((label_class.name, "rectangle", "", schema))
        if not names or skeletons == "omit":
            continue
        if skeletons == "points":
            labels.extend(
                (point_label(label_class.name, name), "points", "", schema) for name in names
            )
            continue
        skeleton = f"{label_class.name}_skeleton"
        labels.append((skeleton, "skeleton", "", schema))
        labels.extend((name, "points", skeleton, []) for name in names)
    if skeletons == "points":
        seen: set[str] = set()
        for name, *_ in labels:
            if name in seen:
                raise ExportError(
                    f"Two labels would be called {name!r} in the points form of the skeletons; "
                    "rename a class or a keypoint, or export the skeletons as skeletons."
                )
            seen.add(name)
    return labels


def point_label(class_name: str, keypoint: str) -> str:
    return f"{class_name}_{keypoint}"


def _meta(project: Project, asset: AssetInfo, names: list[str], skeletons: str = "skeleton") -> str:
    size = asset.frame_count or 0
    labels = []
    for name, kind, parent, schema in label_names(project, names, skeletons):
        parent_tag = f"<parent>{escape(parent)}</parent>" if parent else ""
        labels.append(
            f"<label><name>{escape(name)}</name><type>{kind}</type>{parent_tag}"
            f"{_attribute_specs(schema)}</label>"
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


def _keypoint(name: str, schemas: dict[int, list]):
    """One keypoint of a skeleton track as a CVAT points shape (the points form): outside
    where the point is not labeled, occluded for 1, with the skeleton's attribute values."""

    def write(index: int, row, keyframe: bool, outside: bool = False) -> str:
        point = row.points.get(name) or [0, 0, 0]
        v = 0 if outside else int(point[2]) if len(point) > 2 else 0
        return (
            f'<points frame="{index}" keyframe="{int(keyframe)}" '
            f'outside="{int(v == 0)}" occluded="{int(v == 1)}" '
            f'points="{_f(point[0])},{_f(point[1])}" z_order="0">'
            f"{_attribute_values(row, schemas)}</points>\n"
        )

    def labeled(row) -> bool:
        point = row.points.get(name) or []
        return len(point) > 2 and int(point[2]) > 0 and not row.outside

    return write, labeled


def _tracks(
    keyframes, layers, indices: list[int], first_id: int, left_out: Counter, points_form: bool
):
    """<track> elements, one per track number and layer; yields text and finally the next id.

    A layer is (write, label of a class id, whether a shape counts as there): the box or the
    skeleton, or in the points form one layer per keypoint. Every frame where the track is
    present is written (as CVAT does), a keyframe where ours has one and wherever the track
    comes back; an outside shape on the next extracted frame after each stretch, so CVAT
    neither carries the track on nor joins stretches up."""
    following = dict(zip(indices, indices[1:], strict=False))
    track_id = first_id
    for number, group in groupby(keyframes, key=lambda k: k.track):
        group = list(group)
        present = list(_present(group, indices))
        written = track_id
        for write, label_of, there in layers:
            if not any(there(shape) for _, shape, _ in present):
                continue
            pieces = []
            previous = None  # (frame index, shape) last written
            for index, shape, keyframe in present:
                if previous is not None and following.get(previous[0]) != index:
                    pieces.append(write(following[previous[0]], previous[1], True, outside=True))
                    previous = None
                pieces.append(write(index, shape, keyframe or previous is None))
                previous = (index, shape)
            if previous is not None and previous[0] in following:
                pieces.append(write(following[previous[0]], previous[1], True, outside=True))
            label = quoteattr(label_of(group[0].shape.label_class_id))
            # group_id keeps the object: its box track and skeleton track share our number.
            yield f'<track id="{track_id}" label={label} source="manual" group_id="{number}">\n'
            yield from pieces
            yield "</track>\n"
            track_id += 1
        if points_form and present and written == track_id:
            left_out["skeleton_empty"] += 1  # the points form: no keypoint labeled anywhere
        elif points_form and any(s.occluded for _, s, _ in present):
            left_out["skeleton_occluded"] += 1  # the points form has no skeleton to carry it
    yield track_id


def _there(row) -> bool:
    return not row.outside


def _count_left_out(keyframes, left_out: Counter) -> None:
    for _, group in groupby(keyframes, key=lambda k: k.track):
        if any(not k.shape.outside for k in group):
            left_out["skeleton_track"] += 1


def write_cvat(
    out: BinaryIO,
    *,
    project: Project,
    annotations: QuerySet,
    chunk_size: int = 2000,
    skeletons: str = "skeleton",
    left_out: Counter | None = None,
) -> Iterator[int]:
    """skeletons: "skeleton" (CVAT skeleton tracks), "points" (one points track per keypoint,
    for tools that cannot read skeletons) or "omit"; what is left out is counted in left_out."""
    left_out = Counter() if left_out is None else left_out
    names = export_keypoint_names(project)
    classes = label_classes(project)
    box_label = {c.id: c.name for c in classes}.__getitem__
    schemas = {c.id: c.attributes or [] for c in classes}
    skeleton_label = {c.id: f"{c.name}_skeleton" for c in classes}.__getitem__
    layers_of = [(False, [(_box(schemas), box_label, _there)])]
    points_form = bool(names) and skeletons == "points"
    if names and skeletons == "skeleton":
        layers_of.append((True, [(_skeleton(names, schemas), skeleton_label, _there)]))
    elif names and skeletons == "points":
        points = []
        for name in names:
            write, labeled = _keypoint(name, schemas)
            label = {c.id: point_label(c.name, name) for c in classes}.__getitem__
            points.append((write, label, labeled))
        layers_of.append((True, points))
    done = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        for asset in video_assets(annotations):
            indices = frame_indices(asset.id)
            with archive.open(zip_entry(f"{without_suffix(asset.name)}.xml"), "w") as xml:
                xml.write(b'<?xml version="1.0" encoding="utf-8"?>\n<annotations>\n')
                xml.write(b"<version>1.1</version>\n")
                xml.write(_meta(project, asset, names, skeletons).encode())
                next_id = 0
                for skeleton_rows, layers in layers_of:
                    keyframes = iter_track_keyframes(
                        annotations,
                        asset_id=asset.id,
                        skeletons=skeleton_rows,
                        chunk_size=chunk_size,
                    )
                    for piece in _tracks(
                        keyframes, layers, indices, next_id, left_out, points_form and skeleton_rows
                    ):
                        if isinstance(piece, int):
                            next_id = piece
                        else:
                            xml.write(piece.encode())
                if names and skeletons == "omit":
                    _count_left_out(
                        iter_track_keyframes(
                            annotations, asset_id=asset.id, skeletons=True, chunk_size=chunk_size
                        ),
                        left_out,
                    )
                xml.write(b"</annotations>\n")
            done += 1
            yield done
