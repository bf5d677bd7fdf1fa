"""Format writers. Each is a generator: it writes one format to a binary stream and yields
the number of tasks written so far, so the job can report progress as it goes."""

from __future__ import annotations

from .coco import write_coco
from .cvat import write_cvat
from .cvat_images import write_cvat_images
from .labelstudio import write_labelstudio
from .mot import write_mot
from .yolo import write_yolo

WRITERS = {
    "coco": write_coco,
    "yolo": write_yolo,
    "mot": write_mot,
    "cvat": write_cvat,
    "labelstudio": write_labelstudio,
    "cvat_images": write_cvat_images,
}
# What the download is called and served as.
FILE_TYPES = {
    "coco": (".json", "application/json"),
    "yolo": (".zip", "application/zip"),
    "mot": (".zip", "application/zip"),
    "cvat": (".zip", "application/zip"),
    "labelstudio": (".json", "application/json"),
    "cvat_images": (".zip", "application/zip"),
}
