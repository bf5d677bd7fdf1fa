"""Running a model version over images: its spec, a per-process onnxruntime session cache,
decoding stored images at the model's input size, and batched inference.

No database writes here; `activelearn.scoring` decides what to run and stores the results.

A version's spec (JSON) describes how to feed and read the model:

    {"input": {"name": "images", "size": [H, W], "layout": "NCHW" | "NHWC",
               "channel_order": "RGB" | "BGR", "scale": 1/255,
               "mean": [r, g, b], "std": [r, g, b]},
     "output": {"name": "probs", "layout": "probs" | "logits" | "embedding"},
     "embedding_output": "name of an optional second output with embeddings",
     "batch_size": 32}

Flat keys (`input_size`, `channel_order`, `mean`, `std`, `output_layout`) are read too.
Mean and std are given in the spec's channel order, on the scaled values.
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

from activelearn.models import ModelVersion
from annotate.ingest.images import HISTOGRAM_BINS, colour_histogram
from annotate.models import Asset

logger = logging.getLogger(__name__)

SESSION_CACHE_SIZE = 4
DEFAULT_BATCH_SIZE = 32
OUTPUT_LAYOUTS = ("probs", "logits", "embedding")


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
        if problems:
            raise ScoringError(f"spec of {version}: " + "; ".join(problems))
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


def image_load_into(batch: np.ndarray, slot: int, ref: ImageRef, spec: ModelSpec) -> bool:
    """Read, decode and normalise one stored picture into `batch[slot]`. False (logged) when
    it is missing or unreadable, so one broken file does not stop a whole run."""
    try:
        with default_storage.open(ref.name, "rb") as handle:
            data = handle.read()
        image_to_input(image_decode(data, ref, spec), spec, out=batch[slot])
        return True
    except (OSError, ScoringError) as error:
        logger.warning("cannot read %s for scoring: %s", ref.name, error)
        return False


@dataclass
class ModelOutputs:
    """Per image: class probabilities `[n, classes]` and/or embeddings `[n, dims]`."""

    probs: np.ndarray | None = None
    embeddings: np.ndarray | None = None


def _softmax(logits: np.ndarray) -> np.ndarray:
    shifted = logits - logits.max(axis=1, keepdims=True)
    exp = np.exp(shifted)
    return exp / exp.sum(axis=1, keepdims=True)


def model_run(session: ort.InferenceSession, spec: ModelSpec, tensor: np.ndarray) -> ModelOutputs:
    """One batch through the model, outputs read per the spec's layout."""
    input_name = spec.input_name or session.get_inputs()[0].name
    output_name = spec.output_name or session.get_outputs()[0].name
    names = [output_name] + ([spec.embedding_output] if spec.embedding_output else [])
    try:
        results = session.run(names, {input_name: tensor})
    except Exception as error:
        raise ScoringError(f"inference failed: {error}") from error
    main = np.asarray(results[0], dtype=np.float64).reshape(tensor.shape[0], -1)
    outputs = ModelOutputs()
    if spec.output_layout == "embedding":
        outputs.embeddings = main
    elif spec.output_layout == "logits":
        outputs.probs = _softmax(main)
    else:
        outputs.probs = main
    if spec.embedding_output:
        outputs.embeddings = np.asarray(results[1], dtype=np.float64).reshape(tensor.shape[0], -1)
    if not all(
        np.all(np.isfinite(a)) for a in (outputs.probs, outputs.embeddings) if a is not None
    ):
        raise ScoringError("the model produced NaN or infinite outputs")
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

    probs, embeddings, kept = [], [], []
    ahead = read(starts[0]) if starts else None
    for number, start in enumerate(starts):
        batch, futures = ahead
        if number + 1 < len(starts):
            ahead = read(starts[number + 1])
        loaded = np.asarray([future.result() for future in futures], dtype=bool)
        if not loaded.any():
            continue
        if not loaded.all():
            batch = batch[loaded]
        outputs = model_run(session, spec, batch)
        kept.extend(start + int(offset) for offset in np.flatnonzero(loaded))
        if outputs.probs is not None:
            probs.append(outputs.probs)
        if outputs.embeddings is not None:
            embeddings.append(outputs.embeddings)
    result = ModelOutputs(
        probs=np.concatenate(probs) if probs else None,
        embeddings=np.concatenate(embeddings) if embeddings else None,
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
