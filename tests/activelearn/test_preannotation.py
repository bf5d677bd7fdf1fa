"""Pre-annotation: predictions become shapes in the save format, split by the project's
thresholds per class and per keypoint name; the suggestions endpoint follows the task's
access rules."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from activelearn.models import LearningSettings, ModelVersion, Prediction
from activelearn.predictions.suggestions import prediction_shapes, shapes_split, threshold_for
from annotate.services.annotations import annotation_validate
from tests.browser.media import image_task

NAMES = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]
IMAGE = {None: (None, 640, 480)}


def _box(label: str, confidence: float) -> dict:
    return {"type": "box", "label": label, "confidence": confidence, "x": 1, "y": 1, "w": 9, "h": 9}


def _skeleton(confidences: dict[str, float], label: str = "person") -> dict:
    return {
        "type": "kp",
        "label": label,
        "confidence": 0.5,
        "points": {name: [10.0 * i, 20.0, 2] for i, name in enumerate(NAMES, 1)},
        "point_confidence": confidences,
    }


# --- thresholds and the split (pure) ------------------------------------------------------


def test_a_name_of_its_own_wins_over_the_class_and_the_default():
    thresholds = {"left_hip": 0.5, "person": 0.7, "*": 0.9}
    assert threshold_for("left_hip", thresholds, "person") == 0.5
    assert threshold_for("right_hip", thresholds, "person") == 0.7
    assert threshold_for("right_hip", thresholds) == 0.9
    assert threshold_for("right_hip", {}) is None


def test_boxes_are_accepted_at_or_above_their_class_threshold_and_suggested_below():
    shapes = [_box("person", 0.95), _box("person", 0.8), _box("bicycle", 0.8)]
    accepted, suggestions = shapes_split(shapes, {"person": 0.9, "bicycle": 0.8})
    assert [(s["label"], s["confidence"]) for s in accepted] == [("person", 0.95), ("bicycle", 0.8)]
    assert [(s["label"], s["confidence"]) for s in suggestions] == [("person", 0.8)]


def test_without_thresholds_every_prediction_is_a_suggestion():
    shapes = [_box("person", 0.999), _skeleton(dict.fromkeys(NAMES, 0.99))]
    accepted, suggestions = shapes_split(shapes, {})
    assert accepted == [] and len(suggestions) == 2


def test_confident_keypoints_are_placed_and_uncertain_ones_left_for_the_human():
    skeleton = _skeleton(
        {"left_shoulder": 0.95, "right_shoulder": 0.6, "left_hip": 0.4, "right_hip": 0.97}
    )
    (accepted,), suggestions = shapes_split([skeleton], {"*": 0.9})
    assert suggestions == []
    assert accepted["points"] == {
        "left_shoulder": [10.0, 20.0, 2],
        "right_shoulder": [0, 0, 0],
        "left_hip": [0, 0, 0],
        "right_hip": [40.0, 20.0, 2],
    }
    assert accepted["uncertain"] == ["right_shoulder", "left_hip"]
    assert accepted["uncertain_points"]["left_hip"] == [30.0, 20.0, 2]


def test_keypoint_thresholds_apply_per_keypoint_name():
    skeleton = _skeleton(dict.fromkeys(NAMES, 0.8))
    (accepted,), _ = shapes_split([skeleton], {"left_hip": 0.7, "right_hip": 0.7, "*": 0.99})
    assert sorted(n for n, p in accepted["points"].items() if p[2]) == ["left_hip", "right_hip"]


def test_a_skeleton_with_no_confident_point_is_suggested_whole():
    skeleton = _skeleton(dict.fromkeys(NAMES, 0.3))
    accepted, (suggested,) = shapes_split([skeleton], {"*": 0.9})
    assert accepted == [] and all(p[2] == 2 for p in suggested["points"].values())


# --- prediction formats -> shapes (pure) --------------------------------------------------


def test_imported_boxes_become_model_boxes_clipped_to_the_image():
    data = {
        "boxes": [
            {"label": "person", "x": -0.3, "y": 10, "w": 100, "h": 50, "score": 0.8},
            {"x": 600, "y": 400, "w": 80, "h": 100, "class_probs": [0.1, 0.9]},  # no label
            {"label": "tree", "x": 1, "y": 1, "w": 5, "h": 5, "score": 0.9},  # unknown class
            {"label": "person", "x": 700, "y": 1, "w": 5, "h": 5, "score": 0.9},  # off the image
        ]
    }
    shapes = prediction_shapes(
        data,
        class_names=["person", "bicycle"],
        keypoint_names=NAMES,
        boxes=True,
        keypoints=True,
        frames=IMAGE,
    )
    assert shapes == [
        {
            "type": "box",
            "frame": None,
            "label": "person",
            "x": 0.0,
            "y": 10.0,
            "w": 99.7,
            "h": 50.0,
            "source": "model",
            "confidence": 0.8,
        },
        {
            "type": "box",
            "frame": None,
            "label": "bicycle",
            "x": 600.0,
            "y": 400.0,
            "w": 40.0,
            "h": 80.0,
            "source": "model",
            "confidence": 0.9,
        },
    ]


def test_keypoints_take_per_point_confidences_or_the_instance_score():
    data = {
        "keypoints": [
            {
                "label": "person",
                "points": {
                    "left_shoulder": [5, 6, 2],
                    "right_shoulder": [7, 8, 2],
                    "left_hip": [0, 0, 0],
                },
                "score": 0.7,
                "confidences": {"left_shoulder": 0.95},
            }
        ]
    }
    (shape,) = prediction_shapes(
        data,
        class_names=["person", "bicycle"],
        keypoint_names=NAMES,
        boxes=True,
        keypoints=True,
        frames=IMAGE,
    )
    assert shape["point_confidence"] == {"left_shoulder": 0.95, "right_shoulder": 0.7}
    assert shape["points"]["left_hip"] == [0, 0, 0] and shape["confidence"] == 0.7


def test_video_predictions_land_on_the_frames_of_the_task_only():
    data = {
        "frames": [
            {
                "index": 3,
                "boxes": [{"label": "person", "x": 1, "y": 1, "w": 9, "h": 9, "score": 1}],
            },
            {
                "index": 99,
                "boxes": [{"label": "person", "x": 1, "y": 1, "w": 9, "h": 9, "score": 1}],
            },
            {"index": 4, "probs": [0.5, 0.5]},
        ]
    }
    shapes = prediction_shapes(
        data,
        class_names=["person"],
        keypoint_names=[],
        boxes=True,
        keypoints=False,
        frames={3: (1003, 64, 48), 4: (1004, 64, 48)},
    )
    assert [s["frame"] for s in shapes] == [1003]


# --- the endpoint (database) --------------------------------------------------------------


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


@pytest.fixture
def predicted_task(project, alice):
    task = image_task(project, width=640, height=480, write_file=False, lease_user=alice)
    version = ModelVersion.objects.create(
        project=project, name="det-v3", kind="pushed", task_type="detection", is_active=True
    )
    Prediction.objects.create(
        task=task,
        model_version=version,
        data={
            "boxes": [
                {"label": "person", "x": 10, "y": 20, "w": 100, "h": 200, "score": 0.97},
                {"label": "bicycle", "x": 300, "y": 200, "w": 120, "h": 80, "score": 0.55},
            ],
            "keypoints": [
                {
                    "label": "person",
                    "points": {name: [50 + 10 * i, 60, 2] for i, name in enumerate(NAMES)},
                    "score": 0.8,
                    "confidences": {
                        "left_shoulder": 0.5,
                        "right_shoulder": 0.5,
                        "left_hip": 0.95,
                        "right_hip": 0.96,
                    },
                }
            ],
        },
    )
    LearningSettings.objects.create(project=project, auto_accept_thresholds={"*": 0.9})
    return task


@pytest.mark.django_db
def test_the_labeler_gets_accepted_shapes_and_suggestions_of_the_active_version(
    predicted_task, alice
):
    response = _client(alice).get(f"/api/tasks/{predicted_task.pk}/suggestions/")
    assert response.status_code == 200
    body = response.json()
    assert body["model_version"] == "det-v3"
    box, skeleton = body["accepted"]
    assert (box["label"], box["confidence"], box["source"]) == ("person", 0.97, "model")
    assert skeleton["uncertain"] == ["left_shoulder", "right_shoulder"]
    (suggested,) = body["suggestions"]
    assert (suggested["label"], suggested["confidence"]) == ("bicycle", 0.55)
    # What the page sends back is what annotation_save takes.
    payload = {
        "boxes": [body["accepted"][0], suggested],
        "keypoints": [{**skeleton, "type": None}],
    }
    checked = annotation_validate(task=predicted_task, payload=payload)
    assert [b["confidence"] for b in checked.boxes] == [0.97, 0.55]
    assert checked.keypoints[0]["points"]["left_shoulder"] == [0, 0, 0]


@pytest.mark.django_db
def test_an_inactive_version_offers_nothing(predicted_task, alice):
    ModelVersion.objects.update(is_active=False)
    body = _client(alice).get(f"/api/tasks/{predicted_task.pk}/suggestions/").json()
    assert body == {"model_version": None, "accepted": [], "suggestions": [], "tracks": []}


@pytest.mark.django_db
def test_suggestions_follow_the_task_access_rules(predicted_task, bob, carol, rita, eve):
    url = f"/api/tasks/{predicted_task.pk}/suggestions/"
    assert _client(rita).get(url).status_code == 200  # a reviewer sees every task
    assert _client(eve).get(url).status_code == 200
    assert _client(bob).get(url).status_code == 404  # another annotator's task
    assert _client(carol).get(url).status_code == 404  # another project
    assert APIClient().get(url).status_code in (401, 403)
