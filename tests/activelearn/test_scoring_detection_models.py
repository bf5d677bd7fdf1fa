"""Scoring with box checkpoints: a detection-layout model, a YOLO detect and a YOLO pose model
(real ONNX files from onnx_builders) run over real stored pictures, and their outputs are stored
as the Prediction.data that pushed boxes and keypoints use, in the images' own pixels."""

from __future__ import annotations

import math

import pytest

from activelearn.models import LearningSettings, ModelVersion, Prediction, ScoringRun, TaskScore
from activelearn.predictions.suggestions import box_shape
from activelearn.scoring.runs import (
    score_chunk,
    scoring_run_finish,
    scoring_run_split,
    scoring_run_start,
)
from activelearn.versions.services import spec_normalise
from tests.activelearn import onnx_builders
from tests.activelearn.scoring_helpers import image_task_create, version_register

pytestmark = pytest.mark.django_db

COLOURS = [(250, 10, 10), (10, 250, 10), (10, 10, 250), (128, 128, 128)]


def _run_all(project) -> ScoringRun:
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.ACTIVATION)
    for chunk in scoring_run_split(run_id=run.pk):
        score_chunk(run_id=run.pk, task_ids=chunk)
    scoring_run_finish(run_id=run.pk)
    run.refresh_from_db()
    return run


def _register(project, model: bytes, layout: str, size: int, **extra) -> ModelVersion:
    spec = spec_normalise(
        project=project, spec=onnx_builders.spec(layout=layout, size=size, **extra)
    )
    return version_register(project, model, name=layout, task_type=spec["task_type"], spec=spec)


def _assert_boxes_inside(boxes: list[dict], width: int, height: int, classes: list[str]) -> None:
    for box in boxes:
        assert box["w"] > 0 and box["h"] > 0
        assert box["x"] >= 0 and box["x"] + box["w"] <= width + 0.01
        assert box["y"] >= 0 and box["y"] + box["h"] <= height + 0.01
        assert 0 <= box["score"] <= 1
        assert box["label"] in classes
        assert len(box["class_probs"]) == len(classes)
        assert sum(box["class_probs"]) == pytest.approx(1.0, abs=1e-3)


def _assert_scores_finite(version: ModelVersion, count: int) -> None:
    scores = list(TaskScore.objects.filter(model_version=version).values_list("score", flat=True))
    assert len(scores) == count
    assert all(math.isfinite(score) for score in scores)


def test_a_detection_layout_model_stores_boxes_in_image_pixels_and_scores(project):
    LearningSettings.objects.create(project=project, strategy="default")  # picks by outputs
    version = _register(
        project,
        onnx_builders.detector(classes=2, boxes=5, size=32),
        "detection",
        32,
        output={"box_format": "cxcywh", "normalized": True, "score_threshold": 0.0},
    )
    tasks = [image_task_create(project, colour, size=(64, 48)) for colour in COLOURS]

    run = _run_all(project)

    assert run.state == "done", run.error
    classes = ["person", "bicycle"]
    for task in tasks:
        data = Prediction.objects.get(task=task, model_version=version).data
        assert set(data) == {"boxes"}
        assert data["boxes"], "every picture gets at least one box at threshold 0"
        _assert_boxes_inside(data["boxes"], 64, 48, classes)
    _assert_scores_finite(version, len(tasks))
    breakdowns = TaskScore.objects.filter(model_version=version).values_list("breakdown", flat=True)
    assert all(set(b) == {"detection"} for b in breakdowns)


def test_a_yolo_detect_model_scales_its_boxes_back_to_each_pictures_size(project):
    version = _register(project, onnx_builders.yolo(channels=4 + 2, size=64), "yolo_detect", 64)
    small = image_task_create(project, COLOURS[0], size=(64, 48))
    large = image_task_create(project, COLOURS[0], size=(128, 96), salt="large")
    others = [image_task_create(project, colour) for colour in COLOURS[1:]]

    run = _run_all(project)

    assert run.state == "done", run.error
    small_boxes = Prediction.objects.get(task=small, model_version=version).data["boxes"]
    large_boxes = Prediction.objects.get(task=large, model_version=version).data["boxes"]
    assert small_boxes
    _assert_boxes_inside(small_boxes, 64, 48, ["person", "bicycle"])
    _assert_boxes_inside(large_boxes, 128, 96, ["person", "bicycle"])
    # The same colour is the same model output: twice the picture, twice the box.
    assert len(large_boxes) == len(small_boxes)
    for little, big in zip(small_boxes, large_boxes, strict=True):
        for key in ("x", "y", "w", "h"):
            assert big[key] == pytest.approx(2 * little[key], abs=0.05)
        assert big["label"] == little["label"]
    _assert_scores_finite(version, 2 + len(others))
    # The stored boxes are what pre-annotation reads.
    shape = box_shape(
        small_boxes[0], class_names=["person", "bicycle"], width=64, height=48, frame=None
    )
    assert shape is not None and shape["source"] == "model"


def test_a_yolo_pose_model_stores_boxes_and_named_keypoints_and_scores_them(project):
    names = project.keypoint_names
    LearningSettings.objects.create(
        project=project, strategy="default", keypoint_weights={names[0]: 3.0}
    )
    version = _register(
        project, onnx_builders.yolo(channels=5 + 3 * len(names), size=64), "yolo_pose", 64
    )
    tasks = [image_task_create(project, colour, size=(96, 48)) for colour in COLOURS]

    run = _run_all(project)

    assert run.state == "done", run.error
    assert version.task_type == ModelVersion.TaskType.KEYPOINTS
    for task in tasks:
        data = Prediction.objects.get(task=task, model_version=version).data
        assert data["keypoints"], "the pose model finds someone in every picture"
        _assert_boxes_inside(data["boxes"], 96, 48, ["person", "bicycle"])
        for instance in data["keypoints"]:
            assert instance["label"] == "person"
            assert set(instance["points"]) == set(names)
            for x, y, confidence in instance["points"].values():
                assert 0 <= x <= 96 and 0 <= y <= 48 and 0 <= confidence <= 1
            assert instance["confidences"] == {n: p[2] for n, p in instance["points"].items()}
    _assert_scores_finite(version, len(tasks))
    breakdowns = TaskScore.objects.filter(model_version=version).values_list("breakdown", flat=True)
    assert all(set(b) == {"keypoints"} for b in breakdowns)


def test_a_yolo_model_without_class_names_fails_the_run_with_the_reason(project):
    spec = onnx_builders.spec(layout="yolo_detect", size=64, class_names=[])
    version_register(project, onnx_builders.yolo(channels=6), name="bad", spec=spec)
    image_task_create(project, COLOURS[0])
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    from activelearn.tasks import score_chunk as chunk_task

    (chunk,) = scoring_run_split(run_id=run.pk)
    chunk_task.run(run.pk, chunk)
    run.refresh_from_db()
    assert run.state == "failed"
    assert "class_names" in run.error


def test_boxes_are_scaled_by_the_pictures_header_when_the_asset_has_no_stored_size(project):
    version = _register(project, onnx_builders.yolo(channels=4 + 2, size=64), "yolo_detect", 64)
    known = image_task_create(project, COLOURS[1], size=(64, 48))
    unknown = image_task_create(project, COLOURS[1], size=(128, 96), salt="nosize")
    unknown.asset.width = unknown.asset.height = None
    unknown.asset.save(update_fields=["width", "height"])

    assert _run_all(project).state == "done"

    known_boxes = Prediction.objects.get(task=known, model_version=version).data["boxes"]
    unknown_boxes = Prediction.objects.get(task=unknown, model_version=version).data["boxes"]
    assert known_boxes and len(unknown_boxes) == len(known_boxes)
    for little, big in zip(known_boxes, unknown_boxes, strict=True):
        assert big["w"] == pytest.approx(2 * little["w"], abs=0.05)
        assert big["h"] == pytest.approx(2 * little["h"], abs=0.05)
