"""YOLO labels (Ultralytics): one text file per image under labels/, mirroring images/, and a
data.yaml. Detection lines are `class cx cy w h`, normalised to the image size; when the
project has keypoints every line is a pose line, followed by `x y v` per keypoint (normalised,
v = 0 not labeled, 1 occluded, 2 visible). An image without objects gets an empty file.

data.yaml has no `path`, so Ultralytics resolves train/val (images/) against the folder that
holds data.yaml: unzip and train. With include_images the archive carries the images too, at
images/<the label's path>.<the stored file's suffix> (video frames as extracted)."""

from __future__ import annotations

import shutil
import zipfile
from collections.abc import Iterator
from pathlib import PurePosixPath
from typing import BinaryIO

import yaml
from django.db.models import QuerySet

from annotate.models import Project

from ..selectors import DEFAULT_CHUNK_SIZE, image_files, iter_export_tasks, label_classes
from ..shapes import keypoints_box, labeled_count, pair_shapes
from .coco import export_keypoint_names
from .common import ExportError, without_suffix, zip_entry


def label_path(asset_name: str, frame_index: int | None) -> str:
    if frame_index is None:
        return f"labels/{without_suffix(asset_name)}.txt"
    return f"labels/{without_suffix(asset_name)}/{frame_index:06d}.txt"


def image_path(asset_name: str, frame_index: int | None, stored_name: str) -> str:
    """Where Ultralytics looks for the image of label_path: images/ for labels/, any suffix."""
    suffix = PurePosixPath(stored_name).suffix.lower() or ".jpg"
    return "images/" + label_path(asset_name, frame_index)[len("labels/") : -len(".txt")] + suffix


def flip_index(names: list[str]) -> list[int]:
    """For each keypoint, the index of its mirror image (left <-> right) for flip augmentation."""
    swaps = (("left_", "right_"), ("right_", "left_"), ("l_", "r_"), ("r_", "l_"))
    position = {name: i for i, name in enumerate(names)}
    flipped = []
    for i, name in enumerate(names):
        mirror = next(
            (b + name[len(a) :] for a, b in swaps if name.startswith(a)),
            name,
        )
        flipped.append(position.get(mirror, i))
    return flipped


def data_yaml(project: Project, names: list[str]) -> str:
    classes = label_classes(project)
    data: dict = {
        "train": "images",
        "val": "images",
        "nc": len(classes),
        "names": {i: c.name for i, c in enumerate(classes)},
    }
    if names:
        data["kpt_shape"] = [len(names), 3]
        data["flip_idx"] = flip_index(names)
        data["kpt_names"] = list(names)
    header = "# labels/ mirrors images/: put each image at images/<same path>.<ext>\n"
    return header + yaml.safe_dump(data, sort_keys=False, allow_unicode=True)


def _n(value: float) -> str:
    return f"{value:.6f}"


def write_yolo(
    out: BinaryIO,
    *,
    project: Project,
    annotations: QuerySet,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
    include_images: bool = False,
) -> Iterator[int]:
    names = export_keypoint_names(project)
    class_index = {c.id: i for i, c in enumerate(label_classes(project))}
    tasks_done = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        archive.writestr(zip_entry("data.yaml"), data_yaml(project, names))
        for task in iter_export_tasks(annotations, chunk_size=chunk_size):
            for frame in task.frames:
                if not frame.width or not frame.height:
                    raise ExportError(f"{task.asset.name} has no known size; YOLO needs it.")
                width, height = frame.width, frame.height
                boxes, skeletons = task.shapes_on(frame.id)
                lines = []
                for box, skeleton, flat in pair_shapes(boxes, skeletons if names else [], names):
                    shape = box if box is not None else skeleton
                    if box is not None:
                        x, y, w, h = box.x, box.y, box.w, box.h
                    elif labeled_count(flat):
                        x, y, w, h = keypoints_box(flat)
                    else:
                        continue
                    fields = [
                        str(class_index[shape.label_class_id]),
                        _n((x + w / 2) / width),
                        _n((y + h / 2) / height),
                        _n(w / width),
                        _n(h / height),
                    ]
                    if names:
                        flat = flat or [0] * (3 * len(names))
                        for i in range(0, len(flat), 3):
                            v = int(flat[i + 2])
                            fields += [
                                _n(flat[i] / width if v else 0),
                                _n(flat[i + 1] / height if v else 0),
                                str(v),
                            ]
                    lines.append(" ".join(fields))
                text = "".join(line + "\n" for line in lines)
                archive.writestr(zip_entry(label_path(task.asset.name, frame.index)), text)
            if include_images:
                files = image_files(asset_id=task.asset.id, frame_ids=[f.id for f in task.frames])
                for frame in task.frames:
                    stored = files[frame.id]
                    entry = zip_entry(image_path(task.asset.name, frame.index, stored.name))
                    entry.compress_type = zipfile.ZIP_STORED  # already compressed
                    with stored.open("rb") as source, archive.open(entry, "w") as target:
                        shutil.copyfileobj(source, target, 1024 * 1024)
            tasks_done += 1
            yield tasks_done
