"""The child process that loads an uploaded ONNX checkpoint and runs one dummy batch, under a
memory limit (RLIMIT_AS), so a hostile or broken file cannot take the web worker down.

    python -m activelearn.inference.check MODEL_PATH < spec.json
    -> one JSON line: {"ok": true, "outputs": {...}} or {"ok": false, "field": ..., "error": ...}

No Django here: only numpy, onnxruntime and the Django-free inference modules (the spec is
read by the same ModelSpec as scoring reads it). The parent (activelearn.versions.services)
has already refused non-ONNX files, external data and custom operator domains.
"""

from __future__ import annotations

import json
import sys

import numpy as np

from activelearn.inference.spec import OUTPUT_LAYOUTS, ModelSpec, SpecInvalid
from activelearn.inference.yolo import yolo_detect_decode, yolo_pose_decode


class CheckFailed(Exception):
    def __init__(self, field: str, message: str) -> None:
        super().__init__(message)
        self.field = field
        self.message = message


def _dims(shape) -> list:
    return [d if isinstance(d, int) else None for d in shape]


def input_shape_for(spec: ModelSpec, name: str, declared_shape: list) -> list[int]:
    """The dummy batch's shape: the spec's size and layout, batch 2 unless the model fixes
    it. Refused when a fixed dimension of the model disagrees with the spec."""
    layout = spec.layout
    wanted = [3, spec.height, spec.width] if layout == "NCHW" else [spec.height, spec.width, 3]
    dims = _dims(declared_shape)
    if len(dims) != 4:
        raise CheckFailed(
            f"input {name}", f"the model takes a rank-{len(dims)} input; expected a {layout} batch"
        )
    for axis, (model_dim, spec_dim) in enumerate(zip(dims[1:], wanted, strict=True), start=1):
        if model_dim is not None and model_dim != spec_dim:
            raise CheckFailed(
                f"input {name}",
                f"the model expects shape {declared_shape}, the spec declares {layout} "
                f"{wanted} (axis {axis}: {model_dim} != {spec_dim})",
            )
    batch = dims[0] if dims[0] is not None else 2
    return [batch, *wanted]


def _shape_error(name: str, array: np.ndarray, expected: str) -> CheckFailed:
    return CheckFailed(f"output {name}", f"shape {list(array.shape)}, expected {expected}")


# What the detection layout's three outputs carry, for the message when one is not made of
# real numbers (a whole layout's output: OutputLayout.meaning).
DETECTION_PARTS = {
    "boxes": "box coordinates",
    "scores": "box scores",
    "class_probs": "class probabilities",
}


def _floats(name: str, array: np.ndarray, meaning: str) -> None:
    """Probabilities, coordinates and embeddings are real numbers: an integer or boolean
    output would be accepted by every shape check and then score nonsense."""
    if array.dtype.kind != "f":
        raise CheckFailed(
            f"output {name}",
            f"the values are {array.dtype} but {meaning} must be floating-point numbers "
            "(float16, float32 or float64); export the model without casting its output",
        )


def outputs_check(spec: ModelSpec, outputs: dict[str, np.ndarray], batch: int) -> dict:
    """Check the model's outputs against the declared layout; returns a summary per output."""
    layout = spec.output_layout
    meaning = OUTPUT_LAYOUTS[layout].meaning
    classes = list(spec.class_names)
    keypoints = list(spec.keypoint_names)

    def found(name: str | None, default_index: int = 0) -> tuple[str, np.ndarray]:
        name = name or list(outputs)[default_index]
        if name not in outputs:
            raise CheckFailed(
                f"output {name}", f"no such output; the model has {', '.join(outputs)}"
            )
        return name, np.asarray(outputs[name])

    def finite(name: str, array: np.ndarray, meaning: str) -> None:
        _floats(name, array, meaning)
        if not np.all(np.isfinite(array)):
            raise CheckFailed(f"output {name}", "NaN or infinite values on the dummy batch")

    summary = {}
    if layout in ("probs", "logits"):
        name, array = found(spec.output_name)
        if array.ndim != 2 or array.shape[0] != batch:
            raise _shape_error(name, array, f"[{batch}, {len(classes)}] (batch, classes)")
        if array.shape[1] != len(classes):
            raise CheckFailed(
                f"output {name}",
                f"{array.shape[1]} class values, but the spec names {len(classes)} classes",
            )
        finite(name, array, meaning)
        if layout == "probs" and not np.allclose(array.sum(axis=1), 1.0, atol=1e-3):
            raise CheckFailed(
                f"output {name}", "declared as probabilities but rows do not sum to 1"
            )
        summary[name] = list(array.shape)
    elif layout == "embedding":
        name, array = found(spec.output_name)
        if array.ndim != 2 or array.shape[0] != batch or array.shape[1] < 1:
            raise _shape_error(name, array, f"[{batch}, D] (batch, dimensions)")
        finite(name, array, meaning)
        summary[name] = list(array.shape)
    elif layout == "detection":
        boxes_name, boxes = found(spec.detection_outputs[0])
        scores_name, scores = found(spec.detection_outputs[1], 1)
        probs_name, probs = found(spec.detection_outputs[2], 2)
        if boxes.ndim != 3 or boxes.shape[0] != batch or boxes.shape[2] != 4:
            raise _shape_error(boxes_name, boxes, f"[{batch}, B, 4]")
        count = boxes.shape[1]
        if scores.shape != (batch, count):
            raise _shape_error(scores_name, scores, f"[{batch}, {count}]")
        if probs.ndim != 3 or probs.shape[:2] != (batch, count):
            raise _shape_error(probs_name, probs, f"[{batch}, {count}, {len(classes)}]")
        if probs.shape[2] != len(classes):
            raise CheckFailed(
                f"output {probs_name}",
                f"{probs.shape[2]} class values, but the spec names {len(classes)} classes",
            )
        parts = (("boxes", boxes_name, boxes), ("scores", scores_name, scores))
        for key, name, array in (*parts, ("class_probs", probs_name, probs)):
            finite(name, array, DETECTION_PARTS[key])
            summary[name] = list(array.shape)
    elif layout in ("yolo_detect", "yolo_pose"):
        name, array = found(spec.output_name)
        expected = 4 + len(classes) if layout == "yolo_detect" else 5 + 3 * len(keypoints)
        what = (
            f"4 + {len(classes)} classes"
            if layout == "yolo_detect"
            else f"4 + 1 + {len(keypoints)} keypoints x 3"
        )
        if array.ndim != 3 or array.shape[0] != batch:
            raise _shape_error(name, array, f"[{batch}, {what}, anchors]")
        if array.shape[1] != expected:
            raise CheckFailed(
                f"output {name}",
                f"{array.shape[1]} values per anchor, expected {expected} ({what})",
            )
        finite(name, array, meaning)
        try:  # the decoder must accept what the model makes
            if layout == "yolo_detect":
                yolo_detect_decode(array[:1], classes)
            else:
                yolo_pose_decode(array[:1], keypoints)
        except ValueError as error:
            raise CheckFailed(f"output {name}", str(error)) from error
        summary[name] = list(array.shape)
    else:
        raise CheckFailed("output", f"unknown output layout {layout!r}")
    return summary


def check(model_path: str, raw_spec: dict) -> dict:
    import onnxruntime as ort

    try:
        spec = ModelSpec.parse(raw_spec)
    except SpecInvalid as error:
        raise CheckFailed(*error.problems[0]) from error
    options = ort.SessionOptions()
    options.log_severity_level = 3
    options.intra_op_num_threads = 1
    options.inter_op_num_threads = 1
    try:
        session = ort.InferenceSession(
            model_path, sess_options=options, providers=["CPUExecutionProvider"]
        )
    except Exception as error:  # onnxruntime raises its own types
        raise CheckFailed("file", f"onnxruntime cannot load the model: {error}") from error
    inputs = session.get_inputs()
    name = spec.input_name or inputs[0].name
    declared = next((i for i in inputs if i.name == name), None)
    if declared is None:
        raise CheckFailed(
            f"input {name}", f"no such input; the model has {', '.join(i.name for i in inputs)}"
        )
    if len(inputs) != 1:
        raise CheckFailed("input", f"the model takes {len(inputs)} inputs; one image batch is run")
    shape = input_shape_for(spec, name, declared.shape)
    dummy = np.random.default_rng(0).random(shape, dtype=np.float32)
    names = [o.name for o in session.get_outputs()]
    try:
        results = session.run(names, {name: dummy})
    except Exception as error:
        raise CheckFailed(f"input {name}", f"the dummy batch {shape} fails: {error}") from error
    return outputs_check(spec, dict(zip(names, results, strict=True)), shape[0])


def main() -> int:
    import resource

    model_path = sys.argv[1]
    spec = json.loads(sys.stdin.read())
    limit = int(spec.get("memory_bytes") or 0)
    if limit:
        resource.setrlimit(resource.RLIMIT_AS, (limit, limit))
    try:
        outputs = check(model_path, spec)
        print(json.dumps({"ok": True, "outputs": outputs}))
    except CheckFailed as failure:
        print(json.dumps({"ok": False, "field": failure.field, "error": failure.message}))
    except MemoryError:
        print(json.dumps({"ok": False, "field": "file", "error": "the memory limit was exceeded"}))
    return 0


if __name__ == "__main__":
    sys.exit(main())
