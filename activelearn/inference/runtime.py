"""Running a model version over images: its spec, a per-process onnxruntime session cache,
decoding stored images at the model's input size, and batched inference.

No database writes here; `activelearn.scoring.runs` decides what to run and stores the results.

A version's spec (JSON) describes how to feed and read the model:

    {"input": {"name": "images", "size": [H, W], "layout": "NCHW" | "NHWC",
               "channel_order": "RGB" | "BGR", "scale": 1/255,
               "mean": [r, g, b], "std": [r, g, b]},
     "output": {"name": "probs", "layout": "probs" | "logits" | "embedding" | "detection"
                | "yolo_detect" | "yolo_pose"},
     "embedding_output": "name of an optional second output with embeddings",
     "class_names": [...], "keypoint_names": [...],   # default: the project's
     "batch_size": 32}

Flat keys (`input_size`, `channel_order`, `mean`, `std`, `output_layout`) are read too.
Mean and std are given in the spec's channel order, on the scaled values.

Box layouts are decoded per image into Prediction.data as pushed predictions store it, in the
image's own pixels (the input is resized without letterboxing, so x and y scale back apart):
`{"boxes": [{"x", "y", "w", "h", "score", "label", "class_probs"}]}`, and for pose also
`"keypoints": [{"label", "score", "points": {name: [x, y, c]}, "confidences": {name: c}}]`.
"detection" reads three outputs (`output.boxes` [N, B, 4], `output.scores` [N, B],
`output.class_probs` [N, B, C]; default the model's first three), boxes as
`output.box_format` "xyxy" (default) | "xywh" | "cxcywh" in input pixels, or in 0..1 with
`"normalized": true`. YOLO layouts are decoded by `activelearn.inference.yolo`.
`output.score_threshold` (0.25), `output.iou_threshold` (0.45) and `output.max_detections`
(100) bound what is kept.
"""

from __future__ import annotations

import hashlib
import io
import logging
import os
from collections import OrderedDict
from concurrent.futures import Future, ThreadPoolExecutor
from dataclasses import dataclass

import cv2
import numpy as np
import onnxruntime as ort
from django.core.files.storage import default_storage
from PIL import Image

from activelearn.inference.yolo import nms, yolo_detect_decode, yolo_pose_decode
from activelearn.models import ModelVersion
from annotate.ingest.images import HISTOGRAM_BINS, colour_histogram
from annotate.models import Asset

logger = logging.getLogger(__name__)

SESSION_CACHE_SIZE = 4
DEFAULT_BATCH_SIZE = 32
OUTPUT_LAYOUTS = ("probs", "logits", "embedding", "detection", "yolo_detect", "yolo_pose")
BOX_LAYOUTS = ("detection", "yolo_detect", "yolo_pose")
BOX_FORMATS = ("xyxy", "xywh", "cxcywh")


class ScoringError(Exception):
    """A model version or its inputs cannot be scored; the message says why, for the run's
    error field and the admin."""


@dataclass(frozen=True)
class ModelSpec:
    task_type: str
    input_name: str | None
    height: int
    width: int
    layout: str
    channel_order: str
    scale: float
    mean: tuple[float, ...]
    std: tuple[float, ...]
    output_name: str | None
    output_layout: str
    embedding_output: str | None
    batch_size: int
    class_names: tuple[str, ...] = ()
    keypoint_names: tuple[str, ...] = ()
    detection_outputs: tuple[str | None, str | None, str | None] = (None, None, None)
    box_format: str = "xyxy"
    normalized_boxes: bool = False
    score_threshold: float = 0.25
    iou_threshold: float = 0.45
    max_detections: int = 100

    @classmethod
    def from_version(cls, version: ModelVersion) -> ModelSpec:
        spec = version.spec or {}
        source = spec.get("input") or {}
        output = spec.get("output") or {}
        task_type = spec.get("task_type") or version.task_type
        size = source.get("size") or spec.get("input_size")
        if isinstance(size, int):
            size = [size, size]
        if not (
            isinstance(size, list | tuple) and len(size) == 2 and all(_positive(v) for v in size)
        ):
            raise ScoringError(
                f"spec of {version}: input size must be [height, width], got {size!r}"
            )
        layout = str(source.get("layout") or spec.get("layout") or "NCHW").upper()
        order = str(source.get("channel_order") or spec.get("channel_order") or "RGB").upper()
        default_layout = "embedding" if task_type == ModelVersion.TaskType.EMBEDDING else "probs"
        output_layout = str(output.get("layout") or spec.get("output_layout") or default_layout)
        mean = tuple(float(v) for v in source.get("mean", spec.get("mean", (0.0, 0.0, 0.0))))
        std = tuple(float(v) for v in source.get("std", spec.get("std", (1.0, 1.0, 1.0))))
        problems = []
        if layout not in ("NCHW", "NHWC"):
            problems.append(f"layout must be NCHW or NHWC, got {layout!r}")
        if order not in ("RGB", "BGR"):
            problems.append(f"channel_order must be RGB or BGR, got {order!r}")
        if output_layout not in OUTPUT_LAYOUTS:
            problems.append(f"output layout must be one of {', '.join(OUTPUT_LAYOUTS)}")
        if len(mean) != 3 or len(std) != 3 or not all(v > 0 for v in std):
            problems.append("mean and std need 3 values each, std > 0")
        batch_size = spec.get("batch_size", DEFAULT_BATCH_SIZE)
        if not _positive(batch_size):
            problems.append(f"batch_size must be a positive integer, got {batch_size!r}")
        class_names = spec.get("class_names")
        keypoint_names = spec.get("keypoint_names")
        if output_layout in BOX_LAYOUTS:
            project = version.project
            if class_names is None:
                class_names = list(
                    project.label_classes.order_by("order", "id").values_list("name", flat=True)
                )
            if keypoint_names is None:
                keypoint_names = list(project.keypoint_names) if project.keypoints_enabled else []
        class_names = list(class_names or [])
        keypoint_names = list(keypoint_names or [])
        if output_layout in ("detection", "yolo_detect") and not class_names:
            problems.append(f"a {output_layout} model needs class_names")
        if output_layout == "yolo_pose" and not keypoint_names:
            problems.append("a yolo_pose model needs keypoint_names")
        box_format = str(output.get("box_format") or "xyxy").lower()
        if box_format not in BOX_FORMATS:
            problems.append(f"box_format must be one of {', '.join(BOX_FORMATS)}")
        try:
            score_threshold = float(output.get("score_threshold", 0.25))
            iou_threshold = float(output.get("iou_threshold", 0.45))
        except (TypeError, ValueError):
            problems.append("score_threshold and iou_threshold must be numbers")
            score_threshold, iou_threshold = 0.25, 0.45
        max_detections = output.get("max_detections", 100)
        if not _positive(max_detections):
            problems.append(f"max_detections must be a positive integer, got {max_detections!r}")
        if problems:
            raise ScoringError(f"spec of {version}: " + "; ".join(problems))
        fallback = output.get("name")
        return cls(
            task_type=task_type,
            input_name=source.get("name") or spec.get("input_name"),
            height=int(size[0]),
            width=int(size[1]),
            layout=layout,
            channel_order=order,
            scale=float(source.get("scale", spec.get("scale", 1.0 / 255.0))),
            mean=mean,
            std=std,
            output_name=output.get("name") or spec.get("output_name"),
            output_layout=output_layout,
            embedding_output=spec.get("embedding_output"),
            batch_size=int(batch_size),
            class_names=tuple(str(name) for name in class_names),
            keypoint_names=tuple(str(name) for name in keypoint_names),
            detection_outputs=tuple(  # as the upload check reads them
                output.get(key) or fallback for key in ("boxes", "scores", "class_probs")
            ),
            box_format=box_format,
            normalized_boxes=bool(output.get("normalized", False)),
            score_threshold=score_threshold,
            iou_threshold=iou_threshold,
            max_detections=int(max_detections),
        )


def _positive(value: object) -> bool:
    return isinstance(value, int) and not isinstance(value, bool) and value > 0


# One cache per worker process (prefork children each build their own, lazily). Keyed by
# version id and file hash, so a replaced checkpoint file is never served from a stale session.
_SESSIONS: OrderedDict[tuple[int, str], ort.InferenceSession] = OrderedDict()


def model_session(version: ModelVersion) -> ort.InferenceSession:
    key = (version.pk, version.sha256)
    session = _SESSIONS.get(key)
    if session is not None:
        _SESSIONS.move_to_end(key)
        return session
    if not version.file:
        raise ScoringError(f"{version} has no checkpoint file to run")
    with version.file.open("rb") as handle:
        data = handle.read()
    if version.sha256 and hashlib.sha256(data).hexdigest() != version.sha256:
        raise ScoringError(f"the checkpoint file of {version} does not match its sha256")
    options = ort.SessionOptions()
    options.log_severity_level = 3
    try:
        session = ort.InferenceSession(
            data, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own exception types
        raise ScoringError(f"onnxruntime cannot load {version}: {error}") from error
    _SESSIONS[key] = session
    while len(_SESSIONS) > SESSION_CACHE_SIZE:
        _SESSIONS.popitem(last=False)
    return session


def sessions_clear() -> None:
    _SESSIONS.clear()


@dataclass(frozen=True)
class ImageRef:
    """A stored picture to feed the model: its storage name and, if known, its size."""

    name: str
    width: int | None = None
    height: int | None = None


def _reduced_flag(ref: ImageRef, spec: ModelSpec) -> int:
    """Decode JPEGs at 1/2, 1/4 or 1/8 scale when that still covers the input size: the
    DCT-domain shrink skips most of the decoding work."""
    if ref.width and ref.height:
        for factor, flag in (
            (8, cv2.IMREAD_REDUCED_COLOR_8),
            (4, cv2.IMREAD_REDUCED_COLOR_4),
            (2, cv2.IMREAD_REDUCED_COLOR_2),
        ):
            if ref.width // factor >= spec.width and ref.height // factor >= spec.height:
                return flag
    return cv2.IMREAD_COLOR


def image_decode(data: bytes, ref: ImageRef, spec: ModelSpec) -> np.ndarray:
    """Bytes to an `[H, W, 3]` uint8 BGR array at the model's input size."""
    image = cv2.imdecode(np.frombuffer(data, np.uint8), _reduced_flag(ref, spec))
    if image is None:  # formats OpenCV lacks (e.g. some WebP/GIF): Pillow decodes them
        try:
            with Image.open(io.BytesIO(data)) as pil:
                image = cv2.cvtColor(np.asarray(pil.convert("RGB")), cv2.COLOR_RGB2BGR)
        except Exception as error:
            raise ScoringError(f"cannot decode {ref.name}: {error}") from error
    height, width = image.shape[:2]
    if (height, width) != (spec.height, spec.width):
        shrinking = width > spec.width or height > spec.height
        interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
        image = cv2.resize(image, (spec.width, spec.height), interpolation=interpolation)
    return image


def image_to_input(image: np.ndarray, spec: ModelSpec, out: np.ndarray | None = None) -> np.ndarray:
    """One BGR uint8 picture to the model's float32 input for one image (one multiply-add
    per pixel), written into `out` when given (a slot of the batch tensor)."""
    if spec.channel_order == "RGB":
        image = cv2.cvtColor(image, cv2.COLOR_BGR2RGB)
    std = np.asarray(spec.std, dtype=np.float32)
    factor = np.float32(spec.scale) / std
    offset = -np.asarray(spec.mean, dtype=np.float32) / std
    if spec.layout == "NCHW":
        image = image.transpose(2, 0, 1)
        factor, offset = factor[:, None, None], offset[:, None, None]
    if out is None:
        out = np.empty(image.shape, dtype=np.float32)
    np.multiply(image, factor, out=out, dtype=np.float32)
    out += offset
    return out


def input_shape(spec: ModelSpec) -> tuple[int, int, int]:
    if spec.layout == "NCHW":
        return (3, spec.height, spec.width)
    return (spec.height, spec.width, 3)


def images_to_tensor(images: list[np.ndarray], spec: ModelSpec) -> np.ndarray:
    """Stack BGR uint8 pictures into the model's float32 batch input."""
    batch = np.empty((len(images), *input_shape(spec)), dtype=np.float32)
    for slot, image in enumerate(images):
        image_to_input(image, spec, out=batch[slot])
    return batch


def _sized(ref: ImageRef, data: bytes) -> ImageRef:
    """The ref with the picture's own size (from its header; else a full decode)."""
    try:
        with Image.open(io.BytesIO(data)) as pil:
            return ImageRef(ref.name, pil.width, pil.height)
    except (OSError, ValueError, Image.DecompressionBombError):
        image = cv2.imdecode(np.frombuffer(data, np.uint8), cv2.IMREAD_COLOR)
        if image is None:
            raise ScoringError(f"cannot decode {ref.name}") from None
        return ImageRef(ref.name, image.shape[1], image.shape[0])


def image_load_into(
    batch: np.ndarray, slot: int, ref: ImageRef, spec: ModelSpec
) -> tuple[int, int] | None:
    """Read, decode and normalise one stored picture into `batch[slot]`; its own (width,
    height) in pixels, for scaling boxes back. None (logged) when it is missing or
    unreadable, so one broken file does not stop a whole run."""
    try:
        with default_storage.open(ref.name, "rb") as handle:
            data = handle.read()
        if not (ref.width and ref.height) and spec.output_layout in BOX_LAYOUTS:
            ref = _sized(ref, data)
        image_to_input(image_decode(data, ref, spec), spec, out=batch[slot])
        return (int(ref.width or spec.width), int(ref.height or spec.height))
    except (OSError, ScoringError) as error:
        logger.warning("cannot read %s for scoring: %s", ref.name, error)
        return None


@dataclass
class ModelOutputs:
    """Per image: class probabilities `[n, classes]` and/or embeddings `[n, dims]`, or for
    box layouts the decoded Prediction.data of each image (`units`)."""

    probs: np.ndarray | None = None
    embeddings: np.ndarray | None = None
    units: list[dict] | None = None


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def _fixed_batch(session: ort.InferenceSession, spec: ModelSpec) -> int | None:
    """The batch size the model's input fixes (YOLO exports fix 1), or None when free."""
    inputs = session.get_inputs()
    declared = next((i for i in inputs if i.name == spec.input_name), inputs[0])
    first = declared.shape[0] if declared.shape else None
    return first if isinstance(first, int) and first > 0 else None


def _unit_interval(value: float) -> float:
    return round(min(max(float(value), 0.0), 1.0), 6)


def _scaled_box(box: dict, sx: float, sy: float, width: int, height: int) -> dict | None:
    """A box in input pixels to the image's pixels, clipped to the image; None without area."""
    left = min(max(box["x"] * sx, 0.0), width)
    top = min(max(box["y"] * sy, 0.0), height)
    right = min(max((box["x"] + box["w"]) * sx, 0.0), width)
    bottom = min(max((box["y"] + box["h"]) * sy, 0.0), height)
    if right - left <= 0 or bottom - top <= 0:
        return None
    return {
        "x": round(left, 2),
        "y": round(top, 2),
        "w": round(right - left, 2),
        "h": round(bottom - top, 2),
    }


def _one_class_probs(label: str, score: float, names: tuple[str, ...]) -> list[float]:
    """A single-class score as a distribution over the classes (as pushed boxes with only
    a label and a score get one)."""
    if len(names) == 1:
        return [1.0]
    rest = round((1.0 - score) / (len(names) - 1), 6)
    return [score if name == label else rest for name in names]


def _box_entry(box: dict, size: tuple[int, int], spec: ModelSpec) -> dict | None:
    width, height = size
    placed = _scaled_box(box, width / spec.width, height / spec.height, width, height)
    if placed is None:
        return None
    score = _unit_interval(box["score"])
    label = box["label"]
    if box.get("class_probs") is not None:
        probs = [_unit_interval(p) for p in box["class_probs"]]
    elif label in spec.class_names:
        probs = _one_class_probs(label, score, spec.class_names)
    else:
        return None
    return {**placed, "score": score, "label": label, "class_probs": probs}


def _detection_boxes(
    boxes: np.ndarray, scores: np.ndarray, probs: np.ndarray, spec: ModelSpec
) -> list[dict]:
    """One image of the "detection" layout to boxes in input pixels: thresholded on the
    score and suppressed per class, best first."""
    boxes = np.asarray(boxes, dtype=np.float64).reshape(-1, 4)
    if spec.normalized_boxes:
        boxes = boxes * np.array([spec.width, spec.height, spec.width, spec.height])
    a, b, c, d = boxes.T
    if spec.box_format == "xywh":
        corners = np.stack([a, b, a + c, b + d], axis=1)
    elif spec.box_format == "cxcywh":
        corners = np.stack([a - c / 2, b - d / 2, a + c / 2, b + d / 2], axis=1)
    else:
        corners = boxes
    corners = np.stack(  # a model may give the corners either way round
        [
            np.minimum(corners[:, 0], corners[:, 2]),
            np.minimum(corners[:, 1], corners[:, 3]),
            np.maximum(corners[:, 0], corners[:, 2]),
            np.maximum(corners[:, 1], corners[:, 3]),
        ],
        axis=1,
    )
    scores = np.asarray(scores, dtype=np.float64).reshape(-1)
    probs = np.asarray(probs, dtype=np.float64).reshape(len(scores), -1)
    best = probs.argmax(axis=1)
    chosen = np.flatnonzero(scores >= spec.score_threshold)
    result = []
    for label in np.unique(best[chosen]):
        mine = chosen[best[chosen] == label]
        for index in mine[nms(corners[mine], scores[mine], iou_threshold=spec.iou_threshold)]:
            x1, y1, x2, y2 = corners[index]
            row = probs[index]
            total = row.sum()
            result.append(
                {
                    "x": float(x1),
                    "y": float(y1),
                    "w": float(x2 - x1),
                    "h": float(y2 - y1),
                    "score": float(scores[index]),
                    "label": spec.class_names[int(label)],
                    "class_probs": [float(p) for p in (row / total if total > 0 else row)],
                }
            )
    result.sort(key=lambda box: -box["score"])
    return result


def _pose_instance(instance: dict, size: tuple[int, int], spec: ModelSpec) -> dict:
    width, height = size
    sx, sy = width / spec.width, height / spec.height
    points = {
        name: [
            round(min(max(x * sx, 0.0), width), 2),
            round(min(max(y * sy, 0.0), height), 2),
            _unit_interval(c),
        ]
        for name, (x, y, c) in instance["points"].items()
    }
    return {
        "label": instance["label"],
        "score": _unit_interval(instance["score"]),
        "points": points,
        "confidences": {name: point[2] for name, point in points.items()},
    }


def _unit_decode(arrays: list[np.ndarray], size: tuple[int, int], spec: ModelSpec) -> dict:
    """One image's raw box-layout outputs to its Prediction.data (image pixels)."""
    layout = spec.output_layout
    if layout == "detection":
        raw = _detection_boxes(arrays[0], arrays[1], arrays[2], spec)
        instances: list[dict] = []
    elif layout == "yolo_detect":
        raw = yolo_detect_decode(
            arrays[0],
            list(spec.class_names),
            score_threshold=spec.score_threshold,
            iou_threshold=spec.iou_threshold,
        )
        instances = []
    else:
        label = spec.class_names[0] if len(spec.class_names) == 1 else "person"
        instances = yolo_pose_decode(
            arrays[0],
            list(spec.keypoint_names),
            label=label,
            score_threshold=spec.score_threshold,
            iou_threshold=spec.iou_threshold,
        )[: spec.max_detections]
        raw = [{**instance, "class_probs": None} for instance in instances]
    boxes = [entry for box in raw if (entry := _box_entry(box, size, spec)) is not None]
    data: dict = {"boxes": boxes[: spec.max_detections]}
    if layout == "yolo_pose":
        data["keypoints"] = [_pose_instance(instance, size, spec) for instance in instances]
    return data


def model_run(
    session: ort.InferenceSession,
    spec: ModelSpec,
    tensor: np.ndarray,
    sizes: list[tuple[int, int]] | None = None,
) -> ModelOutputs:
    """One batch through the model, outputs read per the spec's layout. `sizes` (width,
    height per image) place decoded boxes in the images' pixels (default: the input size).
    A model that fixes its batch size gets the batch in pieces of that size."""
    count = tensor.shape[0]
    fixed = _fixed_batch(session, spec)
    if fixed is not None and fixed != count:
        parts = []
        for start in range(0, count, fixed):
            piece = tensor[start : start + fixed]
            rows = piece.shape[0]
            if rows < fixed:
                pad = np.zeros((fixed - rows, *piece.shape[1:]), dtype=piece.dtype)
                piece = np.concatenate([piece, pad])
            parts.append((piece, rows))
    else:
        parts = [(tensor, count)]
    input_name = spec.input_name or session.get_inputs()[0].name
    available = [output.name for output in session.get_outputs()]
    if spec.output_layout == "detection":
        names = [
            name or available[min(index, len(available) - 1)]
            for index, name in enumerate(spec.detection_outputs)
        ]
    else:
        names = [spec.output_name or available[0]]
    if spec.embedding_output:
        names.append(spec.embedding_output)
    pieces: list[list[np.ndarray]] = [[] for _ in names]
    try:
        for piece, rows in parts:
            for slot, result in enumerate(session.run(names, {input_name: piece})):
                pieces[slot].append(np.asarray(result, dtype=np.float64)[:rows])
    except Exception as error:
        raise ScoringError(f"inference failed: {error}") from error
    results = [np.concatenate(arrays) for arrays in pieces]
    if not all(np.all(np.isfinite(array)) for array in results):
        raise ScoringError("the model produced NaN or infinite outputs")
    outputs = ModelOutputs()
    if spec.embedding_output:
        outputs.embeddings = results.pop().reshape(count, -1)
    if spec.output_layout in BOX_LAYOUTS:
        sizes = sizes or [(spec.width, spec.height)] * count
        try:
            outputs.units = [
                _unit_decode([array[row] for array in results], sizes[row], spec)
                for row in range(count)
            ]
        except (ValueError, IndexError) as error:  # shapes the layout does not fit
            raise ScoringError(
                f"cannot decode the {spec.output_layout} outputs: {error}"
            ) from error
        return outputs
    main = results[0].reshape(count, -1)
    if spec.output_layout == "embedding":
        outputs.embeddings = main
    elif spec.output_layout == "logits":
        outputs.probs = _softmax(main)
    else:
        outputs.probs = main
    return outputs


# Threads reading and decoding pictures ahead of inference: file or S3 reads wait on I/O,
# and OpenCV releases the GIL while it decodes, so they overlap with onnxruntime.
READER_THREADS = 4
_reader_pool: ThreadPoolExecutor | None = None
_reader_pid: int | None = None


def _reader() -> ThreadPoolExecutor:
    global _reader_pool, _reader_pid
    if _reader_pool is None or _reader_pid != os.getpid():  # a forked child needs its own
        _reader_pool = ThreadPoolExecutor(READER_THREADS, thread_name_prefix="scoring-read")
        _reader_pid = os.getpid()
    return _reader_pool


def images_infer(version: ModelVersion, refs: list[ImageRef]) -> tuple[ModelOutputs, list[int]]:
    """Decode and run `refs` in batches of the spec's batch size, reading one batch ahead.
    Returns the outputs and the positions in `refs` they belong to (unreadable pictures are
    left out)."""
    spec = ModelSpec.from_version(version)
    session = model_session(version)
    reader = _reader()
    starts = list(range(0, len(refs), spec.batch_size))

    def read(start: int) -> tuple[np.ndarray, list[Future]]:
        chunk = refs[start : start + spec.batch_size]
        batch = np.empty((len(chunk), *input_shape(spec)), dtype=np.float32)
        return batch, [
            reader.submit(image_load_into, batch, slot, ref, spec) for slot, ref in enumerate(chunk)
        ]

    probs, embeddings, units, kept = [], [], [], []
    ahead = read(starts[0]) if starts else None
    for number, start in enumerate(starts):
        batch, futures = ahead
        if number + 1 < len(starts):
            ahead = read(starts[number + 1])
        sizes = [future.result() for future in futures]
        loaded = np.asarray([size is not None for size in sizes], dtype=bool)
        if not loaded.any():
            continue
        if not loaded.all():
            batch = batch[loaded]
        outputs = model_run(session, spec, batch, [size for size in sizes if size is not None])
        kept.extend(start + int(offset) for offset in np.flatnonzero(loaded))
        if outputs.probs is not None:
            probs.append(outputs.probs)
        if outputs.embeddings is not None:
            embeddings.append(outputs.embeddings)
        if outputs.units is not None:
            units.extend(outputs.units)
    result = ModelOutputs(
        probs=np.concatenate(probs) if probs else None,
        embeddings=np.concatenate(embeddings) if embeddings else None,
        units=units if spec.output_layout in BOX_LAYOUTS else None,
    )
    return result, kept


def asset_features_compute(asset: Asset) -> dict | None:
    """Cheap features as ingest makes them (a colour histogram of the thumbnail), for an
    asset that has none: from its thumbnail, its image, or its first extracted frame."""
    name = asset.thumbnail.name if asset.thumbnail else None
    if not name and asset.kind == Asset.Kind.IMAGE:
        name = asset.file.name
    if not name:
        frame = asset.frames.order_by("index").first()
        name = frame.image.name if frame else None
    if not name:
        return None
    try:
        with default_storage.open(name, "rb") as handle, Image.open(handle) as image:
            image.draft("RGB", (256, 256))
            image.thumbnail((256, 256))
            return {"color_histogram": colour_histogram(image), "bins_per_channel": HISTOGRAM_BINS}
    except (OSError, ValueError, Image.DecompressionBombError) as error:
        logger.warning("cannot make features of asset %s: %s", asset.pk, error)
        return None
