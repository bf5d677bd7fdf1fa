"""Learning curves of actively chosen against audit labels, with one learner for both.

The learner is the built-in baseline's (activelearn.retraining: 16x16 pixel features,
logistic regression), trained on each task's whole-image example and box crops. Two arms:

- actively chosen: the first n labels the ranking chose (every counted label that is not an
  audit one, in the order they were first labeled), for n on a grid up to all of them,
  each scored on every labeled audit image with one class (none of them trained on);
- random: n audit labels drawn at random (`REPEATS` draws per n), each scored on the
  audit images it did not train on. The audit tasks are a uniform sample, so this is the
  curve random sampling would have given.

Holding the learner fixed makes the arms differ only in which labels they got: that is what
the ranking is for. It is a stand-in for the project's own model (an uploaded detector
cannot be retrained here); the model's own figure is activelearn.audit.model's. The random
arm stops at three quarters of the audit labels, so that a quarter is left to score it on.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from activelearn.audit.samples import LabelOrder
from activelearn.audit.stats import Arms, arms_measure
from activelearn.inference.spec import ModelSpec
from activelearn.models import ModelVersion
from activelearn.retraining.baseline import baseline_fit
from activelearn.retraining.rounds import accepted_examples, baseline_spec, examples_to_tensor
from annotate.models import Project

REPEATS = 5
MIN_AUDIT_TESTS = 10  # audit images with one class, to score the arms on
MIN_ACTIVE = 4
GRID_POINTS = 8
LEARNER = "the built-in baseline's learner (16x16 pixels, logistic regression)"


@dataclass(frozen=True)
class ArmData:
    """Per task: its examples' rows and labels; per audit test task: its image class."""

    features: np.ndarray  # [examples, d]
    labels: np.ndarray  # [examples]
    rows_of: dict[int, np.ndarray]  # task id -> example rows
    image_class: dict[int, str]  # task id -> its whole-image label (one class only)
    image_row: dict[int, int]  # task id -> the row of its whole-image example


def arm_data(project: Project, task_ids: set[int]) -> ArmData:
    """Decode the examples of the counted tasks among `task_ids`, as retraining does."""
    examples = [e for e in accepted_examples(project) if e.task_id in task_ids]
    spec = ModelSpec.from_version(
        ModelVersion(project=project, task_type="classification", spec=baseline_spec([]))
    )
    tensor, kept = examples_to_tensor(examples, spec)
    examples = [examples[position] for position in kept]
    rows_of: dict[int, list[int]] = {}
    image_class, image_row = {}, {}
    for row, example in enumerate(examples):
        rows_of.setdefault(example.task_id, []).append(row)
        if example.box is None:
            image_class[example.task_id] = example.label
            image_row[example.task_id] = row
    return ArmData(
        features=tensor.reshape(tensor.shape[0], int(np.prod(tensor.shape[1:]))).astype(np.float64),
        labels=np.asarray([e.label for e in examples]),
        rows_of={k: np.asarray(v) for k, v in rows_of.items()},
        image_class=image_class,
        image_row=image_row,
    )


def _hits(data: ArmData, train: list[int], tests: list[int]) -> np.ndarray:
    """Train the learner on the examples of `train` and say, per test task, whether it
    names the image's class. One class in training: the learner can only say that one."""
    rows = np.concatenate([data.rows_of[t] for t in train if t in data.rows_of] or [[]]).astype(int)
    truth = np.asarray([data.image_class[t] for t in tests])
    if not len(rows):
        return np.zeros(len(tests))
    classes = np.unique(data.labels[rows])
    if len(classes) < 2:
        return (truth == classes[0]).astype(float)
    model = baseline_fit(data.features[rows], data.labels[rows])
    test_rows = [data.image_row[t] for t in tests]
    predicted = model.classes[model.predict_proba(data.features[test_rows]).argmax(axis=1)]
    return (predicted == truth).astype(float)


@dataclass(frozen=True)
class ArmsBuilt:
    arms: Arms | None
    reason: str
    active_labels: int
    audit_labels: int
    audit_tests: int


def arms_build(
    *,
    project: Project,
    order: LabelOrder,
    rng: np.random.Generator,
    progress: Callable[[float], None] = lambda done: None,
) -> ArmsBuilt:
    """Train and score both arms (see the module's docstring); `reason` says why not."""
    active, audited = order.active, order.audited
    data = arm_data(project, set(order.task_ids))
    active = [t for t in active if t in data.rows_of]
    audited = [t for t in audited if t in data.rows_of]
    tests = [t for t in audited if t in data.image_class]

    def built(arms: Arms | None, reason: str = "") -> ArmsBuilt:
        return ArmsBuilt(arms, reason, len(active), len(audited), len(tests))

    if len(tests) < MIN_AUDIT_TESTS:
        return built(
            None,
            f"{len(tests)} labeled audit images with one class so far; the curves need "
            f"{MIN_AUDIT_TESTS} to be scored on.",
        )
    if len(active) < MIN_ACTIVE:
        return built(None, f"{len(active)} actively chosen labels so far.")
    if len(np.unique(data.labels)) < 2:
        return built(None, "The labels hold one class only.")
    arms = arms_measure(
        active=active,
        audited=audited,
        tests=tests,
        hits=lambda train, scored: _hits(data, train, scored),
        rng=rng,
        repeats=REPEATS,
        points=GRID_POINTS,
        progress=progress,
    )
    return built(arms)
