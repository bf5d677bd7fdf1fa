"""Per-keypoint confidence from every source, and the partial-labeling split: a pushed point
carries a confidence checked to 0..1 (as [x, y, c] or {"x", "y", "confidence"}); a joint is
pre-filled when its confidence reaches the project's threshold or the model mastered it, and
the answer says which points are pre-filled and why."""

from __future__ import annotations

import pytest

from activelearn.models import LearningSettings, ModelVersion
from activelearn.predictions.push import predictions_push
from activelearn.predictions.suggestions import shapes_split, task_suggestions
from annotate.services.projects import project_mastered_keypoints_set
from tests.activelearn.test_predictions_push import make_assets, stored

NAMES = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]


def kp(confidences: dict[str, float]) -> dict:
    return {
        "type": "kp",
        "frame": None,
        "label": "person",
        "confidence": 0.5,
        "points": {name: [10.0 * i, 20.0, 2] for i, name in enumerate(NAMES, 1)},
        "point_confidence": confidences,
    }


def test_a_mastered_joint_is_prefilled_below_the_threshold_and_said_so():
    shape = kp({"left_shoulder": 0.95, "right_shoulder": 0.5, "left_hip": 0.3, "right_hip": 0.2})
    (accepted,), suggestions = shapes_split([shape], {"*": 0.9}, mastered=["left_hip"])
    assert suggestions == []
    assert accepted["point_sources"] == {"left_shoulder": "model", "left_hip": "model"}
    assert accepted["mastered"] == ["left_hip"]
    assert accepted["uncertain"] == ["right_shoulder", "right_hip"]
    assert accepted["points"]["right_hip"] == [0, 0, 0]


def test_mastered_joints_alone_make_a_skeleton_accepted_and_nothing_else_does():
    shape = kp(dict.fromkeys(NAMES, 0.2))
    assert shapes_split([shape], {"*": 0.9})[0] == []
    (accepted,), _ = shapes_split([shape], {"*": 0.9}, mastered=["right_hip"])
    assert list(accepted["point_sources"]) == ["right_hip"]


pytestmark_db = pytest.mark.django_db


@pytestmark_db
def test_a_pushed_point_may_name_its_confidence_and_out_of_range_is_refused(project, eve):
    good, bad = make_assets(project, 2)
    rows = [
        {
            "asset": good.pk,
            "model_version": "pose",
            "keypoints": [
                {
                    "points": {"left_shoulder": {"x": 5, "y": 6, "confidence": 0.91}},
                    "label": "person",
                }
            ],
        },
        {
            "asset": bad.pk,
            "model_version": "pose",
            "keypoints": [{"points": {"left_shoulder": {"x": 5, "y": 6, "confidence": 1.2}}}],
        },
    ]
    result = predictions_push(project=project, rows=rows, user=eve)
    assert (result.stored, result.error_count) == (1, 1)
    assert "confidence" in result.errors[0]["error"]
    assert stored("pose")[good.pk]["keypoints"][0]["confidences"] == {"left_shoulder": 0.91}


@pytestmark_db
def test_the_suggestions_of_a_task_prefill_confident_and_mastered_joints(project, eve):
    (asset,) = make_assets(project, 1)
    points = {
        "left_shoulder": [100, 100, 0.97],
        "right_shoulder": [200, 100, 0.6],
        "left_hip": [110, 250, 0.45],
        "right_hip": [190, 250, 0.3],
    }
    row = {"asset": asset.pk, "keypoints": [{"label": "person", "points": points}]}
    predictions_push(project=project, rows=[row], user=eve, model_version_name="pose-v1")
    assert ModelVersion.objects.get(name="pose-v1").is_active
    LearningSettings.objects.update_or_create(
        project=project, defaults={"auto_accept_thresholds": {"*": 0.9}}
    )
    project_mastered_keypoints_set(project=project, names=["left_hip"])
    (task,) = asset.tasks.all()
    (skeleton,) = task_suggestions(task=task)["accepted"]
    assert skeleton["point_sources"] == {"left_shoulder": "model", "left_hip": "model"}
    assert skeleton["mastered"] == ["left_hip"]
    assert skeleton["uncertain"] == ["right_shoulder", "right_hip"]
    assert skeleton["point_confidence"]["right_hip"] == 0.3
