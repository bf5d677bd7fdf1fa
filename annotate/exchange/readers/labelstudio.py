"""Label Studio JSON export (a list of tasks with data, annotations and their results) into
records. Coordinates are percent of the image, so records are normalised (/ 100).

- The image or video of a task is data[to_name] (else data.image / data.video, else the only
  text value of data), tried as given, as its URL path and as its base name, with and without
  the "<8 hex>-" prefix Label Studio puts on uploaded files.
- rectanglelabels: a box; keypointlabels: one point of a skeleton, the label naming the
  keypoint. Points with the same parentID are one object (with that box when parentID is a
  rectangle's id); points without parentID are one object per task, so a repeated keypoint
  name there is refused; a skeleton without a box takes the project's first class.
  meta.text "occluded" gives visibility 1, else 2.
- videorectangle: a track; each sequence item is a keyframe (frame counts from 1); an item
  with enabled false ends the stretch: the object is outside from the next frame.
- Of several annotations of a task the last one not cancelled is read; the others, the
  predictions, rotated boxes and other region types are reported, never dropped silently.
"""

from __future__ import annotations

import json
import re
from collections.abc import Iterator
from typing import BinaryIO
from urllib.parse import unquote, urlparse

from django.conf import settings

from . import FileRejected, ImageRecord, ImageRef, RecordError, ShapeRecord

UPLOAD_PREFIX = re.compile(r"^[0-9a-f]{8}-")
# Label Studio's region types, as the kinds the import summary counts.
KINDS = {
    "polygonlabels": "polygon",
    "polygon": "polygon",
    "brushlabels": "mask",
    "brush": "mask",
    "ellipselabels": "ellipse",
    "ellipse": "ellipse",
    "choices": "tag",
    "taxonomy": "tag",
    "textarea": "tag",
    "rating": "tag",
    "labels": "tag",
}


def _load(stream: BinaryIO) -> list:
    limit = settings.IMPORT_JSON_MAX_BYTES
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise FileRejected(
            f"The JSON file is larger than the limit of {limit / 1024**2:g} MiB; split it up."
        )
    try:
        data = json.loads(raw.decode("utf-8-sig"))
    except UnicodeDecodeError as error:
        raise FileRejected(f"The file is not UTF-8 text (byte {error.start}).") from None
    except json.JSONDecodeError as error:
        raise FileRejected(
            f"Malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}."
        ) from None
    if isinstance(data, dict):
        data = [data]
    if not isinstance(data, list):
        raise FileRejected("A Label Studio export is a JSON list of tasks.")
    return data


def media_names(value: str) -> tuple[str, ...]:
    """The names an image or video reference may go by in the project, best first."""
    path = unquote(urlparse(value).path) if "://" in value else value
    # Label Studio's local files and uploads: /data/local-files/?d=dir/a.jpg, /data/upload/1/x
    query = urlparse(value).query
    if query.startswith("d="):
        path = unquote(query[2:])
    base = path.rsplit("/", 1)[-1]
    names = [value, path.lstrip("/"), base, UPLOAD_PREFIX.sub("", base)]
    return tuple(dict.fromkeys(n for n in names if n))


def _media(data: dict, to_name: str | None) -> str | None:
    for key in (to_name, "image", "video"):
        if key and isinstance(data.get(key), str) and data[key]:
            return data[key]
    texts = [v for v in data.values() if isinstance(v, str) and v]
    return texts[0] if len(texts) == 1 else None


def _box(value: dict) -> tuple[float, float, float, float] | None:
    try:
        x, y, w, h = (float(value[k]) / 100 for k in ("x", "y", "width", "height"))
    except (KeyError, TypeError, ValueError):
        return None
    return (x, y, w, h)


def _one_label(value: dict, key: str) -> str | None:
    labels = value.get(key)
    if isinstance(labels, list) and labels and isinstance(labels[0], str):
        return labels[0]
    return None


def read_labelstudio(stream: BinaryIO) -> Iterator[ShapeRecord | ImageRecord | RecordError]:
    for t, task in enumerate(_load(stream)):
        where = f"task id {task.get('id', f'#{t}')}" if isinstance(task, dict) else f"task #{t}"
        if not isinstance(task, dict) or not isinstance(task.get("data"), dict):
            yield RecordError(where, "A task needs a data object naming its image or video.")
            continue
        annotations = [
            a
            for a in task.get("annotations") or []
            if isinstance(a, dict) and not a.get("was_cancelled")
        ]
        if task.get("predictions"):
            yield RecordError(
                where,
                f"Its {len(task['predictions'])} prediction(s) are not read; "
                "import a model's output as COCO with `as` predictions.",
                kind="prediction",
            )
        for other in annotations[:-1]:
            yield RecordError(
                f"{where} annotation id {other.get('id')}",
                "Only the task's last annotation is imported.",
                kind="other_annotation",
            )
        results = annotations[-1].get("result") if annotations else []
        if not isinstance(results, list):
            yield RecordError(where, "An annotation's result must be a list of regions.")
            continue
        video = any(isinstance(r, dict) and r.get("type") == "videorectangle" for r in results)
        first_to = next((r.get("to_name") for r in results if isinstance(r, dict)), None)
        media = _media(task["data"], first_to)
        if media is None:
            yield RecordError(where, "No image or video reference found in data.")
            continue
        name, *others = media_names(media)
        if video or ("video" in task["data"] and "image" not in task["data"]):
            yield ImageRecord(where, ImageRef(name, whole_video=True, other_names=tuple(others)))
            yield from _video_regions(where, results, name, tuple(others))
        else:
            ref = ImageRef(name, other_names=tuple(others))
            yield ImageRecord(where, ref)
            yield from _image_regions(where, results, ref)


def _image_regions(where: str, results: list, ref: ImageRef) -> Iterator:
    boxes: dict[str, ShapeRecord] = {}
    order: list[str] = []
    points: dict[str | None, dict[str, list]] = {}
    for i, region in enumerate(results):
        at = f"{where} region {region.get('id', f'#{i}') if isinstance(region, dict) else i}"
        if not isinstance(region, dict) or not isinstance(region.get("value"), dict):
            yield RecordError(at, "A region needs a value object.")
            continue
        kind, value = region.get("type"), region["value"]
        if kind == "rectanglelabels":
            box, label = _box(value), _one_label(value, "rectanglelabels")
            if box is None or label is None:
                yield RecordError(at, "A rectangle needs x, y, width, height and one label.")
                continue
            losses = []
            if float(value.get("rotation") or 0):
                losses.append(("rotation", "Its rotation is not kept (upright boxes only)."))
            key = str(region.get("id", f"#{i}"))
            boxes[key] = ShapeRecord(
                record=at, image=ref, label=label, box=box, normalized=True, losses=losses
            )
            order.append(key)
        elif kind == "keypointlabels":
            name = _one_label(value, "keypointlabels")
            try:
                x, y = float(value["x"]) / 100, float(value["y"]) / 100
            except (KeyError, TypeError, ValueError):
                name = None
            if name is None:
                yield RecordError(at, "A keypoint needs x, y and one keypoint label.")
                continue
            meta = region.get("meta") or {}
            occluded = "occluded" in (meta.get("text") or []) if isinstance(meta, dict) else False
            group = points.setdefault(region.get("parentID"), {})
            if name in group:
                yield RecordError(
                    at,
                    f"Keypoint {name!r} appears twice in one object; give each object's "
                    "points a parentID to keep several objects.",
                    kind="keypoint_duplicate",
                )
                continue
            group[name] = [x, y, 1 if occluded else 2]
        else:
            yield RecordError(
                at,
                f"A {kind!r} region cannot be stored (boxes and keypoints only).",
                kind=KINDS.get(str(kind), "shape"),
            )
    for parent, named in points.items():
        if parent is not None and str(parent) in boxes:
            boxes[str(parent)].named_points = named
            continue
        yield ShapeRecord(
            record=f"{where} keypoints of {parent or 'the task'}",
            image=ref,
            label=None,
            named_points=named,
            normalized=True,
        )
    for key in order:
        yield boxes[key]


def _video_regions(where: str, results: list, name: str, others: tuple[str, ...]) -> Iterator:
    for i, region in enumerate(results):
        at = f"{where} region {region.get('id', f'#{i}') if isinstance(region, dict) else i}"
        if not isinstance(region, dict) or not isinstance(region.get("value"), dict):
            yield RecordError(at, "A region needs a value object.")
            continue
        if region.get("type") != "videorectangle":
            yield RecordError(
                at,
                f"A {region.get('type')!r} region of a video cannot be stored "
                "(video rectangles only).",
                kind=KINDS.get(str(region.get("type")), "shape"),
            )
            continue
        value = region["value"]
        label = _one_label(value, "labels")
        sequence = value.get("sequence")
        if label is None or not isinstance(sequence, list):
            yield RecordError(at, "A video rectangle needs labels and a sequence.")
            continue
        track = f"region {region.get('id', i)}"
        items = sorted(
            (s for s in sequence if isinstance(s, dict) and isinstance(s.get("frame"), int)),
            key=lambda s: s["frame"],
        )
        if len(items) != len(sequence):
            yield RecordError(at, "Sequence items without a whole frame number were left out.")
        for n, item in enumerate(items):
            box = _box(item)
            if box is None or item["frame"] < 1:
                yield RecordError(f"{at} frame {item['frame']}", "The item has no box.")
                continue
            ref = ImageRef(name, item["frame"] - 1, other_names=others)
            losses = []
            if float(item.get("rotation") or 0):
                losses.append(("rotation", "Its rotation is not kept (upright boxes only)."))
            yield ShapeRecord(
                record=f"{at} frame {item['frame']}",
                image=ref,
                label=label,
                box=box,
                track=track,
                normalized=True,
                losses=losses,
            )
            if item.get("enabled") is False:
                following = items[n + 1]["frame"] if n + 1 < len(items) else None
                total = value.get("framesCount")
                at_end = isinstance(total, int) and item["frame"] >= total
                if following != item["frame"] + 1 and not at_end:
                    yield ShapeRecord(
                        record=f"{at} after frame {item['frame']}",
                        image=ImageRef(name, item["frame"], other_names=others),
                        label=label,
                        box=box,
                        track=track,
                        normalized=True,
                        outside=True,
                    )
