"""The Python client against a live server on the real database with a real Celery worker:
an ML engineer logs in, uploads media, pushes predictions made with numpy, uploads and
activates a real ONNX checkpoint, waits for the scoring it starts, and exports."""

from __future__ import annotations

import json

import numpy as np
import pytest
from annotate_client import (
    Client,
    box_rows,
    embedding_rows,
    keypoint_rows,
    merge_rows,
    probability_rows,
)

from activelearn.models import ModelVersion, Prediction, TaskScore
from annotate.models import AnnotationTask, Asset
from tests.activelearn import onnx_builders
from tests.annotate.exchange_builders import labeled_project
from tests.annotate.ingest_media import jpeg_bytes
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db(transaction=True)


def test_a_login_with_username_and_password_gives_a_token_that_lists_the_projects(
    live_server, checked_session, project, other_project, eve
):
    client = Client.login(live_server.url, "eve", PASSWORD, session=checked_session)

    (listed,) = client.projects()

    assert client.token and listed.id == project.pk
    assert (listed.name, listed.role) == ("Pedestrians", "ml_engineer")
    assert listed.keypoint_names == project.keypoint_names
    assert client.class_names(project.pk) == ["person", "bicycle"]


def test_media_is_uploaded_in_requests_of_several_files_with_a_result_per_file(
    client_for, project, eve, tmp_path
):
    folder = tmp_path / "photos"
    folder.mkdir()
    for number in range(3):
        (folder / f"street-{number}.jpg").write_bytes(jpeg_bytes(64, 48, seed=number))
    (folder / "notes.jpg").write_text("not an image at all")
    (folder / ".hidden.jpg").write_bytes(jpeg_bytes(seed=9))
    again = tmp_path / "again.jpg"
    again.write_bytes(jpeg_bytes(64, 48, seed=0))

    report = client_for(eve).upload_media(project, [folder, again], files_per_request=2)

    assert (report.created, report.duplicates, report.errors) == (3, 1, 1)
    assert [r.name for r in report.results] == [
        "notes.jpg", "street-0.jpg", "street-1.jpg", "street-2.jpg", "again.jpg"
    ]  # fmt: skip
    (refused,) = report.failed
    assert refused.name == "notes.jpg" and "text" in refused.message
    assert Asset.objects.filter(project=project).count() == 3


def uploaded(client: Client, project, tmp_path, count: int = 4) -> list[int]:
    paths = []
    for number in range(count):
        path = tmp_path / f"frame-{number}.jpg"
        path.write_bytes(jpeg_bytes(64, 48, seed=100 + number))
        paths.append(path)
    report = client.upload_media(project, paths)
    assert report.created == count, report
    return [result.asset_id for result in report.results]


def test_class_probabilities_from_numpy_are_pushed_and_the_scoring_they_start_is_waited_for(
    client_for, project, eve, tmp_path, celery_worker
):
    client = client_for(eve)
    assets = uploaded(client, project, tmp_path)
    probs = np.array([[0.9, 0.1], [0.5, 0.5], [0.2, 0.8], [0.6, 0.4]], dtype=np.float32)
    rows = merge_rows(
        probability_rows(probs, assets),
        embedding_rows(np.eye(4, 3), assets),
    )

    result = client.push_predictions(project, rows, model_version="resnet-v1")

    assert (result.rows, result.stored, result.error_count) == (4, 4, 0)
    assert result.version_active and result.activated and result.scoring_run
    run = client.wait_for_scoring(project, result.scoring_run, timeout=120, poll_interval=0.2)
    assert run.state == "done" and run.model_version_name == "resnet-v1"
    assert run.tasks_scored == 4
    assert TaskScore.objects.filter(task__project=project).count() >= 4
    stored = Prediction.objects.get(task__asset_id=assets[2], model_version__name="resnet-v1")
    assert stored.data["probs"] == pytest.approx([0.2, 0.8])


def test_boxes_and_keypoints_from_numpy_are_pushed_and_bad_rows_come_back_by_position(
    client_for, project, eve, tmp_path
):
    client = client_for(eve)
    assets = uploaded(client, project, tmp_path, count=3)
    # Padded detector output: two boxes per image, the second image has one real box.
    boxes = np.array(
        [[[1, 2, 11, 22], [5, 5, 30, 40]], [[0, 0, 10, 10], [0, 0, 0, 0]], [[2, 2, 8, 8]] * 2]
    )
    scores = np.array([[0.9, 0.4], [0.8, 0.0], [0.7, np.nan]])
    labels = np.array([[0, 1], [1, 0], [0, 0]])
    names = client.class_names(project)
    detections = box_rows(boxes, scores, assets, labels=labels, class_names=names, counts=[2, 1, 2])
    detections.append({"asset": 999_999, "boxes": []})  # no such asset

    result = client.push_predictions(project, detections, model_version="detector-v1")

    assert (result.rows, result.stored, result.error_count) == (4, 2, 2)
    assert [(e.row, e.asset) for e in result.errors] == [(3, assets[2]), (4, 999_999)]
    assert "NaN" in result.errors[0].error and "no asset" in result.errors[1].error
    first = Prediction.objects.get(task__asset_id=assets[0], model_version__name="detector-v1")
    assert [b["label"] for b in first.data["boxes"]] == ["person", "bicycle"]
    assert first.data["boxes"][0] | {"class_probs": None} == {
        "x": 1.0, "y": 2.0, "w": 10.0, "h": 20.0, "score": 0.9, "label": "person",
        "class_probs": None,
    }  # fmt: skip

    pose = np.full((1, 1, 4, 3), np.nan)
    pose[0, 0, :2] = [[10, 12, 0.9], [30, 12, 0.8]]  # the hips were not found
    keypoints = keypoint_rows(pose, client.project(project).keypoint_names, assets[:1])
    answer = client.push_predictions(project, keypoints, model_version="pose-v1")
    assert (answer.stored, answer.version_active) == (1, False)
    assert "not the active version" in answer.message
    stored = Prediction.objects.get(task__asset_id=assets[0], model_version__name="pose-v1")
    assert stored.data["keypoints"][0]["points"] == {
        "left_shoulder": [10.0, 12.0, 0.9], "right_shoulder": [30.0, 12.0, 0.8]
    }  # fmt: skip


def test_a_real_onnx_checkpoint_is_uploaded_activated_and_scores_the_uploaded_images(
    client_for, project, eve, tmp_path, celery_worker
):
    client = client_for(eve)
    uploaded(client, project, tmp_path)
    model = tmp_path / "classifier.onnx"
    model.write_bytes(onnx_builders.classifier(classes=2, size=32))

    version = client.upload_checkpoint(
        project, model, name="tiny-v1", spec=onnx_builders.spec(), metrics={"map": 0.5}
    )
    activation = client.activate_checkpoint(version)
    run = client.wait_for_scoring(project, activation.scoring_run, timeout=120, poll_interval=0.2)

    assert (version.kind, version.task_type, version.is_active) == ("onnx", "classification", False)
    assert activation.version.is_active and activation.version.name == "tiny-v1"
    assert run.state == "done" and run.tasks_scored == 4 and run.model_version == version.id
    assert ModelVersion.objects.get(pk=version.id).is_active
    assert [v.name for v in client.checkpoints(project)] == ["tiny-v1"]
    predicted = Prediction.objects.filter(model_version_id=version.id)
    assert predicted.count() == 4 and all(len(p.data["probs"]) == 2 for p in predicted)

    rollback = client.rollback_checkpoint(project)  # nothing was active before: no model
    assert (rollback.to, rollback.version, rollback.scoring_run > 0) == ("none", None, True)
    assert not ModelVersion.objects.get(pk=version.id).is_active


def test_an_export_is_started_waited_for_and_downloaded_to_a_file(
    client_for, project, eve, tmp_path, celery_worker
):
    labeled_project(project)
    client = client_for(eve, progress=True)

    job = client.start_export(project, "coco")
    done = client.wait_for_export(job, timeout=120, poll_interval=0.2)
    path = client.download_export(done, tmp_path)

    assert (job.format, job.state_filter, job.phase) == ("coco", "accepted", "label")
    assert done.state == "done" and done.download_url.endswith(f"/api/exports/{job.id}/download/")
    assert path.name == f"pedestrians-coco-{job.id}.json"
    data = json.loads(path.read_text())
    assert len(data["images"]) == 8 and data["annotations"]
    assert not list(tmp_path.glob(".*.part"))
    with pytest.raises(FileExistsError):
        client.download_export(done, path)


def test_the_tasks_of_a_project_are_read_page_by_page_following_the_cursor(
    client_for, project, other_project, pat
):
    from tests.annotate.queue_fixtures import make_tasks

    tasks = make_tasks(project, 120)  # three pages of 50
    make_tasks(other_project, 3)
    AnnotationTask.objects.filter(pk__in=[t.pk for t in tasks[::3]]).update(state="submitted")
    client = client_for(pat)
    seen = []

    for task in client.tasks(project):
        seen.append(task.id)
        if len(seen) == 60:  # added while paging: after every task already there
            (late,) = make_tasks(project, 1)

    assert seen == [t.pk for t in tasks] + [late.pk]
    submitted = list(client.tasks(project.pk, state="submitted"))
    assert [t.id for t in submitted] == [t.pk for t in tasks[::3]]
    assert {(t.state, t.kind, t.project) for t in submitted} == {("submitted", "image", project.pk)}
