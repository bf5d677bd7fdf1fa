"""A version with stored predictions is measured on the validation slice: accuracy for class
probabilities, mAP for boxes, OKS AP for keypoints; tasks outside the slice do not count."""

from __future__ import annotations

import pytest

from activelearn.models import ModelVersion, Prediction, ScoringRun
from activelearn.retraining.rounds import in_validation_slice
from activelearn.scoring.curve import learning_curve
from activelearn.scoring.evaluation import keypoint_sigmas, version_evaluate
from activelearn.scoring.runs import scoring_run_finish
from annotate.models import Annotation, AnnotationTask, Box, KeypointInstance, LabelClass
from tests.activelearn.scoring_helpers import image_task_create

pytestmark = pytest.mark.django_db

BOXES = [(4.0, 5.0, 20.0, 16.0), (30.0, 20.0, 12.0, 18.0)]
POINTS = {
    "left_shoulder": [10.0, 8.0, 2],
    "right_shoulder": [30.0, 8.0, 2],
    "left_hip": [12.0, 36.0, 2],
    "right_hip": [28.0, 36.0, 1],
}


def _tasks(project, *, inside: int, outside: int) -> tuple[list, list]:
    """Accepted image tasks, `inside` of them in the validation slice, `outside` not."""
    ins, outs, n = [], [], 0
    while len(ins) < inside or len(outs) < outside:
        task = image_task_create(project, (n % 250, 10, 20), salt=str(n))
        n += 1
        task.state = AnnotationTask.State.ACCEPTED
        task.save(update_fields=["state"])
        if in_validation_slice(project_id=project.pk, task_id=task.pk):
            (ins if len(ins) < inside else []).append(task)
        else:
            (outs if len(outs) < outside else []).append(task)
    return ins, outs


def _label(task, *, boxes=(), points=None, klass="person") -> None:
    annotation = Annotation.objects.create(task=task, version=1, kind="submission")
    label_class = LabelClass.objects.get(project=task.project, name=klass)
    for x, y, w, h in boxes:
        Box.objects.create(annotation=annotation, label_class=label_class, x=x, y=y, w=w, h=h)
    if points is not None:
        KeypointInstance.objects.create(
            annotation=annotation, label_class=label_class, points=points
        )


def _version(project, task_type: str, name: str = "pushed") -> ModelVersion:
    return ModelVersion.objects.create(
        project=project, name=name, kind="pushed", task_type=task_type
    )


def _boxes(shift: float = 0.0) -> list[dict]:
    return [
        {"x": x + shift, "y": y, "w": w, "h": h, "score": 0.9, "label": "person"}
        for x, y, w, h in BOXES
    ]


def test_perfect_boxes_score_a_map_of_one_and_shifted_ones_less(project):
    inside, _ = _tasks(project, inside=3, outside=0)
    perfect, shifted = _version(project, "detection"), _version(project, "detection", "shifted")
    for task in inside:
        _label(task, boxes=BOXES)
        Prediction.objects.create(task=task, model_version=perfect, data={"boxes": _boxes()})
        Prediction.objects.create(task=task, model_version=shifted, data={"boxes": _boxes(4.0)})

    good, worse = version_evaluate(version=perfect), version_evaluate(version=shifted)

    assert good["metric"] == "mAP"
    assert good["mAP"] == pytest.approx(1.0)
    assert 0.0 < worse["mAP"] < 0.9
    perfect.refresh_from_db()
    assert perfect.metrics["mAP"] == pytest.approx(1.0)
    assert perfect.metrics["validation_examples"] == 3
    assert perfect.labels_at_training == 3


def test_keypoints_equal_to_the_labels_score_an_oks_ap_of_one(project):
    inside, _ = _tasks(project, inside=2, outside=0)
    version = _version(project, "keypoints")
    predicted = {name: [x, y, 0.8] for name, (x, y, _) in POINTS.items()}
    for task in inside:
        _label(task, points=POINTS)
        Prediction.objects.create(
            task=task,
            model_version=version,
            data={"keypoints": [{"label": "person", "score": 0.9, "points": predicted}]},
        )

    metrics = version_evaluate(version=version)

    assert metrics["metric"] == "oks"
    assert metrics["oks"] == pytest.approx(1.0)


def test_probabilities_are_measured_by_accuracy_against_the_image_class(project):
    inside, _ = _tasks(project, inside=4, outside=0)
    version = _version(project, "classification")
    # person is class 0, bicycle class 1; three of four predictions are right.
    labels = ["person", "person", "bicycle", "bicycle"]
    probs = [[0.9, 0.1], [0.6, 0.4], [0.2, 0.8], [0.7, 0.3]]
    for task, klass, p in zip(inside, labels, probs, strict=True):
        _label(task, boxes=BOXES, klass=klass)
        Prediction.objects.create(task=task, model_version=version, data={"probs": p})

    metrics = version_evaluate(version=version)

    assert metrics["metric"] == "accuracy"
    assert metrics["accuracy"] == pytest.approx(0.75)
    assert learning_curve(project=project)["points"][0]["value"] == pytest.approx(0.75)


def test_tasks_outside_the_slice_are_ignored(project):
    inside, outside = _tasks(project, inside=2, outside=3)
    version = _version(project, "detection")
    for task in inside:
        _label(task, boxes=BOXES)
        Prediction.objects.create(task=task, model_version=version, data={"boxes": _boxes()})
    for task in outside:  # wildly wrong, but never measured
        _label(task, boxes=BOXES)
        Prediction.objects.create(task=task, model_version=version, data={"boxes": _boxes(25.0)})

    metrics = version_evaluate(version=version)

    assert metrics["mAP"] == pytest.approx(1.0)
    assert sorted(metrics["validation_task_ids"]) == sorted(t.pk for t in inside)
    assert version.labels_at_training == 5


def test_a_version_without_predictions_on_labeled_slice_tasks_is_left_alone(project):
    inside, _ = _tasks(project, inside=1, outside=0)
    version = _version(project, "detection")
    version.metrics = {"note": "kept"}
    version.save()
    Prediction.objects.create(task=inside[0], model_version=version, data={"boxes": _boxes()})

    assert version_evaluate(version=version) == {}
    version.refresh_from_db()
    assert version.metrics == {"note": "kept"}
    assert version.labels_at_training is None


def test_existing_metric_keys_are_kept(project):
    inside, _ = _tasks(project, inside=1, outside=0)
    version = _version(project, "detection")
    version.metrics = {"loss": 0.3}
    version.labels_at_training = 100
    version.save()
    _label(inside[0], boxes=BOXES)
    Prediction.objects.create(task=inside[0], model_version=version, data={"boxes": _boxes()})

    version_evaluate(version=version)

    version.refresh_from_db()
    assert version.metrics["loss"] == 0.3
    assert version.metrics["mAP"] == pytest.approx(1.0)
    assert version.labels_at_training == 100


def test_coco_names_take_cocos_sigmas_and_other_names_the_default():
    sigmas = keypoint_sigmas(["nose", "left_hip", "tail_tip"])
    assert sigmas.tolist() == pytest.approx([0.026, 0.107, 0.05])


def test_finishing_a_scoring_run_measures_its_version(project):
    inside, _ = _tasks(project, inside=2, outside=0)
    version = _version(project, "detection")
    for task in inside:
        _label(task, boxes=BOXES)
        Prediction.objects.create(task=task, model_version=version, data={"boxes": _boxes()})
    run = ScoringRun.objects.create(
        project=project, model_version=version, state="running", chunks_total=1, chunks_done=1
    )

    assert scoring_run_finish(run_id=run.pk) is True

    version.refresh_from_db()
    assert version.metrics["mAP"] == pytest.approx(1.0)


def test_a_failing_measure_never_fails_the_scoring_run(project, monkeypatch):
    version = _version(project, "detection")
    run = ScoringRun.objects.create(
        project=project, model_version=version, state="running", chunks_total=1, chunks_done=1
    )

    def broken(**kwargs):
        raise RuntimeError("boom")

    monkeypatch.setattr("activelearn.scoring.evaluation.version_evaluate", broken)

    assert scoring_run_finish(run_id=run.pk) is True
    run.refresh_from_db()
    assert run.state == "done"
