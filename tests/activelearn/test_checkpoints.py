"""Checkpoint upload: real ONNX files for every output layout are accepted after a dummy
batch in a child process; bad files are refused with the reason; activation and rollback
start rescoring; the API is for ML engineers and managers of the project only."""

from __future__ import annotations

import hashlib
import json
import pickle

import numpy as np
import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

from activelearn.inference.nms import nms
from activelearn.inference.yolo import yolo_detect_decode, yolo_pose_decode
from activelearn.models import ModelVersion, ScoringRun
from activelearn.versions.services import CheckpointError, checkpoint_activate, checkpoint_upload

from . import onnx_builders as build

pytestmark = pytest.mark.django_db


def upload(project, user, data: bytes, spec: dict, name: str = "v1") -> ModelVersion:
    return checkpoint_upload(
        project=project,
        user=user,
        name=name,
        file=SimpleUploadedFile("model.onnx", data),
        spec=spec,
        notes="from the tests",
    )


def refusal(project, user, data: bytes, spec: dict) -> dict:
    with pytest.raises(CheckpointError) as caught:
        upload(project, user, data, spec)
    assert not ModelVersion.objects.filter(project=project).exists()
    return caught.value.errors


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


# --- every supported layout is accepted --------------------------------------------------


@pytest.mark.parametrize("layout", ["probs", "logits"])
def test_a_classifier_with_one_value_per_class_is_accepted(project, eve, media_root, layout):
    data = build.classifier(classes=2, layout=layout)
    version = upload(project, eve, data, build.spec(layout=layout))
    assert version.kind == ModelVersion.Kind.ONNX
    assert version.task_type == ModelVersion.TaskType.CLASSIFICATION
    assert version.sha256 == hashlib.sha256(data).hexdigest()
    assert version.spec["class_names"] == ["person", "bicycle"]
    assert version.file.read() == data
    assert not version.is_active


def test_an_embedding_model_is_accepted(project, eve, media_root):
    version = upload(project, eve, build.embedder(dims=8), build.spec(layout="embedding"))
    assert version.task_type == ModelVersion.TaskType.EMBEDDING
    assert version.spec["checked_outputs"] == {"embedding": [2, 8]}


def test_a_detector_with_boxes_scores_and_class_probabilities_is_accepted(project, eve, media_root):
    version = upload(
        project,
        eve,
        build.detector(classes=2, boxes=5),
        build.spec(
            layout="detection",
            output={"boxes": "boxes", "scores": "scores", "class_probs": "class_probs"},
        ),
    )
    assert version.task_type == ModelVersion.TaskType.DETECTION
    assert version.spec["checked_outputs"]["class_probs"] == [2, 5, 2]


def test_a_yolo_detect_export_is_accepted(project, eve, media_root):
    data = build.yolo(channels=4 + 2, size=64)
    version = upload(project, eve, data, build.spec(layout="yolo_detect", size=64))
    assert version.task_type == ModelVersion.TaskType.DETECTION
    assert version.spec["checked_outputs"] == {"output0": [1, 6, 16]}


def test_a_yolo_pose_export_is_accepted(project, eve, media_root):
    keypoints = len(project.keypoint_names)
    data = build.yolo(channels=5 + 3 * keypoints, size=64)
    version = upload(project, eve, data, build.spec(layout="yolo_pose", size=64))
    assert version.task_type == ModelVersion.TaskType.KEYPOINTS


# --- bad checkpoints are refused with the reason -----------------------------------------


def test_random_bytes_are_refused_as_not_onnx(project, eve, media_root):
    data = np.random.default_rng(3).bytes(4096)
    errors = refusal(project, eve, data, build.spec())
    assert "not" in errors["file"][0].lower()


def test_a_pickle_renamed_onnx_is_refused_and_never_loaded(project, eve, media_root):
    data = pickle.dumps({"weights": [1, 2, 3], "__reduce__": "never run"})
    errors = refusal(project, eve, data, build.spec())
    assert "pickle" in errors["file"][0]


def test_an_empty_file_is_refused(project, eve, media_root):
    errors = refusal(project, eve, b"", build.spec())
    assert "0 bytes" in errors["file"][0]


def test_a_file_over_the_size_limit_is_refused(project, eve, media_root, settings):
    settings.CHECKPOINT_MAX_BYTES = 100
    errors = refusal(project, eve, build.classifier(), build.spec())
    assert "limit of 100 bytes" in errors["file"][0]


def test_a_wrong_output_rank_is_refused_naming_the_output(project, eve, media_root):
    errors = refusal(project, eve, build.rank3_classifier(classes=2), build.spec())
    assert list(errors) == ["output probs"]
    assert "[2, 2, 1]" in errors["output probs"][0]


def test_a_wrong_class_count_is_refused_naming_the_output(project, eve, media_root):
    errors = refusal(project, eve, build.classifier(classes=3), build.spec())
    assert errors == {"output probs": ["3 class values, but the spec names 2 classes"]}


def test_an_input_shape_mismatch_is_refused_naming_the_input(project, eve, media_root):
    errors = refusal(project, eve, build.classifier(size=32), build.spec(size=64))
    assert list(errors) == ["input images"]
    assert "64" in errors["input images"][0]


def test_a_yolo_export_with_the_wrong_class_count_is_refused(project, eve, media_root):
    data = build.yolo(channels=4 + 3, size=64)
    errors = refusal(project, eve, data, build.spec(layout="yolo_detect", size=64))
    assert "expected 6" in errors["output output0"][0]


def test_a_custom_operator_domain_is_refused(project, eve, media_root):
    errors = refusal(project, eve, build.custom_domain_model(), build.spec())
    assert "com.example.evil" in errors["file"][0]


def test_an_external_data_reference_is_refused(project, eve, media_root):
    errors = refusal(project, eve, build.external_data_model(), build.spec())
    assert "external data" in errors["file"][0]


def test_a_name_already_used_in_the_project_is_refused(project, eve, media_root):
    upload(project, eve, build.classifier(), build.spec())
    with pytest.raises(CheckpointError) as caught:
        upload(project, eve, build.classifier(), build.spec())
    assert "name" in caught.value.errors


# --- activation and rollback --------------------------------------------------------------


def test_activation_makes_one_version_active_and_starts_a_scoring_run(project, eve, media_root):
    first = upload(project, eve, build.classifier(), build.spec(), name="v1")
    second = upload(
        project, eve, build.classifier(layout="logits"), build.spec(layout="logits"), name="v2"
    )
    checkpoint_activate(version=first)
    run = checkpoint_activate(version=second)
    assert list(ModelVersion.objects.filter(is_active=True)) == [second]
    assert run.reason == ScoringRun.Reason.ACTIVATION
    assert run.model_version == second


def test_rollback_returns_to_the_version_active_before(project, eve, media_root):
    first = upload(project, eve, build.classifier(), build.spec(), name="v1")
    second = upload(project, eve, build.classifier(), build.spec(), name="v2")
    client = client_for(eve)
    assert client.post(f"/api/checkpoints/{first.pk}/activate/").status_code == 202
    assert client.post(f"/api/checkpoints/{second.pk}/activate/").status_code == 202
    response = client.post(f"/api/projects/{project.pk}/checkpoints/rollback/")
    assert response.status_code == 202
    assert response.json()["version"]["name"] == "v1"
    assert ModelVersion.objects.get(is_active=True) == first
    assert ScoringRun.objects.filter(project=project, reason="activation").count() == 3


# --- the API ---------------------------------------------------------------------------


def api_upload(user, project, data: bytes, spec: dict, name: str = "v1"):
    return client_for(user).post(
        f"/api/projects/{project.pk}/checkpoints/",
        {
            "name": name,
            "file": SimpleUploadedFile("model.onnx", data),
            "spec": json.dumps(spec),
            "notes": "trained on week 3",
        },
        format="multipart",
    )


def test_an_ml_engineer_uploads_and_lists_checkpoints(project, eve, media_root):
    data = build.classifier()
    response = api_upload(eve, project, data, build.spec())
    assert response.status_code == 201, response.json()
    listed = client_for(eve).get(f"/api/projects/{project.pk}/checkpoints/").json()
    assert [
        (v["name"], v["sha256"], v["uploaded_by"], v["notes"], v["is_active"]) for v in listed
    ] == [("v1", hashlib.sha256(data).hexdigest(), "eve", "trained on week 3", False)]


def test_a_refused_upload_is_a_400_naming_the_wrong_output(project, eve, media_root):
    response = api_upload(eve, project, build.classifier(classes=3), build.spec())
    assert response.status_code == 400
    assert "output probs" in response.json()


def test_an_annotator_cannot_upload_or_activate(project, eve, alice, media_root):
    assert api_upload(alice, project, build.classifier(), build.spec()).status_code == 403
    version = upload(project, eve, build.classifier(), build.spec())
    assert client_for(alice).post(f"/api/checkpoints/{version.pk}/activate/").status_code == 403


def test_another_projects_checkpoints_do_not_exist_for_carol(project, eve, carol, media_root):
    version = upload(project, eve, build.classifier(), build.spec())
    client = client_for(carol)
    assert client.get(f"/api/projects/{project.pk}/checkpoints/").status_code == 404
    assert client.post(f"/api/checkpoints/{version.pk}/activate/").status_code == 404
    assert api_upload(carol, project, build.classifier(), build.spec()).status_code == 404


# --- YOLO decoding (pure) -------------------------------------------------------------


def test_nms_keeps_the_best_of_overlapping_boxes():
    boxes = np.array([[0, 0, 10, 10], [1, 1, 11, 11], [50, 50, 60, 60]], dtype=float)
    assert nms(boxes, np.array([0.6, 0.9, 0.5])).tolist() == [1, 2]


def test_yolo_detect_decoding_suppresses_duplicates_per_class():
    # anchors: two overlapping "person" boxes, one "bicycle" box, one below threshold
    output = np.array(
        [
            [20, 21, 80, 5],  # cx
            [20, 21, 80, 5],  # cy
            [10, 10, 10, 2],  # w
            [10, 10, 10, 2],  # h
            [0.9, 0.8, 0.1, 0.1],  # person
            [0.05, 0.1, 0.7, 0.1],  # bicycle
        ]
    )[None]
    boxes = yolo_detect_decode(output, ["person", "bicycle"])
    assert [(b["label"], round(b["score"], 2), b["x"]) for b in boxes] == [
        ("person", 0.9, 15.0),
        ("bicycle", 0.7, 75.0),
    ]


def test_yolo_pose_decoding_names_the_points():
    output = np.zeros((1, 5 + 3 * 2, 2))
    output[0, :5, 0] = [50, 50, 20, 40, 0.9]
    output[0, 5:, 0] = [45, 35, 0.8, 55, 35, 0.3]
    output[0, 4, 1] = 0.1
    (person,) = yolo_pose_decode(output, ["left_eye", "right_eye"])
    assert person["points"] == {"left_eye": [45, 35, 0.8], "right_eye": [55, 35, 0.3]}
    assert person["confidences"]["right_eye"] == 0.3


def test_a_check_that_runs_past_the_time_limit_is_refused(project, eve, media_root, settings):
    settings.CHECKPOINT_CHECK_TIMEOUT_SECONDS = 0.05
    errors = refusal(project, eve, build.classifier(), build.spec())
    assert "took longer than 0.05 s" in errors["file"][0]


def test_a_check_that_needs_more_memory_than_allowed_is_refused(project, eve, media_root, settings):
    # 64 MB of address space is far too little for onnxruntime: the child fails, nothing is
    # stored, and the web process is untouched.
    settings.CHECKPOINT_CHECK_MEMORY_BYTES = 64 * 1024 * 1024
    errors = refusal(project, eve, build.classifier(), build.spec())
    assert errors["file"][0].startswith(("The model check crashed", "the memory limit"))
