"""COCO JSON (instances, person keypoints, PoseTrack-style video fields) into records.

An annotation's "attributes" object (as CVAT writes it: occluded, track_id, keyframe and the
class's own attributes) is read. What cannot be stored is said per record: a crowd region
(iscrowd, an RLE mask) is refused, not imported as an ordinary box; a polygon segmentation
is not kept (its bbox is).
"""

from __future__ import annotations

import json
from collections.abc import Iterator
from typing import BinaryIO

from django.conf import settings

from . import FileRejected, ImageRecord, ImageRef, RecordError, ShapeRecord


def _load(stream: BinaryIO) -> dict:
    limit = settings.IMPORT_JSON_MAX_BYTES
    raw = stream.read(limit + 1)
    if len(raw) > limit:
        raise FileRejected(
            f"The JSON file is larger than the limit of {limit / 1024**2:g} MiB; split it up."
        )
    try:
        text = raw.decode("utf-8-sig")
    except UnicodeDecodeError as error:
        raise FileRejected(f"The file is not UTF-8 text (byte {error.start}).") from None
    try:
        data = json.loads(text)
    except json.JSONDecodeError as error:
        raise FileRejected(
            f"Malformed JSON at line {error.lineno}, column {error.colno}: {error.msg}."
        ) from None
    if not isinstance(data, dict):
        raise FileRejected("A COCO file is a JSON object with images, annotations, categories.")
    for key in ("images", "annotations", "categories"):
        if not isinstance(data.get(key), list):
            raise FileRejected(f"'{key}' is missing or is not a list.")
    return data


def _number_list(value: object, length: int | None = None) -> list[float] | None:
    if not isinstance(value, list) or (length is not None and len(value) != length):
        return None
    if not all(isinstance(v, int | float) and not isinstance(v, bool) for v in value):
        return None
    return [float(v) for v in value]


def read_coco(stream: BinaryIO) -> Iterator[ShapeRecord | ImageRecord | RecordError]:
    data = _load(stream)
    categories: dict[int, str] = {}
    for i, category in enumerate(data["categories"]):
        if not isinstance(category, dict) or not isinstance(category.get("name"), str):
            yield RecordError(f"categories[{i}]", "A category needs an id and a name.")
            continue
        categories[category.get("id")] = category["name"]

    images: dict[object, ImageRef] = {}
    for i, image in enumerate(data["images"]):
        where = f"images[{i}]"
        if not isinstance(image, dict) or "id" not in image:
            yield RecordError(where, "An image needs an id.")
            continue
        where = f"image id {image['id']}"
        video, index = image.get("video_name"), image.get("frame_index")
        if video is not None or index is not None:
            if not isinstance(video, str) or not isinstance(index, int) or index < 0:
                yield RecordError(where, "A video frame needs video_name and a frame_index ≥ 0.")
                continue
            ref = ImageRef(video, index)
        elif isinstance(image.get("file_name"), str) and image["file_name"]:
            ref = ImageRef(image["file_name"])
        else:
            yield RecordError(where, "An image needs a file_name.")
            continue
        images[image["id"]] = ref
        yield ImageRecord(where, ref)

    for i, annotation in enumerate(data["annotations"]):
        if not isinstance(annotation, dict):
            yield RecordError(f"annotations[{i}]", "An annotation must be an object.")
            continue
        where = f"annotation id {annotation.get('id', f'#{i}')}"
        ref = images.get(annotation.get("image_id"))
        if ref is None:
            yield RecordError(
                where, f"image_id {annotation.get('image_id')!r} is not among the file's images."
            )
            continue
        label = categories.get(annotation.get("category_id"))
        if label is None:
            yield RecordError(
                where,
                f"category_id {annotation.get('category_id')!r} is not among the file's "
                "categories.",
            )
            continue
        box = None
        if annotation.get("bbox") is not None:
            bbox = _number_list(annotation["bbox"], 4)
            if bbox is None:
                yield RecordError(where, "bbox must be four numbers [x, y, width, height].")
                continue
            box = tuple(bbox)
        keypoints = None
        if annotation.get("keypoints") is not None:
            keypoints = _number_list(annotation["keypoints"])
            if keypoints is None:
                yield RecordError(where, "keypoints must be a list of numbers.")
                continue
        if box is None and keypoints is None:
            yield RecordError(where, "The annotation has neither a bbox nor keypoints.")
            continue
        if annotation.get("iscrowd") in (1, True) or isinstance(
            annotation.get("segmentation"), dict
        ):
            yield RecordError(
                where,
                "A crowd region (iscrowd, an RLE mask) cannot be stored: this project keeps "
                "boxes and skeletons of single objects; not imported as a box.",
                kind="rle",
            )
            continue
        losses = []
        if isinstance(annotation.get("segmentation"), list) and annotation["segmentation"]:
            losses.append(
                ("polygon", "Its segmentation polygon is not kept (boxes and skeletons only).")
            )
        attributes = annotation.get("attributes")
        if attributes is None:
            attributes = {}
        if not isinstance(attributes, dict):
            yield RecordError(where, "attributes must be an object {name: value}.")
            continue
        attributes = dict(attributes)
        occluded = attributes.pop("occluded", False)
        if not isinstance(occluded, bool):
            yield RecordError(where, "attributes.occluded must be true or false.")
            continue
        # Every listed frame is the object's place there: a keyframe, whatever CVAT says.
        attributes.pop("keyframe", None)
        if attributes.get("rotation") in (0, 0.0):
            attributes.pop("rotation")
        track = annotation.get("track_id")
        inner_track = attributes.pop("track_id", None)
        if track is None:
            track = inner_track
        if track is not None and (not isinstance(track, int) or track < 0):
            yield RecordError(where, "track_id must be a whole number ≥ 0.")
            continue
        score = annotation.get("score")
        if score is not None and not isinstance(score, int | float):
            yield RecordError(where, "score must be a number.")
            continue
        yield ShapeRecord(
            record=where,
            image=ref,
            label=label,
            box=box,
            keypoints=keypoints,
            track=track,
            score=None if score is None else float(score),
            occluded=occluded,
            attributes=attributes,
            losses=losses,
        )
