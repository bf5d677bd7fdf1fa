"""The outside flag of a track's keyframe through the save API and the editor's validator:
stored, given back, refused where it means nothing."""

from __future__ import annotations

import pytest

from annotate.models import Box, KeypointInstance
from annotate.services.annotations import annotation_problems
from tests.browser.media import video_task

from .test_annotation_save import api


@pytest.fixture
def video(project, alice):
    return video_task(project, frames=4, write_file=False, lease_user=alice)


def frame_ids(video) -> list[int]:
    return list(video.asset.frames.order_by("index").values_list("pk", flat=True))


def box(frame, **over) -> dict:
    return {"frame": frame, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50, **over}


def tracked(video, *boxes, keypoints=()) -> dict:
    return {
        "tracks": [{"number": 1, "label": "person"}],
        "boxes": list(boxes),
        "keypoints": list(keypoints),
    }


def put(user, video, payload):
    return api(user).put(
        f"/api/tasks/{video.pk}/annotation/",
        {"base_version": None, "payload": payload},
        format="json",
    )


def test_an_outside_keyframe_is_saved_and_given_back_by_the_api(video, alice):
    f0, _, f2, _ = frame_ids(video)
    payload = tracked(video, box(f0, track=1), box(f2, track=1, outside=True))
    response = put(alice, video, payload)
    assert response.status_code == 200, response.content
    assert list(Box.objects.order_by("frame__index").values_list("outside", "keyframe")) == [
        (False, True),
        (True, True),
    ]
    stored = api(alice).get(f"/api/tasks/{video.pk}/annotation/").json()["payload"]["boxes"]
    assert [(b["frame"], b["outside"]) for b in stored] == [(f0, False), (f2, True)]
    task_payload = api(alice).get(f"/api/tasks/{video.pk}/payload/").json()
    assert [b["outside"] for b in task_payload["annotation"]["payload"]["boxes"]] == [False, True]


def test_a_shape_without_outside_is_not_outside(video, alice):
    f0 = frame_ids(video)[0]
    assert put(alice, video, tracked(video, box(f0, track=1))).status_code == 200
    assert Box.objects.get().outside is False


def test_outside_must_be_true_or_false(video, alice):
    f0 = frame_ids(video)[0]
    response = put(alice, video, tracked(video, box(f0, track=1, outside="yes")))
    assert response.status_code == 400
    assert response.json()["errors"]["boxes[0].outside"] == ["Must be true or false."]


def test_an_untracked_shape_cannot_be_outside(video, alice):
    f0 = frame_ids(video)[0]
    found = annotation_problems(task=video, payload={"boxes": [box(f0, outside=True)]})
    assert "Only a track's shape can be outside" in found.errors["boxes[0].outside"][0]


def test_an_outside_shape_must_be_a_keyframe(video, alice):
    f0, f1 = frame_ids(video)[:2]
    payload = tracked(video, box(f0, track=1), box(f1, track=1, outside=True, keyframe=False))
    found = annotation_problems(task=video, payload=payload)
    assert "An outside shape is a keyframe" in found.errors["boxes[1].keyframe"][0]


def test_a_track_cannot_be_outside_and_present_on_one_frame(video, alice):
    f0 = frame_ids(video)[0]
    payload = tracked(video, box(f0, track=1), box(f0, track=1, outside=True))
    found = annotation_problems(task=video, payload=payload)
    assert found.errors["boxes[1].track"] == ["Track 1 already has a box on this frame."]


def test_an_outside_skeleton_may_have_no_labeled_point(video, alice, project):
    f0, f1 = frame_ids(video)[:2]
    names = project.keypoint_names
    seen = {name: [50, 60, 2] for name in names}
    gone = {name: [0, 0, 0] for name in names}
    payload = tracked(
        video,
        keypoints=[
            {"frame": f0, "label": "person", "track": 1, "points": seen},
            {"frame": f1, "label": "person", "track": 1, "points": gone, "outside": True},
        ],
    )
    assert put(alice, video, payload).status_code == 200
    assert list(KeypointInstance.objects.order_by("frame__index").values_list("outside")) == [
        (False,),
        (True,),
    ]
    # Without outside, a skeleton with no point is still refused.
    payload["keypoints"][1]["outside"] = False
    found = annotation_problems(task=video, payload=payload)
    assert "keypoints[1].points" in found.errors
