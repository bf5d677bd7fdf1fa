"""Label Studio JSON export: a list of tasks, one per exported task, each with one annotation
whose results are Label Studio regions, coordinates in percent of the image.

- A box is a `rectanglelabels` region (from_name "label", to_name "image").
- A skeleton is one `keypointlabels` region per labeled keypoint (from_name "keypoint"), the
  label being the keypoint's name; the points of one object share `parentID`: the id of the
  box they belong to, else the id of the object's first point. Label Studio has no
  visibility, so an occluded point (v = 1) carries `meta.text: ["occluded"]`.
- A video segment is a task with data.video; each track is a `videorectangle` region
  (from_name "box", to_name "video") whose `sequence` lists its keyframes (frame counts from 1,
  as Label Studio does) with `enabled: false` on the last frame of each stretch where the
  object is present. Label Studio video has no keypoints; video skeletons are left out (use
  COCO or CVAT for them).
Images are named by their export name in data.image, so the import finds them again.
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO

from django.db.models import QuerySet

from annotate.models import Project

from ..selectors import DEFAULT_CHUNK_SIZE, ExportTask, iter_export_tasks, label_classes
from ..shapes import pair_shapes
from .coco import export_keypoint_names
from .common import ExportError


def _pct(value: float, size: int) -> float:
    return round(float(value) * 100.0 / size, 6)


def _image_results(task: ExportTask, names: list[str], class_name: dict) -> list[dict]:
    frame = task.frames[0]
    width, height = frame.width, frame.height
    if not width or not height:
        raise ExportError(f"{task.asset.name} has no known size; Label Studio needs it.")
    size = {"original_width": width, "original_height": height, "image_rotation": 0}
    boxes, skeletons = task.shapes_on(frame.id)
    results: list[dict] = []
    for n, (box, skeleton, flat) in enumerate(
        pair_shapes(boxes, skeletons if names else [], names)
    ):
        parent = None
        if box is not None:
            parent = f"b{n}"
            value = {
                "x": _pct(box.x, width),
                "y": _pct(box.y, height),
                "width": _pct(box.w, width),
                "height": _pct(box.h, height),
                "rotation": 0,
                "rectanglelabels": [class_name[box.label_class_id]],
            }
            results.append(
                {"id": parent, "type": "rectanglelabels", "from_name": "label", "to_name": "image"}
                | size
                | {"value": value}
            )
        if skeleton is None:
            continue
        for k, name in enumerate(names):
            x, y, v = flat[3 * k : 3 * k + 3]
            if not v:
                continue
            region = f"k{n}_{k}"
            parent = parent or region
            point = {
                "id": region,
                "type": "keypointlabels",
                "from_name": "keypoint",
                "to_name": "image",
                "parentID": parent,
                **size,
                "value": {
                    "x": _pct(x, width),
                    "y": _pct(y, height),
                    "width": 0.5,
                    "keypointlabels": [name],
                },
            }
            if int(v) == 1:
                point["meta"] = {"text": ["occluded"]}
            results.append(point)
    return results


def _video_results(task: ExportTask, class_name: dict) -> list[dict]:
    present: dict[int, list[tuple[int, dict, bool]]] = {}  # track -> (position, item, keyframe)
    labels: dict[int, int] = {}
    for position, frame in enumerate(task.frames):
        boxes, _ = task.shapes_on(frame.id)
        for box in boxes:
            if box.track is None or box.outside or not frame.width or not frame.height:
                continue
            labels[box.track] = box.label_class_id
            item = {
                "frame": frame.index + 1,
                "enabled": True,
                "rotation": 0,
                "x": _pct(box.x, frame.width),
                "y": _pct(box.y, frame.height),
                "width": _pct(box.w, frame.width),
                "height": _pct(box.h, frame.height),
            }
            present.setdefault(box.track, []).append((position, item, box.keyframe))
    results = []
    for track, rows in sorted(present.items()):
        sequence = []
        for i, (position, item, keyframe) in enumerate(rows):
            first = i == 0 or rows[i - 1][0] != position - 1
            last = i + 1 == len(rows) or rows[i + 1][0] != position + 1
            if not (keyframe or first or last):
                continue  # Label Studio interpolates it again
            if last and position + 1 < len(task.frames):
                item = item | {"enabled": False}  # gone after this frame
            sequence.append(item)
        results.append(
            {
                "id": f"t{track}",
                "type": "videorectangle",
                "from_name": "box",
                "to_name": "video",
                "meta": {"track_id": track},
                "value": {
                    "framesCount": task.asset.frame_count or 0,
                    "sequence": sequence,
                    "labels": [class_name[labels[track]]],
                },
            }
        )
    return results


def write_labelstudio(
    out: BinaryIO,
    *,
    project: Project,
    annotations: QuerySet,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[int]:
    names = export_keypoint_names(project)
    class_name = {c.id: c.name for c in label_classes(project)}
    out.write(b"[\n")
    for tasks_done, task in enumerate(iter_export_tasks(annotations, chunk_size=chunk_size), 1):
        if task.asset.kind == "video":
            data = {"video": task.asset.name}
            results = _video_results(task, class_name)
        else:
            data = {"image": task.asset.name}
            results = _image_results(task, names, class_name)
        record = {
            "id": task.task_id,
            "data": data,
            "annotations": [{"id": task.annotation_id, "result": results}],
        }
        text = json.dumps(record, separators=(",", ":"), ensure_ascii=False)
        out.write((b"" if tasks_done == 1 else b",\n") + text.encode())
        yield tasks_done
    out.write(b"\n]\n")
