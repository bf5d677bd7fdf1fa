"""COCO JSON: instances (boxes) and person keypoints, written incrementally.

Video frames are images of their own with video_id, video_name and frame_index, and every
annotation of a tracked object carries a track_id (PoseTrack-style, with vid_id, frame_id and
nframes on the image), so keypoint tracks keep their 3-state visibility. One annotation is one
object: a person's box and skeleton are written together, with an empty segmentation.
Each annotation has an "attributes" object as CVAT writes it
(occluded, track_id and the class's attribute values). Images go to the output while
annotations are spooled to a temporary file and appended after, so neither list is ever held
in memory.
"""

from __future__ import annotations

import json
import shutil
import tempfile
from collections.abc import Iterator
from typing import BinaryIO

from django.db.models import QuerySet

from annotate.attributes import complete
from annotate.models import Project

from ..selectors import DEFAULT_CHUNK_SIZE, iter_export_tasks, label_classes
from ..shapes import keypoints_box, labeled_count, pair_shapes


def _dump(obj: object) -> bytes:
    return json.dumps(obj, separators=(",", ":"), ensure_ascii=False).encode()


def frame_file_name(video_name: str, index: int) -> str:
    return f"{video_name}/{index:06d}.jpg"


def coco_categories(project: Project, keypoint_names: list[str]) -> list[dict]:
    position = {name: i + 1 for i, name in enumerate(keypoint_names)}
    skeleton = [
        [position[a], position[b]]
        for a, b in (project.skeleton or {}).get("edges", [])
        if a in position and b in position
    ]
    categories = []
    for i, label_class in enumerate(label_classes(project)):
        category = {"id": i + 1, "name": label_class.name, "supercategory": ""}
        if keypoint_names:
            category["keypoints"] = list(keypoint_names)
            category["skeleton"] = skeleton
        categories.append(category)
    return categories


def export_keypoint_names(project: Project) -> list[str]:
    return project.keypoint_names if project.keypoints_enabled else []


def write_coco(
    out: BinaryIO,
    *,
    project: Project,
    annotations: QuerySet,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[int]:
    names = export_keypoint_names(project)
    category_of = {c.id: i + 1 for i, c in enumerate(label_classes(project))}
    schemas = {c.id: c.attributes or [] for c in label_classes(project)}
    # No project name or date in "info": the same labels give the same bytes.
    info = {"description": "Annotations exported from annotate", "version": "1.0"}
    out.write(b'{"info":' + _dump(info) + b',"licenses":[],"categories":')
    out.write(_dump(coco_categories(project, names)))
    out.write(b',"images":[\n')

    image_id = annotation_id = tasks_done = 0
    videos: list[dict] = []
    video_of_asset: dict[int, int] = {}
    with tempfile.TemporaryFile() as spool:
        for task in iter_export_tasks(annotations, chunk_size=chunk_size):
            asset = task.asset
            if asset.kind == "video" and asset.id not in video_of_asset:
                video_of_asset[asset.id] = len(videos) + 1
                videos.append({"id": len(videos) + 1, "name": asset.name})
            for frame in task.frames:
                image_id += 1
                if frame.id is None:
                    image = {
                        "id": image_id,
                        "file_name": asset.name,
                        "width": frame.width,
                        "height": frame.height,
                    }
                else:
                    image = {
                        "id": image_id,
                        "file_name": frame_file_name(asset.name, frame.index),
                        "width": frame.width,
                        "height": frame.height,
                        "video_id": video_of_asset[asset.id],
                        "video_name": asset.name,
                        "frame_index": frame.index,
                        # PoseTrack's names for the same two numbers.
                        "vid_id": video_of_asset[asset.id],
                        "frame_id": frame.index,
                        "nframes": asset.frame_count or 0,
                        "is_labeled": True,
                    }
                out.write((b"" if image_id == 1 else b",\n") + _dump(image))
                boxes, skeletons = task.shapes_on(frame.id)
                if not names:
                    skeletons = []
                for box, skeleton, flat in pair_shapes(boxes, skeletons, names):
                    shape = box if box is not None else skeleton
                    if box is not None:
                        bbox = [float(box.x), float(box.y), float(box.w), float(box.h)]
                    elif labeled_count(flat):
                        bbox = list(keypoints_box(flat))
                    else:
                        continue  # a skeleton with no labeled point says nothing
                    annotation_id += 1
                    record = {
                        "id": annotation_id,
                        "image_id": image_id,
                        "category_id": category_of[shape.label_class_id],
                        "bbox": bbox,
                        "area": bbox[2] * bbox[3],
                        # Boxes only: readers such as pycocotools and datumaro expect the key.
                        "segmentation": [],
                        "iscrowd": 0,
                    }
                    if names:
                        record["keypoints"] = flat or [0] * (3 * len(names))
                        record["num_keypoints"] = labeled_count(flat)
                        # An extra field (readers such as pycocotools ignore it): who set each
                        # point, in skeleton order: "human", "model", "propagation", or null.
                        record["keypoint_sources"] = [
                            skeleton.source_of(name) if skeleton is not None else None
                            for name in names
                        ]
                    if shape.track is not None:
                        record["track_id"] = shape.track
                    # As CVAT writes it: the occluded flag with the class's attributes; one
                    # record is one object, so its box's and skeleton's together.
                    parts = [p for p in (skeleton, box) if p is not None]
                    given = {k: v for p in parts for k, v in (p.attributes or {}).items()}
                    values = complete(schemas.get(shape.label_class_id) or [], given)
                    occluded = any(p.occluded for p in parts)
                    record["attributes"] = {"occluded": occluded, **values}
                    if shape.track is not None:
                        record["attributes"]["track_id"] = shape.track
                    spool.write((b"" if annotation_id == 1 else b",\n") + _dump(record))
            tasks_done += 1
            yield tasks_done
        out.write(b'\n],"annotations":[\n')
        spool.seek(0)
        shutil.copyfileobj(spool, out, 1024 * 1024)
    out.write(b'\n],"videos":' + _dump(videos) + b"}\n")
