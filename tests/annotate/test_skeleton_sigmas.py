"""Per-keypoint OKS sigmas live in the skeleton: the COCO-17 preset brings COCO's published
ones, a manager edits them in the API or the admin, and anything but one positive number per
keypoint is refused with a message naming the keypoint. The mastered keypoints are shown,
never edited."""

from __future__ import annotations

import json

import pytest
from rest_framework.test import APIClient

from annotate.schema import (
    COCO17_KEYPOINTS,
    COCO17_SIGMAS,
    DEFAULT_SIGMA,
    skeleton_errors,
    skeleton_preset,
    skeleton_sigmas,
)
from tests.annotate.test_admin import change_url, form_data

pytestmark = pytest.mark.django_db

UPPER = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_coco_preset_carries_cocos_published_sigmas():
    skeleton = skeleton_preset("coco17")
    assert skeleton["sigmas"]["nose"] == 0.026 and skeleton["sigmas"]["left_hip"] == 0.107
    assert skeleton_sigmas(skeleton) == COCO17_SIGMAS
    assert skeleton_errors(skeleton) == []
    assert list(skeleton["sigmas"]) == COCO17_KEYPOINTS


def test_a_skeleton_without_sigmas_takes_cocos_for_coco_names_and_the_default_otherwise():
    skeleton = {"keypoints": ["nose", "tail_tip"], "edges": []}
    assert skeleton_sigmas(skeleton) == [0.026, DEFAULT_SIGMA]


@pytest.mark.parametrize(
    ("sigmas", "words"),
    [
        ({"left_shoulder": 0.1, "right_shoulder": 0.1, "left_hip": 0.1}, "missing: right_hip"),
        ({**dict.fromkeys(UPPER, 0.1), "right_hip": 0}, "'right_hip' must be a positive"),
        ({**dict.fromkeys(UPPER, 0.1), "left_hip": "wide"}, "'left_hip' must be a positive"),
        ({**dict.fromkeys(UPPER, 0.1), "left_hip": True}, "'left_hip' must be a positive"),
        ({**dict.fromkeys(UPPER, 0.1), "tail": 0.1}, "'tail': not a keypoint"),
        ([0.1, 0.1, 0.1, 0.1], "must be an object"),
    ],
)
def test_bad_sigmas_are_a_400_naming_the_keypoint(project, pat, sigmas, words):
    skeleton = {**skeleton_preset("upper_body"), "sigmas": sigmas}
    response = _client(pat).patch(
        f"/api/projects/{project.pk}/", {"skeleton": skeleton}, format="json"
    )
    assert response.status_code == 400
    assert words in " ".join(response.json()["skeleton"])
    project.refresh_from_db()
    assert "sigmas" not in project.skeleton


def test_a_manager_sets_the_sigmas_of_their_skeleton_through_the_api(project, pat):
    skeleton = {**skeleton_preset("upper_body"), "sigmas": dict.fromkeys(UPPER, 0.08)}
    response = _client(pat).patch(
        f"/api/projects/{project.pk}/", {"skeleton": skeleton}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["skeleton"]["sigmas"]["left_hip"] == 0.08
    project.refresh_from_db()
    assert skeleton_sigmas(project.skeleton) == [0.08] * 4


def test_mastered_keypoints_are_read_only_in_the_api(project, pat):
    project.mastered_keypoints = ["left_hip"]
    project.save(update_fields=["mastered_keypoints"])
    client = _client(pat)
    response = client.patch(
        f"/api/projects/{project.pk}/", {"mastered_keypoints": UPPER}, format="json"
    )
    assert response.status_code == 200
    assert response.json()["mastered_keypoints"] == ["left_hip"]


def test_a_manager_edits_sigmas_in_the_admin_and_bad_ones_are_refused(client, project, pat):
    client.force_login(pat)
    data = form_data(client, change_url(project))
    data["skeleton"] = json.dumps({**skeleton_preset("upper_body"), "sigmas": {"left_hip": -1}})
    response = client.post(change_url(project), data)
    assert response.status_code == 200
    assert "must be a positive number" in response.content.decode()

    data["skeleton"] = json.dumps(
        {**skeleton_preset("upper_body"), "sigmas": dict.fromkeys(UPPER, 0.2)}
    )
    assert client.post(change_url(project), data).status_code == 302
    project.refresh_from_db()
    assert project.skeleton["sigmas"]["right_hip"] == 0.2


def test_the_coco_preset_in_the_admin_brings_its_sigmas(client, project, pat):
    client.force_login(pat)
    data = form_data(client, change_url(project))
    data["apply_preset"] = "coco17"
    assert client.post(change_url(project), data).status_code == 302
    project.refresh_from_db()
    assert skeleton_sigmas(project.skeleton) == COCO17_SIGMAS
