"""YOLO label archives (detection or pose lines, with an optional data.yaml) into records.

Coordinates stay normalised here; the import service scales them by the image's size. A line
may end with a confidence (Ultralytics save_conf), used as a prediction's score.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

import yaml

from . import FileRejected, ImageRecord, ImageRef, RecordError, ShapeRecord
from .archive import open_zip

TOLERANCE = 1e-6


def _data_yaml(archive) -> tuple[list[str] | None, int | None]:
    names = [n for n in archive.names if n.rsplit("/", 1)[-1] in ("data.yaml", "dataset.yaml")]
    if not names:
        return None, None
    try:
        data = yaml.safe_load(archive.side_file(sorted(names, key=len)[0]))
    except yaml.YAMLError as error:
        raise FileRejected(f"data.yaml is not valid YAML: {error}") from None
    if not isinstance(data, dict):
        raise FileRejected("data.yaml must be a mapping.")
    raw = data.get("names")
    if isinstance(raw, dict):
        try:
            classes = [str(raw[i]) for i in sorted(int(k) for k in raw)]
        except (KeyError, ValueError):
            raise FileRejected("data.yaml 'names' must map 0, 1, ... to class names.") from None
    elif isinstance(raw, list):
        classes = [str(n) for n in raw]
    else:
        classes = None
    shape = data.get("kpt_shape")
    if shape is None:
        return classes, None
    if not (isinstance(shape, list) and len(shape) == 2 and shape[1] == 3):
        raise FileRejected("data.yaml kpt_shape must be [keypoints, 3] (x, y, visibility).")
    return classes, int(shape[0])


def read_yolo(stream: BinaryIO) -> Iterator[ShapeRecord | ImageRecord | RecordError]:
    archive = open_zip(stream)
    classes, keypoint_count = _data_yaml(archive)
    found = False
    for name, lines in archive.text_entries(".txt"):
        if name.rsplit("/", 1)[-1] in ("classes.txt", "train.txt", "val.txt", "test.txt"):
            continue
        found = True
        key = name.removeprefix("labels/").removesuffix(".txt")
        image = ImageRef(key)
        yield ImageRecord(name, image)
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{name} line {number}"
            record = _parse_line(line, where, image, classes, keypoint_count)
            yield record
    if not found:
        raise FileRejected("The archive holds no label files (labels/*.txt).")


def _parse_line(line, where, image, classes, keypoint_count) -> ShapeRecord | RecordError:
    fields = line.split()
    try:
        class_index = int(fields[0])
        values = [float(v) for v in fields[1:]]
    except ValueError:
        return RecordError(where, "A line is a class number followed by numbers.")
    if class_index < 0:
        return RecordError(where, "The class number must be ≥ 0.")
    n = len(values)
    if n < 4:
        return RecordError(where, f"{n} numbers after the class; a box needs 4 (cx cy w h).")
    score = None
    if keypoint_count is not None:
        expected = 4 + 3 * keypoint_count
        if n in (expected + 1, 5):
            score, values = values[-1], values[:-1]
        elif n not in (expected, 4):
            return RecordError(
                where,
                f"{n} numbers after the class; pose lines with {keypoint_count} keypoints "
                f"have {expected} (cx cy w h, then x y v per keypoint).",
            )
    elif (n - 4) % 3 != 0:
        if n < 5 or (n - 5) % 3 != 0:
            return RecordError(
                where, f"{n} numbers after the class; expected 4 (cx cy w h) or 4 + 3 per keypoint."
            )
        score, values = values[-1], values[:-1]
    if any(v < -TOLERANCE or v > 1 + TOLERANCE for v in values[:4]):
        return RecordError(where, "Box values must be normalised to 0..1.")
    cx, cy, w, h = values[:4]
    if w <= 0 or h <= 0:
        return RecordError(where, "The box has no size.")
    keypoints = None
    if len(values) > 4:
        keypoints = values[4:]
        if any(v not in (0, 1, 2) for v in keypoints[2::3]):  # NaN and infinity too
            return RecordError(where, "Keypoint visibility must be 0, 1 or 2.")
    label = None
    if classes is not None:
        if class_index >= len(classes):
            return RecordError(where, f"Class {class_index} is not in data.yaml's names.")
        label = classes[class_index]
    return ShapeRecord(
        record=where,
        image=image,
        label=label,
        label_index=class_index,
        box=(cx - w / 2, cy - h / 2, w, h),
        keypoints=keypoints,
        score=score,
        normalized=True,
    )
