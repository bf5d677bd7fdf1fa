"""MOTChallenge ground truth: per video a <name>/gt/gt.txt with one line per tracked box,
`frame, id, bb_left, bb_top, bb_width, bb_height, conf, class, visibility`, and seqinfo.ini.

frame is the source frame index + 1 (MOT counts from 1); id the track number; conf 1 (the box
counts); class the 1-based position of the label class, listed in classes.txt and, where
datumaro's mot_seq reader looks for the names, in <name>/gt/labels.txt; visibility 1.
Untracked boxes and keypoints are not part of MOT ground truth and are left out.
"""

from __future__ import annotations

import zipfile
from collections.abc import Iterator
from typing import BinaryIO

from django.db.models import QuerySet

from annotate.models import Project

from ..selectors import DEFAULT_CHUNK_SIZE, AssetInfo, iter_export_tasks, label_classes
from ..shapes import box_sort_key, number_text
from .common import without_suffix, zip_entry


def seqinfo(
    asset: AssetInfo, frame_rate: float | None, width: int | None, height: int | None
) -> str:
    return (
        "[Sequence]\n"
        f"name={without_suffix(asset.name)}\n"
        "imDir=img1\n"
        f"frameRate={number_text(frame_rate or 0)}\n"
        f"seqLength={asset.frame_count or 0}\n"
        f"imWidth={width or asset.width or 0}\n"
        f"imHeight={height or asset.height or 0}\n"
        "imExt=.jpg\n"
    )


def write_mot(
    out: BinaryIO,
    *,
    project: Project,
    annotations: QuerySet,
    chunk_size: int = DEFAULT_CHUNK_SIZE,
) -> Iterator[int]:
    classes = label_classes(project)
    class_number = {c.id: i + 1 for i, c in enumerate(classes)}
    fps = dict(project.assets.filter(kind="video").values_list("id", "fps"))
    tasks_done = 0
    with zipfile.ZipFile(out, "w", compression=zipfile.ZIP_DEFLATED) as archive:
        class_names = "".join(f"{c.name}\n" for c in classes)
        archive.writestr(zip_entry("classes.txt"), class_names)
        current: AssetInfo | None = None
        gt = None
        size: tuple[int | None, int | None] = (None, None)

        def close() -> None:
            if gt is not None:
                gt.close()
                folder = without_suffix(current.name)
                archive.writestr(zip_entry(f"{folder}/gt/labels.txt"), class_names)
                archive.writestr(
                    zip_entry(f"{folder}/seqinfo.ini"), seqinfo(current, fps.get(current.id), *size)
                )

        for task in iter_export_tasks(annotations, chunk_size=chunk_size):
            if task.asset.kind == "video":
                if current is None or task.asset.id != current.id:
                    close()
                    current = task.asset
                    # Streamed into the archive: one sequence is never held in memory.
                    gt = archive.open(zip_entry(f"{without_suffix(current.name)}/gt/gt.txt"), "w")
                for frame in task.frames:
                    size = (frame.width, frame.height)
                    boxes, _ = task.shapes_on(frame.id)
                    for box in sorted(boxes, key=lambda b: (b.track or 0, box_sort_key(b))):
                        if box.track is None:
                            continue
                        fields = [
                            str(frame.index + 1),
                            str(box.track),
                            number_text(box.x),
                            number_text(box.y),
                            number_text(box.w),
                            number_text(box.h),
                            "1",
                            str(class_number[box.label_class_id]),
                            "1",
                        ]
                        gt.write((",".join(fields) + "\n").encode())
            tasks_done += 1
            yield tasks_done
        close()
