"""Pre-annotation on video gives tracks: the active model's per-frame boxes are joined across
frames, each skeleton follows its box, and what the labeling page gets (shapes with track
numbers and the tracks they name) is a payload the editor's validator accepts."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from activelearn.models import LearningSettings, ModelVersion, Prediction
from annotate.services.annotations import annotation_validate
from tests.browser.media import video_task

NAMES = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]


def person(x: float, score: float = 0.95) -> dict:
    return {"label": "person", "x": x, "y": 100.0, "w": 40.0, "h": 90.0, "score": score}


def pose(x: float) -> dict:
    points = {
        name: [x + 8 + 8 * (i % 2), 120.0 + 30 * (i // 2), 0.9] for i, name in enumerate(NAMES)
    }
    return {
        "label": "person",
        "points": points,
        "score": 0.9,
        "confidences": dict.fromkeys(NAMES, 0.9),
    }


@pytest.fixture
def predicted_video(project, alice):
    task = video_task(project, frames=6, write_file=False, lease_user=alice)
    version = ModelVersion.objects.create(
        project=project, name="pose-v1", kind="pushed", task_type="keypoints", is_active=True
    )
    # Two people walking towards each other; they cross around frame 3.
    frames = [
        {
            "index": f,
            "boxes": [person(100 + 30 * f), person(280 - 30 * f)],
            "keypoints": [pose(280 - 30 * f), pose(100 + 30 * f)],
        }
        for f in range(6)
    ]
    Prediction.objects.create(task=task, model_version=version, data={"frames": frames})
    LearningSettings.objects.create(project=project, auto_accept_thresholds={"person": 0.9})
    return task


@pytest.mark.django_db
def test_video_suggestions_come_as_tracks_of_a_box_and_its_skeleton(predicted_video, alice):
    client = APIClient()
    client.force_authenticate(alice)
    body = client.get(f"/api/tasks/{predicted_video.pk}/suggestions/").json()
    assert body["tracks"] == [{"number": 1, "label": "person"}, {"number": 2, "label": "person"}]
    frame_ids = {f.pk: f.index for f in predicted_video.asset.frames.all()}
    shapes = body["accepted"]
    assert len(shapes) == 24  # 6 frames x 2 people x (box + skeleton)
    for track in (1, 2):
        mine = [s for s in shapes if s["track"] == track]
        boxes = sorted((frame_ids[s["frame"]], s["x"]) for s in mine if s["type"] == "box")
        skeletons = [s for s in mine if s["type"] == "kp"]
        assert len(boxes) == 6 and len(skeletons) == 6
        # Each track keeps one person through the crossing: x moves one way only.
        xs = [x for _, x in boxes]
        assert xs == sorted(xs) or xs == sorted(xs, reverse=True)
        for skeleton in skeletons:
            box = next(b for b in mine if b["type"] == "box" and b["frame"] == skeleton["frame"])
            shoulder_x = skeleton["points"]["left_shoulder"][0]
            assert box["x"] <= shoulder_x <= box["x"] + box["w"]

    payload = {
        "tracks": body["tracks"],
        "boxes": [s for s in shapes if s["type"] == "box"],
        "keypoints": [s for s in shapes if s["type"] == "kp"],
    }
    checked = annotation_validate(task=predicted_video, payload=payload)
    assert {b["track"] for b in checked.boxes} == {1, 2}


@pytest.mark.django_db
def test_a_project_without_tracks_gets_loose_shapes_on_video(predicted_video, alice, project):
    project.tracks_enabled = False
    project.save(update_fields=["tracks_enabled"])
    client = APIClient()
    client.force_authenticate(alice)
    body = client.get(f"/api/tasks/{predicted_video.pk}/suggestions/").json()
    assert body["tracks"] == []
    assert all("track" not in shape for shape in body["accepted"])
