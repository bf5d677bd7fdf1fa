"""Joint mastery on the real database: measuring a keypoint version stores each keypoint's OKS
and PCK with the skeleton's sigma, a keypoint under the threshold for the last versions is
written onto the project as mastered, the settings move it, the API shows it by version with
the permissions of the model pages, and the keypoint strategy stops weighing mastered points."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from activelearn.learning_settings import learning_settings_update
from activelearn.models import (
    JointMetric,
    LearningSettings,
    ModelVersion,
    Prediction,
    ScoringRun,
    TaskScore,
)
from activelearn.retraining.rounds import in_validation_slice
from activelearn.scoring.evaluation import version_evaluate
from activelearn.scoring.mastery import joint_metrics_save
from activelearn.scoring.runs import score_chunk, scoring_run_split, scoring_run_start
from annotate.models import Annotation, AnnotationTask, KeypointInstance, LabelClass
from tests.activelearn.scoring_helpers import image_task_create, version_register

pytestmark = pytest.mark.django_db

NAMES = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]  # the upper_body preset
POINTS = {
    "left_shoulder": [10.0, 8.0, 2],
    "right_shoulder": [30.0, 8.0, 2],
    "left_hip": [12.0, 36.0, 2],
    "right_hip": [28.0, 36.0, 1],
}


def _labeled_slice_tasks(project, n: int) -> list[AnnotationTask]:
    tasks, i = [], 0
    while len(tasks) < n:
        task = image_task_create(project, (i % 250, 20, 30), salt=f"joint-{i}")
        i += 1
        if not in_validation_slice(project_id=project.pk, task_id=task.pk):
            continue
        task.state = AnnotationTask.State.ACCEPTED
        task.save(update_fields=["state"])
        annotation = Annotation.objects.create(task=task, version=1, kind="submission")
        KeypointInstance.objects.create(
            annotation=annotation,
            label_class=LabelClass.objects.get(project=project, name="person"),
            points=POINTS,
        )
        tasks.append(task)
    return tasks


def _predicted(hip_shift: float) -> dict:
    points = {
        name: [x + (hip_shift if "hip" in name else 0.0), y] for name, (x, y, _) in POINTS.items()
    }
    return {"keypoints": [{"label": "person", "score": 0.9, "points": points}]}


def _version(project, name: str, tasks, hip_shift: float, age_days: int) -> ModelVersion:
    version = ModelVersion.objects.create(
        project=project, name=name, kind="pushed", task_type="keypoints"
    )
    # Versions are ordered by when they were made: make that explicit.
    ModelVersion.objects.filter(pk=version.pk).update(
        created_at=timezone.now() - dt.timedelta(days=age_days)
    )
    for task in tasks:
        Prediction.objects.create(task=task, model_version=version, data=_predicted(hip_shift))
    return version


def test_measuring_a_keypoint_version_stores_each_keypoints_oks_and_pck(project):
    tasks = _labeled_slice_tasks(project, 3)
    version = _version(project, "hips-off", tasks, hip_shift=6.0, age_days=1)

    metrics = version_evaluate(version=version)

    assert metrics["metric"] == "oks"
    rows = {row.keypoint: row for row in JointMetric.objects.filter(version=version)}
    assert set(rows) == set(NAMES)
    assert rows["left_shoulder"].oks == pytest.approx(1.0)
    assert rows["left_shoulder"].pck == 1.0
    assert rows["left_shoulder"].points == 3
    # A 6 px miss on a 20 x 28 px person: OKS = exp(-36 / (2 * 560 * (2 * 0.107)^2)).
    assert rows["left_hip"].oks == pytest.approx(np.exp(-36 / (2 * 560 * 0.214**2)))
    assert rows["left_hip"].pck == 0.0  # beyond a tenth of the box's 28 px side
    assert rows["left_hip"].sigma == pytest.approx(0.107)  # COCO's, the preset has none


def test_measuring_twice_stores_the_same_rows(project):
    tasks = _labeled_slice_tasks(project, 2)
    version = _version(project, "v", tasks, hip_shift=3.0, age_days=1)
    version_evaluate(version=version)
    first = sorted(JointMetric.objects.values_list("keypoint", "oks", "pck", "points"))
    version_evaluate(version=version)
    assert sorted(JointMetric.objects.values_list("keypoint", "oks", "pck", "points")) == first


def test_the_skeletons_own_sigmas_are_the_ones_measured_with(project):
    project.skeleton = {**project.skeleton, "sigmas": dict.fromkeys(NAMES, 0.5)}
    project.save(update_fields=["skeleton"])
    tasks = _labeled_slice_tasks(project, 2)
    version = _version(project, "v", tasks, hip_shift=6.0, age_days=1)
    version_evaluate(version=version)
    hip = JointMetric.objects.get(version=version, keypoint="left_hip")
    assert hip.sigma == 0.5
    assert hip.oks == pytest.approx(np.exp(-36 / (2 * 560 * 1.0**2)))


def test_keypoints_good_in_the_last_two_versions_become_mastered_on_the_project(project):
    tasks = _labeled_slice_tasks(project, 2)
    older = _version(project, "v1", tasks, hip_shift=6.0, age_days=2)
    newer = _version(project, "v2", tasks, hip_shift=6.0, age_days=1)

    version_evaluate(version=older)
    project.refresh_from_db()
    assert project.mastered_keypoints == []  # one version is not yet "the last two"

    version_evaluate(version=newer)
    project.refresh_from_db()
    assert project.mastered_keypoints == ["left_shoulder", "right_shoulder"]


def test_changing_the_mastery_settings_recomputes_what_is_mastered(project):
    tasks = _labeled_slice_tasks(project, 2)
    version_evaluate(version=_version(project, "v1", tasks, hip_shift=6.0, age_days=1))
    project.refresh_from_db()
    assert project.mastered_keypoints == []

    learning_settings_update(project=project, changes={"mastery_versions": 1})
    project.refresh_from_db()
    assert project.mastered_keypoints == ["left_shoulder", "right_shoulder"]

    # A threshold above the hips' error masters them too.
    learning_settings_update(project=project, changes={"mastery_error_threshold": 0.9})
    project.refresh_from_db()
    assert project.mastered_keypoints == NAMES


def test_a_mastery_threshold_outside_0_to_1_is_refused_by_the_database(project):
    settings = LearningSettings(project=project, mastery_error_threshold=1.5)
    with pytest.raises(Exception, match="learning_mastery_error_range"):
        settings.save()


@pytest.mark.parametrize(
    ("changes", "field"),
    [
        ({"mastery_error_threshold": 1.5}, "mastery_error_threshold"),
        ({"mastery_versions": 0}, "mastery_versions"),
    ],
)
def test_bad_mastery_settings_are_a_400_naming_the_field(project, pat, changes, field):
    client = APIClient()
    client.force_authenticate(pat)
    response = client.patch(
        f"/api/projects/{project.pk}/learning-settings/", changes, format="json"
    )
    assert response.status_code == 400
    assert field in response.json()


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_the_api_gives_each_keypoints_figures_by_version_and_whether_it_is_mastered(
    project, pat, eve
):
    tasks = _labeled_slice_tasks(project, 2)
    older = _version(project, "v1", tasks, hip_shift=6.0, age_days=2)
    newer = _version(project, "v2", tasks, hip_shift=2.0, age_days=1)
    version_evaluate(version=older)
    version_evaluate(version=newer)

    for user in (pat, eve):
        response = _client(user).get(f"/api/projects/{project.pk}/joint-metrics/")
        assert response.status_code == 200
    report = response.json()
    assert [v["name"] for v in report["versions"]] == ["v1", "v2"]
    assert (report["threshold"], report["versions_required"]) == (0.15, 2)
    joints = {joint["keypoint"]: joint for joint in report["joints"]}
    assert list(joints) == NAMES
    assert joints["left_shoulder"]["mastered"] and not joints["left_hip"]["mastered"]
    assert joints["left_shoulder"]["weight"] == 0.0
    assert joints["left_hip"]["weight"] > 0.4
    hip = joints["left_hip"]["by_version"]
    assert [figure["version"] for figure in hip] == [older.pk, newer.pk]
    assert hip[0]["error"] > hip[1]["error"] > 0  # the newer version misses by less
    assert hip[1]["oks"] == pytest.approx(1 - hip[1]["error"])
    assert report["mastered"] == ["left_shoulder", "right_shoulder"]


def test_an_annotator_gets_403_and_another_projects_member_404(
    project, alice, carol, other_project
):
    assert _client(alice).get(f"/api/projects/{project.pk}/joint-metrics/").status_code == 403
    assert _client(carol).get(f"/api/projects/{project.pk}/joint-metrics/").status_code == 404


def test_a_project_never_measured_answers_every_keypoint_without_versions(project, pat):
    report = _client(pat).get(f"/api/projects/{project.pk}/joint-metrics/").json()
    assert report["versions"] == [] and report["mastered"] == []
    assert [joint["weight"] for joint in report["joints"]] == [0.25] * 4


def _score_pool(project, version) -> dict[int, float]:
    run = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    for chunk in scoring_run_split(run_id=run.pk):
        score_chunk(run_id=run.pk, task_ids=chunk)
    return dict(TaskScore.objects.filter(model_version=version).values_list("task_id", "score"))


def test_the_keypoint_strategys_weights_follow_mastery(project):
    LearningSettings.objects.create(project=project, strategy="keypoints")
    live = version_register(
        project, None, name="live", kind=ModelVersion.Kind.PUSHED, task_type="keypoints"
    )
    doubtful_shoulder, doubtful_hip = (
        image_task_create(project, c) for c in [(1, 2, 3), (4, 5, 6)]
    )
    for task, doubt in ((doubtful_shoulder, "left_shoulder"), (doubtful_hip, "left_hip")):
        confidences = {name: 0.0 if name == doubt else 1.0 for name in NAMES}
        data = {"keypoints": [{"label": "person", "score": 0.9, "confidences": confidences}]}
        Prediction.objects.create(task=task, model_version=live, data=data)

    before = _score_pool(project, live)
    assert before[doubtful_shoulder.pk] == pytest.approx(before[doubtful_hip.pk])

    # Two measured versions: the shoulders are mastered, the hips still miss.
    for age, name in ((3, "m1"), (2, "m2")):
        measured = _version(project, name, [], hip_shift=0.0, age_days=age)
        joint_metrics_save(
            version=measured,
            names=NAMES,
            sigmas=[0.079, 0.079, 0.107, 0.107],
            oks=np.array([0.99, 0.99, 0.5, 0.5]),
            pck=np.array([1.0, 1.0, 0.4, 0.4]),
            points=np.array([5, 5, 5, 5]),
        )

    after = _score_pool(project, live)
    assert after[doubtful_shoulder.pk] == pytest.approx(0.0)
    assert after[doubtful_hip.pk] == pytest.approx(0.5)  # half the weight: both hips count
    assert after[doubtful_hip.pk] > before[doubtful_hip.pk]
