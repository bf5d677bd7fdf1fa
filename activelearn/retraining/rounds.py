"""The retraining loop: after every `retrain_every_accepted` accepted labels (or submitted ones,
when the project's `retrain_counts` says so), a round starts.
It exports the accepted labels, tells the project's webhooks ("labels.ready", with the export's
link), and retrains the built-in baseline in a worker:

- examples: each accepted image's box crops (labelled with the box's class) and the whole
  image when all its boxes share one class (an image class);
- features made with OpenCV: the picture (or crop) area-resized to 16x16, RGB, scaled to
  [0, 1], flattened - the same decode and resize scoring applies, so the ONNX file takes the
  image tensor scoring feeds (`[N, 3, 16, 16]`, NCHW) and reshapes it to the feature vector;
- scikit-learn's logistic regression (activelearn.retraining.baseline), exported with skl2onnx;
- measured on a validation slice never trained on: a task is in it when a hash of
  (project, task) falls below VALIDATION_FRACTION, so membership is random but fixed forever,
  and no later version is ever measured on a task an earlier one trained on;
- never trained on the random audit's tasks either (annotate.queue.audit): they are the
  uniform sample activelearn.audit measures every version on;
- registered as a ModelVersion (kind baseline, with labels_at_training and metrics) and
  activated when its accuracy on the slice beats the active baseline's on the same slice,
  or at once when no model is active (the first model, even before the slice holds enough
  labels to measure it); activation starts rescoring. While a user's own checkpoint or
  pushed predictions are active the new baseline is stored and measured but not activated
  over them: the user chose that model, and can activate the baseline by hand.
"""

from __future__ import annotations

import hashlib
import logging
from dataclasses import dataclass

import cv2
import numpy as np
import onnx
from django.conf import settings
from django.core.files.base import ContentFile
from django.core.files.storage import default_storage
from django.db import transaction
from django.urls import reverse
from onnx import TensorProto, helper, numpy_helper

from activelearn.inference.runtime import (
    ImageRef,
    image_decode,
    image_to_input,
    model_run,
    model_session,
)
from activelearn.inference.spec import ModelSpec, ScoringError
from activelearn.models import LearningSettings, ModelVersion, RetrainingRound
from activelearn.retraining.baseline import baseline_fit
from activelearn.scoring.runs import audit_measure_request
from activelearn.scoring.validation_slice import in_validation_slice
from activelearn.versions.services import CheckpointError, checkpoint_activate
from activelearn.webhooks.delivery import webhooks_notify
from annotate.exchange.services import export_create
from annotate.jobs import job_claim, job_enqueue, job_fail, job_finish
from annotate.models import Annotation, AnnotationTask, Project

logger = logging.getLogger(__name__)

FEATURE_SIZE = 16
MIN_VALIDATION_EXAMPLES = 2
LABELS_READY = "labels.ready"


def baseline_spec(class_names: list[str]) -> dict:
    """The spec of a trained baseline, as activelearn.inference.spec reads it."""
    return {
        "task_type": ModelVersion.TaskType.CLASSIFICATION,
        "input": {
            "name": "images",
            "size": [FEATURE_SIZE, FEATURE_SIZE],
            "layout": "NCHW",
            "channel_order": "RGB",
            "scale": 1.0 / 255.0,
            "mean": [0.0, 0.0, 0.0],
            "std": [1.0, 1.0, 1.0],
        },
        "output": {"name": "probabilities", "layout": "probs"},
        "class_names": class_names,
        "features": f"{FEATURE_SIZE}x{FEATURE_SIZE} RGB pixels (OpenCV area resize), "
        "standardised; logistic regression",
    }


# --- starting rounds ----------------------------------------------------------------------------


# Which task states a round counts and trains on, by LearningSettings.retrain_counts: the
# same sets as an export's state filter, so the export a webhook gets holds the same labels.
COUNTED_STATES = {
    LearningSettings.RetrainCounts.ACCEPTED: (AnnotationTask.State.ACCEPTED,),
    LearningSettings.RetrainCounts.SUBMITTED: AnnotationTask.State.LABELED,
}


def counted_states(project: Project) -> tuple[str, ...]:
    return COUNTED_STATES[LearningSettings.for_project(project).retrain_counts]


def accepted_count(project: Project) -> int:
    """The labels a round counts: accepted ones, or submitted ones for a project set so."""
    return AnnotationTask.objects.filter(
        project=project, state__in=counted_states(project), gold_of__isnull=True
    ).count()


def labels_accepted(*, project_id: int) -> RetrainingRound | None:
    """Called after a review accepts work (annotate's LABELS_ACCEPTED event): start a round
    when `retrain_every_accepted` labels were accepted since the last round."""
    return _round_maybe_start(project_id, LearningSettings.RetrainCounts.ACCEPTED)


def labels_submitted(*, project_id: int) -> RetrainingRound | None:
    """Called after a submission (annotate's LABELS_SUBMITTED event): for a project whose
    rounds count submitted labels, start one every `retrain_every_accepted` of them."""
    return _round_maybe_start(project_id, LearningSettings.RetrainCounts.SUBMITTED)


def _round_maybe_start(project_id: int, counts: str) -> RetrainingRound | None:
    # One query on every submission of a project that counts accepted labels.
    learning = LearningSettings.objects.filter(project_id=project_id).first()
    learning = learning or LearningSettings(project_id=project_id)
    every = learning.retrain_every_accepted
    # Each project listens to one of the two events: the other never changes its count.
    if not every or learning.retrain_counts != counts:
        return None
    project = Project.objects.get(pk=project_id)
    with transaction.atomic():
        # One event at a time decides, so a burst of them starts one round.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        count = accepted_count(project)
        last = (
            RetrainingRound.objects.filter(project=project)
            .order_by("-accepted_count")
            .values_list("accepted_count", flat=True)
            .first()
        ) or 0
        if count - last < every:
            return None
        return retraining_round_start(project=project, count=count)


def _absolute(path: str) -> str:
    return getattr(settings, "SITE_URL", "").rstrip("/") + path


def retraining_round_start(*, project: Project, count: int | None = None) -> RetrainingRound:
    """Export, notify the webhooks and queue the baseline's retraining, all sent after
    commit. Also the manual start (count: the accepted labels now)."""
    if count is None:
        count = accepted_count(project)
    with transaction.atomic():
        round_ = RetrainingRound.objects.create(project=project, accepted_count=count)
        job = export_create(
            project=project,
            user=None,
            format="coco",
            state_filter=LearningSettings.for_project(project).retrain_counts,
        )
        round_.export_job = job
        round_.save()
        webhooks_notify(
            project_id=project.pk,
            event=LABELS_READY,
            payload={
                "project": {"id": project.pk, "name": project.name},
                "accepted_labels": count,
                "round": round_.pk,
                "export": {
                    "id": job.pk,
                    "format": job.format,
                    "url": _absolute(reverse("api-export-detail", args=[job.pk])),
                    "download_url": _absolute(reverse("api-export-download", args=[job.pk])),
                },
            },
        )
        # The broker down: the round stays queued saying so, and the jobs sweep sends it.
        job_enqueue(round_)
    return round_


# --- examples and features ----------------------------------------------------------------------


@dataclass(frozen=True)
class Example:
    task_id: int
    image: ImageRef
    label: str
    box: tuple[float, float, float, float] | None  # x, y, w, h in pixels; None: whole image


def audit_task_ids(project: Project) -> set[int]:
    """The project's tasks drawn for the random audit (annotate.queue.audit)."""
    return set(
        AnnotationTask.objects.filter(project=project, audit_drawn_at__isnull=False).values_list(
            "pk", flat=True
        )
    )


def accepted_examples(project: Project) -> list[Example]:
    """Whole images (one class) and box crops of the counted (accepted, or submitted) image
    tasks, by their latest annotation version."""
    tasks = list(
        AnnotationTask.objects.filter(
            project=project,
            state__in=counted_states(project),
            kind=AnnotationTask.Kind.IMAGE,
            gold_of__isnull=True,  # gold copies are attempts, not training labels
        )
        .select_related("asset")
        .order_by("pk")
    )
    latest: dict[int, Annotation] = {}
    for annotation in (
        Annotation.objects.filter(task__in=tasks)
        .order_by("task_id", "-version")
        .prefetch_related("boxes__label_class")
    ):
        latest.setdefault(annotation.task_id, annotation)
    examples: list[Example] = []
    for task in tasks:
        annotation = latest.get(task.pk)
        if annotation is None:
            continue
        ref = ImageRef(task.asset.file.name, task.asset.width, task.asset.height)
        boxes = [box for box in annotation.boxes.all() if box.frame_id is None]
        names = {box.label_class.name for box in boxes}
        if len(names) == 1:
            examples.append(Example(task.pk, ref, names.pop(), None))
        examples.extend(
            Example(task.pk, ref, box.label_class.name, (box.x, box.y, box.w, box.h))
            for box in boxes
        )
    return examples


def _crop(image: np.ndarray, box: tuple[float, float, float, float], spec: ModelSpec):
    height, width = image.shape[:2]
    x, y, w, h = box
    left, top = int(max(0, min(width - 1, np.floor(x)))), int(max(0, min(height - 1, np.floor(y))))
    right = int(max(left + 1, min(width, np.ceil(x + w))))
    bottom = int(max(top + 1, min(height, np.ceil(y + h))))
    crop = image[top:bottom, left:right]
    shrinking = crop.shape[1] > spec.width or crop.shape[0] > spec.height
    interpolation = cv2.INTER_AREA if shrinking else cv2.INTER_LINEAR
    return cv2.resize(crop, (spec.width, spec.height), interpolation=interpolation)


def examples_to_tensor(examples: list[Example], spec: ModelSpec) -> tuple[np.ndarray, list[int]]:
    """The model input for each example (`[n, 3, S, S]` float32) and the positions kept
    (unreadable pictures are left out, logged)."""
    tensor = np.empty((len(examples), 3, spec.height, spec.width), dtype=np.float32)
    kept: list[int] = []
    cache: dict[str, np.ndarray | None] = {}
    for position, example in enumerate(examples):
        try:
            if example.box is None:
                with default_storage.open(example.image.name, "rb") as handle:
                    picture = image_decode(handle.read(), example.image, spec)
            else:
                if example.image.name not in cache:
                    with default_storage.open(example.image.name, "rb") as handle:
                        data = np.frombuffer(handle.read(), np.uint8)
                    cache[example.image.name] = cv2.imdecode(data, cv2.IMREAD_COLOR)
                full = cache[example.image.name]
                if full is None:
                    raise ScoringError(f"cannot decode {example.image.name}")
                picture = _crop(full, example.box, spec)
        except (OSError, ScoringError) as error:
            logger.warning("retraining skips %s: %s", example.image.name, error)
            continue
        image_to_input(picture, spec, out=tensor[len(kept)])
        kept.append(position)
    return tensor[: len(kept)], kept


# --- the model file -----------------------------------------------------------------------------


def baseline_to_onnx(model, *, feature_size: int = FEATURE_SIZE) -> bytes:
    """The fitted scaler + logistic regression as ONNX, taking the image tensor scoring feeds:
    a Reshape from `[N, 3, S, S]` to `[N, 3*S*S]` is put in front of skl2onnx's graph."""
    from skl2onnx import convert_sklearn
    from skl2onnx.common.data_types import FloatTensorType
    from sklearn.pipeline import Pipeline

    dims = 3 * feature_size * feature_size
    pipeline = Pipeline([("scaler", model.scaler), ("classifier", model.classifier)])
    converted = convert_sklearn(
        pipeline,
        initial_types=[("features", FloatTensorType([None, dims]))],
        options={id(model.classifier): {"zipmap": False}},
        target_opset=17,
    )
    graph = converted.graph
    del graph.input[:]
    graph.input.append(
        helper.make_tensor_value_info(
            "images", TensorProto.FLOAT, ["N", 3, feature_size, feature_size]
        )
    )
    graph.initializer.append(
        numpy_helper.from_array(np.asarray([-1, dims], dtype=np.int64), "features_shape")
    )
    graph.node.insert(0, helper.make_node("Reshape", ["images", "features_shape"], ["features"]))
    # Only the probabilities: scoring reads the first output.
    for output in list(graph.output):
        if output.name != "probabilities":
            graph.output.remove(output)
    onnx.checker.check_model(converted)
    return converted.SerializeToString()


def accuracy_of(version: ModelVersion, tensor: np.ndarray, labels: list[str]) -> float | None:
    """Accuracy of a version on prepared inputs, or None when it cannot be compared (not a
    classifier with class names, or another input size)."""
    names = (version.spec or {}).get("class_names")
    if not names or not len(labels):
        return None
    try:
        spec = ModelSpec.from_version(version)
        if (spec.height, spec.width, spec.layout) != (tensor.shape[2], tensor.shape[3], "NCHW"):
            return None
        outputs = model_run(model_session(version), spec, tensor)
    except ScoringError as error:
        logger.warning("cannot measure %s: %s", version, error)
        return None
    if outputs.probs is None or outputs.probs.shape[1] != len(names):
        return None
    predicted = np.asarray(names)[outputs.probs.argmax(axis=1)]
    return float(np.mean(predicted == np.asarray(labels)))


# --- one round ----------------------------------------------------------------------------------


def _finish(round_id: int, state: str, note: str = "", **fields) -> str:
    job_finish(RetrainingRound, round_id, state=state, note=note, **fields)
    return state


def retraining_round_run(*, round_id: int) -> str:
    """Train, measure, register and maybe activate. Claimed with a compare-and-set, so a
    redelivered message finds the round taken and does nothing; a round whose worker died
    is queued again by the jobs sweep (annotate.jobs), and a new run redoes it whole."""
    if not job_claim(RetrainingRound, round_id, note=""):
        return "taken"
    round_ = RetrainingRound.objects.select_related("project").get(pk=round_id)
    project = round_.project
    try:
        state = _train(round_, project)
    except Exception as error:
        logger.exception("retraining round %s failed", round_id)
        reason = f"{type(error).__name__}: {error}"
        # The note too: the loop's summary shows a round's note.
        job_fail(RetrainingRound, round_id, reason, note=reason)
        return RetrainingRound.State.FAILED
    # New labels were counted: the audit's curves and forecast take them in.
    audit_measure_request(project=project)
    return state


def _train(round_: RetrainingRound, project: Project) -> str:
    examples = accepted_examples(project)
    spec = ModelSpec.from_version(
        ModelVersion(project=project, task_type="classification", spec=baseline_spec([]))
    )
    tensor, kept = examples_to_tensor(examples, spec)
    examples = [examples[position] for position in kept]
    validation = np.asarray(
        [in_validation_slice(project_id=project.pk, task_id=e.task_id) for e in examples],
        dtype=bool,
    )
    labels = np.asarray([e.label for e in examples])
    # The random audit's labels measure the model (activelearn.audit); trained on, they
    # would flatter it. Like the slice, they are never trained on.
    audit_tasks = audit_task_ids(project)
    audit = np.asarray([e.task_id in audit_tasks for e in examples], dtype=bool)
    training = ~validation & ~audit
    train_labels = labels[training]
    if len(set(train_labels.tolist())) < 2:
        return _finish(
            round_.pk,
            RetrainingRound.State.SKIPPED,
            "The training part needs labeled examples of at least two classes"
            + (" (audit labels are never trained on)." if audit.any() else "."),
        )
    # The first model has nothing to beat but the cold-start order, so it needs no measure:
    # a newcomer's first labels train it even when none of them fell in the validation slice.
    # Later versions are compared on the slice, which the first never trained on.
    first_model = not ModelVersion.objects.filter(project=project, is_active=True).exists()
    too_few_to_measure = int(validation.sum()) < MIN_VALIDATION_EXAMPLES
    if too_few_to_measure and not first_model:
        return _finish(
            round_.pk,
            RetrainingRound.State.SKIPPED,
            f"The validation slice has fewer than {MIN_VALIDATION_EXAMPLES} examples yet.",
        )
    features = tensor.reshape(len(examples), -1).astype(np.float64)
    model = baseline_fit(features[training], train_labels)
    class_names = [str(name) for name in model.classes]
    data = baseline_to_onnx(model)
    validation_tasks = sorted({e.task_id for e, v in zip(examples, validation, strict=True) if v})
    training_tasks = {e.task_id for e, t in zip(examples, training, strict=True) if t}
    with transaction.atomic():
        previous = ModelVersion.objects.filter(project=project, is_active=True).first()
        name = f"baseline-{round_.accepted_count}-r{round_.pk}"
        # Left by a run of this round whose worker died after saving it: made again.
        ModelVersion.objects.filter(project=project, name=name, is_active=False).delete()
        version = ModelVersion(
            project=project,
            name=name,
            kind=ModelVersion.Kind.BASELINE,
            task_type=ModelVersion.TaskType.CLASSIFICATION,
            spec=baseline_spec(class_names),
            sha256=hashlib.sha256(data).hexdigest(),
            labels_at_training=round_.accepted_count,
            notes=f"Retrained by round {round_.pk} on {len(training_tasks)} accepted tasks.",
        )
        version.file.save(f"{version.name}.onnx", ContentFile(data), save=False)
        version.save()
    valid_tensor = tensor[validation]
    valid_labels = labels[validation].tolist()
    accuracy = accuracy_of(version, valid_tensor, valid_labels)
    previous_accuracy = accuracy_of(previous, valid_tensor, valid_labels) if previous else None
    users_choice = previous is not None and previous.kind != ModelVersion.Kind.BASELINE
    better = previous is None or (
        accuracy is not None and previous_accuracy is not None and accuracy > previous_accuracy
    )
    version.metrics = {
        "metric": "accuracy",
        "accuracy": accuracy,
        "validation_examples": int(validation.sum()),
        "validation_task_ids": validation_tasks,
        "training_examples": int(training.sum()),
        "training_tasks": len(training_tasks),
        "audit_tasks_left_out": len({e.task_id for e, a in zip(examples, audit, strict=True) if a}),
        "compared_with": (
            {"version": previous.pk, "name": previous.name, "accuracy": previous_accuracy}
            if previous
            else None
        ),
    }
    version.save(update_fields=["metrics"])
    note = ""
    if users_choice:
        better = False
        measured = "cannot be measured" if accuracy is None else f"measures {accuracy:.3f}"
        note = (
            f"Not activated: the active version {previous.name!r} "
            f"({previous.get_kind_display()}) was chosen by a user; this baseline {measured} "
            "on the validation slice and can be activated by hand."
        )
    elif better:
        try:
            checkpoint_activate(version=version)
        except CheckpointError as error:
            better = False
            note = f"Not activated: {error.errors['strategy'][0]}"
        else:
            if too_few_to_measure:
                note = (
                    f"Activated as the project's first model; the validation slice holds "
                    f"{int(validation.sum())} labeled example(s), too few to measure it yet."
                )
    elif previous_accuracy is None:
        note = f"Not activated: the active version {previous} cannot be measured on the slice."
    else:
        note = f"Not activated: {accuracy:.3f} does not beat {previous_accuracy:.3f}."
    return _finish(
        round_.pk, RetrainingRound.State.DONE, note, model_version=version, activated=better
    )
