"""MOTChallenge gt.txt (one per sequence, <name>/gt/gt.txt, in a zip) into records.

Lines: frame, id, bb_left, bb_top, bb_width, bb_height, conf, class, visibility. Frames count
from 1; a line with conf 0 is marked "ignore" by MOT and is skipped. Classes are named by an
optional classes.txt (one per line), else taken by position in the project's schema.
"""

from __future__ import annotations

from collections.abc import Iterator
from typing import BinaryIO

from . import FileRejected, ImageRecord, ImageRef, RecordError, ShapeRecord
from .archive import open_zip


def read_mot(stream: BinaryIO) -> Iterator[ShapeRecord | ImageRecord | RecordError]:
    archive = open_zip(stream)
    classes = None
    if "classes.txt" in archive.names:
        text = archive.side_file("classes.txt").decode("utf-8-sig", errors="replace")
        classes = [c.strip() for c in text.splitlines() if c.strip()]
    found = False
    for name, lines in archive.text_entries("gt.txt"):
        parts = name.split("/")
        if len(parts) < 3 or parts[-2] != "gt":
            raise FileRejected(f"{name}: ground truth goes in <sequence>/gt/gt.txt.")
        found = True
        sequence = "/".join(parts[:-2])
        yield ImageRecord(name, ImageRef(sequence, whole_video=True))
        for number, line in enumerate(lines, start=1):
            if not line.strip():
                continue
            where = f"{name} line {number}"
            fields = [f.strip() for f in line.split(",")]
            if len(fields) < 6:
                yield RecordError(
                    where, "A line needs at least frame, id, left, top, width, height."
                )
                continue
            try:
                frame, track = int(float(fields[0])), int(float(fields[1]))
                x, y, w, h = (float(v) for v in fields[2:6])
                conf = float(fields[6]) if len(fields) > 6 else 1.0
                class_number = int(float(fields[7])) if len(fields) > 7 else 1
            except (ValueError, OverflowError):  # int(float("inf")) overflows
                yield RecordError(where, "The values must be finite numbers.")
                continue
            if conf == 0:
                continue
            if frame < 1:
                yield RecordError(where, "Frames count from 1.")
                continue
            if track < 0:
                yield RecordError(where, "The id must be ≥ 0.")
                continue
            if w <= 0 or h <= 0:
                yield RecordError(where, "The box has no size.")
                continue
            if class_number < 1 or (classes is not None and class_number > len(classes)):
                yield RecordError(where, f"Class {class_number} is not in classes.txt.")
                continue
            yield ShapeRecord(
                record=where,
                image=ImageRef(sequence, frame - 1),
                label=classes[class_number - 1] if classes else None,
                label_index=class_number - 1,
                box=(x, y, w, h),
                track=track,
                score=conf if conf != 1 else None,
            )
    if not found:
        raise FileRejected("The archive holds no <sequence>/gt/gt.txt.")
