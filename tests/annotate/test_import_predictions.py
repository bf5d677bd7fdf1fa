"""A file imported as predictions is stored as Prediction rows under a "pushed" model version,
in the shape scoring reads, and importing it again gives the same rows."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from activelearn.models import ModelVersion, Prediction
from annotate.exchange.services import import_create, import_run
from annotate.models import Annotation

from .exchange_builders import fresh_copy

SINK = "activelearn.predictions.imports.predictions_store"


@pytest.fixture
def fresh(project):
    return fresh_copy(project)


def results() -> bytes:
    return json.dumps(
        {
            "images": [
                {"id": 1, "file_name": "street/a.jpg"},
                {
                    "id": 2,
                    "file_name": "walk.mp4/000001.jpg",
                    "video_name": "walk.mp4",
                    "frame_index": 1,
                },
            ],
            "categories": [{"id": 1, "name": "person"}, {"id": 2, "name": "bicycle"}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 2, "bbox": [10, 20, 30, 40], "score": 0.8},
                {
                    "id": 2,
                    "image_id": 2,
                    "category_id": 1,
                    "bbox": [5, 5, 50, 100],
                    "keypoints": [10, 10, 2, 20, 10, 1, 0, 0, 0, 30, 80, 2],
                    "score": 0.6,
                    "track_id": 3,
                },
            ],
        }
    ).encode()


def run(project, user, name="detector-v7"):
    job = import_create(
        project=project,
        user=user,
        format="coco",
        mode="predictions",
        model_version_name=name,
        upload=SimpleUploadedFile("results.json", results()),
    )
    return import_run(job_id=job.pk)


def test_predictions_are_stored_under_a_pushed_model_version(project, fresh, eve, settings):
    settings.EXCHANGE_PREDICTIONS_SINK = SINK
    job = run(project, eve)
    assert job.state == "done", job.error
    version = ModelVersion.objects.get(project=project, name="detector-v7")
    assert (version.kind, version.task_type, version.uploaded_by) == ("pushed", "keypoints", eve)
    image = Prediction.objects.get(model_version=version, task=fresh["tasks"]["street"])
    [box] = image.data["boxes"]
    assert (box["label"], box["x"], box["w"], box["score"]) == ("bicycle", 10.0, 30.0, 0.8)
    assert box["class_probs"] == pytest.approx([0.2, 0.8])
    video = Prediction.objects.get(model_version=version, task=fresh["tasks"]["video"])
    [frame] = video.data["frames"]
    assert frame["index"] == 1
    [skeleton] = frame["keypoints"]
    assert skeleton["points"]["right_shoulder"] == [20.0, 10.0, 1]
    assert skeleton["confidences"] == {
        "left_shoulder": 0.6,
        "right_shoulder": 0.6,
        "left_hip": 0.0,
        "right_hip": 0.6,
    }
    assert skeleton["track"] == 3
    assert not Annotation.objects.filter(task__project=project).exists()  # not ground truth


def test_importing_the_same_predictions_twice_gives_the_same_rows(project, fresh, eve, settings):
    settings.EXCHANGE_PREDICTIONS_SINK = SINK
    run(project, eve)
    # Updated in place, not written again: a row keeps its creation time (rows have no id).
    fields = ("task_id", "model_version_id", "created_at", "data")
    first = sorted(Prediction.objects.values_list(*fields))
    assert run(project, eve).state == "done"
    assert sorted(Prediction.objects.values_list(*fields)) == first


def test_predictions_need_a_version_name_of_their_own(project, fresh, eve, settings):
    settings.EXCHANGE_PREDICTIONS_SINK = SINK
    ModelVersion.objects.create(project=project, name="resnet", kind="onnx", task_type="detection")
    job = run(project, eve, name="resnet")
    assert job.state == "failed"
    assert "imported predictions need a name of their own" in job.error
    assert not Prediction.objects.exists()


def test_without_a_configured_sink_the_job_says_so(project, fresh, eve, settings):
    settings.EXCHANGE_PREDICTIONS_SINK = ""
    job = run(project, eve)
    assert job.state == "failed"
    assert "EXCHANGE_PREDICTIONS_SINK" in job.error


def test_prediction_import_reads_yolo_confidences(project, fresh, eve, settings):
    import zipfile

    settings.EXCHANGE_PREDICTIONS_SINK = SINK
    archive = io.BytesIO()
    with zipfile.ZipFile(archive, "w") as z:
        z.writestr("data.yaml", "names: {0: person, 1: bicycle}\n")
        z.writestr("labels/street/a.txt", "1 0.5 0.5 0.25 0.5 0.9\n")
    job = import_create(
        project=project,
        user=eve,
        format="yolo",
        mode="predictions",
        model_version_name="yolo-run",
        upload=SimpleUploadedFile("preds.zip", archive.getvalue()),
    )
    assert import_run(job_id=job.pk).state == "done"
    [box] = Prediction.objects.get(task=fresh["tasks"]["street"]).data["boxes"]
    assert (box["x"], box["y"], box["w"], box["h"], box["score"]) == (240, 120, 160, 240, 0.9)
