"""A model version's spec: the one reader of the JSON that says how to feed and read an ONNX
model, used by the checkpoint upload (activelearn.versions.services, and the check child
process activelearn.inference.check) and by scoring (activelearn.inference.runtime), with the
one table of output layouts.

    {"input": {"name": "images", "size": [H, W], "layout": "NCHW" | "NHWC",
               "channel_order": "RGB" | "BGR", "scale": 1/255,
               "mean": [r, g, b], "std": [r, g, b]},
     "output": {"name": "probs", "layout": "probs" | "logits" | "embedding" | "detection"
                | "yolo_detect" | "yolo_pose"},
     "embedding_output": "name of an optional second output with embeddings",
     "class_names": [...], "keypoint_names": [...],   # default: the project's
     "task_type": "classification" | ...,             # default: the layout's
     "batch_size": 32}

Flat keys (`input_size`, `channel_order`, `mean`, `std`, `output_layout`) are read too.
Mean and std are given in the spec's channel order, on the scaled values. "detection" reads
three outputs (`output.boxes` [N, B, 4], `output.scores` [N, B], `output.class_probs`
[N, B, C]; default the model's first three), boxes as `output.box_format` "xyxy" (default) |
"xywh" | "cxcywh" in input pixels, or in 0..1 with `"normalized": true`.
`output.score_threshold` (0.25), `output.iou_threshold` (0.45) and `output.max_detections`
(100) bound what box layouts keep.

No Django here (the check child process imports it); the version is read by attribute only.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING

from activelearn.strategies import BOXES, CLASS_PROBS, EMBEDDINGS, KEYPOINTS

if TYPE_CHECKING:
    from activelearn.models import ModelVersion

DEFAULT_BATCH_SIZE = 32
MAX_INPUT_SIDE = 8192
BOX_FORMATS = ("xyxy", "xywh", "cxcywh")
# ModelVersion.TaskType's values (a test keeps them equal; this module cannot import models).
TASK_TYPES = ("classification", "detection", "keypoints", "embedding")


class ScoringError(Exception):
    """A model version or its inputs cannot be scored; the message says why, for the run's
    error field and the admin."""


class SpecInvalid(ScoringError):
    """A spec refused; `problems` lists (field, message), the field as an upload names it
    ("spec.input.size")."""

    def __init__(self, problems: list[tuple[str, str]]) -> None:
        super().__init__("; ".join(f"{field}: {message}" for field, message in problems))
        self.problems = problems


@dataclass(frozen=True)
class OutputLayout:
    """How a model's outputs are read: the task type a version with it has (when its spec
    names none), what its predictions give the strategies (Strategy.needs), what its outputs
    carry (for messages), and whether it is decoded per image into boxes."""

    name: str
    task_type: str
    gives: frozenset[str]
    meaning: str
    boxes: bool = False
    needs_class_names: bool = False
    needs_keypoint_names: bool = False


# Every box comes with class probabilities: the detector's own, or one class's score spread
# as pushed boxes get it.
OUTPUT_LAYOUTS: dict[str, OutputLayout] = {
    layout.name: layout
    for layout in (
        OutputLayout("probs", "classification", frozenset({CLASS_PROBS}), "class probabilities"),
        OutputLayout("logits", "classification", frozenset({CLASS_PROBS}), "class scores (logits)"),
        OutputLayout("embedding", "embedding", frozenset({EMBEDDINGS}), "embeddings"),
        OutputLayout(
            "detection",
            "detection",
            frozenset({BOXES}),
            "boxes, scores and class probabilities",
            boxes=True,
            needs_class_names=True,
        ),
        OutputLayout(
            "yolo_detect",
            "detection",
            frozenset({BOXES}),
            "boxes and class scores",
            boxes=True,
            needs_class_names=True,
        ),
        OutputLayout(
            "yolo_pose",
            "keypoints",
            frozenset({BOXES, KEYPOINTS}),
            "boxes, scores and keypoints",
            boxes=True,
            needs_keypoint_names=True,
        ),
    )
}


def declared_layout(spec: dict, task_type: str | None) -> str:
    """The output layout a stored spec names (default by the task type), as scoring reads it."""
    output = spec.get("output") if isinstance(spec.get("output"), dict) else {}
    default = "embedding" if (spec.get("task_type") or task_type) == "embedding" else "probs"
    return str(output.get("layout") or spec.get("output_layout") or default)


def _positive(value: object, limit: int | None = None) -> bool:
    return (
        isinstance(value, int)
        and not isinstance(value, bool)
        and value > 0
        and (limit is None or value <= limit)
    )


def _names(value: object) -> bool:
    return isinstance(value, list | tuple) and all(isinstance(n, str) and n for n in value)


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

    @property
    def output(self) -> OutputLayout:
        return OUTPUT_LAYOUTS[self.output_layout]

    @classmethod
    def parse(
        cls,
        spec: dict,
        *,
        task_type: str | None = None,
        default_layout: str | None = None,
        project_names: Callable[[], tuple[list[str], list[str]]] | None = None,
    ) -> ModelSpec:
        """Read and check `spec`; raises SpecInvalid listing every problem. `task_type`: the
        version's, when the spec names none; `default_layout`: the output layout when the
        spec names none (None: it must name one). `project_names` gives the project's class
        and keypoint names, asked only when a box layout's spec lacks them."""
        source = spec.get("input") if isinstance(spec.get("input"), dict) else {}
        output = spec.get("output") if isinstance(spec.get("output"), dict) else {}
        problems: list[tuple[str, str]] = []
        size = source.get("size", spec.get("input_size"))
        if isinstance(size, int) and not isinstance(size, bool):
            size = [size, size]
        if not (
            isinstance(size, list | tuple)
            and len(size) == 2
            and all(_positive(v, MAX_INPUT_SIDE) for v in size)
        ):
            problems.append(
                (
                    "spec.input.size",
                    f"Give the input size as [height, width] in pixels, not {size!r}.",
                )
            )
            size = (1, 1)
        layout = str(source.get("layout") or spec.get("layout") or "NCHW").upper()
        if layout not in ("NCHW", "NHWC"):
            problems.append(("spec.input.layout", f"NCHW or NHWC, not {layout!r}."))
        order = str(source.get("channel_order") or spec.get("channel_order") or "RGB").upper()
        if order not in ("RGB", "BGR"):
            problems.append(("spec.input.channel_order", f"RGB or BGR, not {order!r}."))
        output_layout = output.get("layout") or spec.get("output_layout") or default_layout
        if output_layout not in OUTPUT_LAYOUTS:
            problems.append(("spec.output.layout", f"One of: {', '.join(OUTPUT_LAYOUTS)}."))
            raise SpecInvalid(problems)
        kind = OUTPUT_LAYOUTS[output_layout]
        class_names = spec.get("class_names")
        keypoint_names = spec.get("keypoint_names")
        if kind.boxes and project_names is not None and None in (class_names, keypoint_names):
            project_classes, project_keypoints = project_names()
            class_names = project_classes if class_names is None else class_names
            keypoint_names = project_keypoints if keypoint_names is None else keypoint_names
        class_names = [] if class_names is None else class_names
        keypoint_names = [] if keypoint_names is None else keypoint_names
        for field, names in (("class_names", class_names), ("keypoint_names", keypoint_names)):
            if not _names(names):
                problems.append((f"spec.{field}", "A list of names."))
        if kind.needs_class_names and not class_names:
            problems.append(("spec.class_names", f"A {output_layout} model needs class names."))
        if kind.needs_keypoint_names and not keypoint_names:
            problems.append(("spec.keypoint_names", "A pose model needs keypoint names."))
        task_type = spec.get("task_type") or task_type or kind.task_type
        if task_type not in TASK_TYPES:
            problems.append(("spec.task_type", f"One of: {', '.join(TASK_TYPES)}."))
        try:
            mean = tuple(float(v) for v in source.get("mean", spec.get("mean", (0.0, 0.0, 0.0))))
            std = tuple(float(v) for v in source.get("std", spec.get("std", (1.0, 1.0, 1.0))))
            scale = float(source.get("scale", spec.get("scale", 1.0 / 255.0)))
        except (TypeError, ValueError):
            problems.append(("spec.input", "scale, mean and std must be numbers."))
            mean, std, scale = (0.0, 0.0, 0.0), (1.0, 1.0, 1.0), 1.0
        if len(mean) != 3 or len(std) != 3 or not all(v > 0 for v in std):
            problems.append(("spec.input", "mean and std need 3 values each, std > 0."))
        batch_size = spec.get("batch_size", DEFAULT_BATCH_SIZE)
        if not _positive(batch_size):
            problems.append(("spec.batch_size", f"A positive integer, not {batch_size!r}."))
        box_format = str(output.get("box_format") or "xyxy").lower()
        if box_format not in BOX_FORMATS:
            problems.append(("spec.output.box_format", f"One of: {', '.join(BOX_FORMATS)}."))
        try:
            score_threshold = float(output.get("score_threshold", 0.25))
            iou_threshold = float(output.get("iou_threshold", 0.45))
        except (TypeError, ValueError):
            problems.append(("spec.output", "score_threshold and iou_threshold must be numbers."))
            score_threshold, iou_threshold = 0.25, 0.45
        max_detections = output.get("max_detections", 100)
        if not _positive(max_detections):
            problems.append(
                ("spec.output.max_detections", f"A positive integer, not {max_detections!r}.")
            )
        if problems:
            raise SpecInvalid(problems)
        fallback = output.get("name")
        return cls(
            task_type=task_type,
            input_name=source.get("name") or spec.get("input_name"),
            height=int(size[0]),
            width=int(size[1]),
            layout=layout,
            channel_order=order,
            scale=scale,
            mean=mean,
            std=std,
            output_name=output.get("name") or spec.get("output_name"),
            output_layout=output_layout,
            embedding_output=spec.get("embedding_output"),
            batch_size=int(batch_size),
            class_names=tuple(class_names),
            keypoint_names=tuple(keypoint_names),
            detection_outputs=tuple(
                output.get(key) or fallback for key in ("boxes", "scores", "class_probs")
            ),
            box_format=box_format,
            normalized_boxes=bool(output.get("normalized", False)),
            score_threshold=score_threshold,
            iou_threshold=iou_threshold,
            max_detections=int(max_detections),
        )

    @classmethod
    def from_version(cls, version: ModelVersion) -> ModelSpec:
        """The spec of a stored version, as scoring runs it; ScoringError saying which
        version and why when it cannot be read."""

        def project_names() -> tuple[list[str], list[str]]:
            project = version.project
            classes = project.label_classes.order_by("order", "id").values_list("name", flat=True)
            keypoints = list(project.keypoint_names) if project.keypoints_enabled else []
            return list(classes), keypoints

        spec = version.spec or {}
        try:
            return cls.parse(
                spec,
                task_type=version.task_type,
                default_layout=declared_layout(spec, version.task_type),
                project_names=project_names,
            )
        except SpecInvalid as error:
            raise ScoringError(f"spec of {version}: {error}") from error
