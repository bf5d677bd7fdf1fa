"""Running a model version over images: a per-process onnxruntime session cache, decoding
stored images at the model's input size, and batched inference (outputs read per the
version's ModelSpec, activelearn.inference.spec; box layouts decoded by
activelearn.inference.decode).

No database writes here; `activelearn.scoring.runs` decides what to run and stores the results.
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

from activelearn.inference.decode import unit_decode
from activelearn.inference.spec import ModelSpec, ScoringError
from activelearn.models import ModelVersion
from annotate.ingest.images import HISTOGRAM_BINS, colour_histogram
from annotate.models import Asset

logger = logging.getLogger(__name__)

SESSION_CACHE_SIZE = 4


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
        if not (ref.width and ref.height) and spec.output.boxes:
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
    if spec.output.boxes:
        sizes = sizes or [(spec.width, spec.height)] * count
        try:
            outputs.units = [
                unit_decode([array[row] for array in results], sizes[row], spec)
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
        units=units if spec.output.boxes else None,
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
