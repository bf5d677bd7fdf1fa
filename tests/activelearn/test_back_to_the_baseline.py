"""Back from an uploaded checkpoint: rollback goes to the version active before, else to the
newest built-in baseline, else to no model (the cold-start order), and says which; any kind
of version (baseline and pushed included) is activated through the API and the admin."""

from __future__ import annotations

import pytest
from django.test import Client
from rest_framework.test import APIClient

from activelearn.models import ModelVersion, ScoringRun
from tests.conftest import PASSWORD

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def version(project, name: str, kind: str = "onnx", **fields) -> ModelVersion:
    return ModelVersion.objects.create(
        project=project, name=name, kind=kind, task_type="classification", **fields
    )


def rollback(user, project):
    return client_for(user).post(f"/api/projects/{project.pk}/checkpoints/rollback/")


def test_rollback_from_the_first_uploaded_checkpoint_goes_to_the_newest_baseline(project, eve):
    # Regression: this answered 400 "No version was active before this one".
    version(project, "baseline-10-r1", kind="baseline")
    newest = version(project, "baseline-20-r2", kind="baseline")
    mine = version(project, "mine")
    assert client_for(eve).post(f"/api/checkpoints/{mine.pk}/activate/").status_code == 202
    response = rollback(eve, project)
    assert response.status_code == 202, response.json()
    answer = response.json()
    assert (answer["to"], answer["version"]["name"]) == ("baseline", "baseline-20-r2")
    assert "newest built-in baseline 'baseline-20-r2'" in answer["message"]
    assert ModelVersion.objects.get(is_active=True) == newest
    assert ScoringRun.objects.get(pk=answer["scoring_run"]).model_version == newest


def test_rollback_goes_to_the_version_active_before_rather_than_a_baseline(project, eve):
    version(project, "baseline-10-r1", kind="baseline")
    first, second = version(project, "first"), version(project, "second")
    client = client_for(eve)
    for chosen in (first, second):
        assert client.post(f"/api/checkpoints/{chosen.pk}/activate/").status_code == 202
    answer = rollback(eve, project).json()
    assert (answer["to"], answer["version"]["name"]) == ("previous", "first")


def test_rollback_with_nothing_before_and_no_baseline_goes_to_the_cold_start_order(project, eve):
    mine = version(project, "mine")
    client_for(eve).post(f"/api/checkpoints/{mine.pk}/activate/")
    answer = rollback(eve, project).json()
    assert (answer["to"], answer["version"]) == ("none", None)
    assert "cold-start" in answer["message"]
    assert not ModelVersion.objects.filter(is_active=True).exists()
    run = ScoringRun.objects.get(pk=answer["scoring_run"])
    assert (run.reason, run.model_version) == (ScoringRun.Reason.COLD_START, None)
    # And forward again: the checkpoint was the last one active.
    assert rollback(eve, project).json()["version"]["name"] == "mine"


def test_rollback_with_no_model_now_or_ever_is_a_400(project, eve):
    response = rollback(eve, project)
    assert response.status_code == 400
    assert response.json() == {"project": ["No model is active, and none was before."]}


@pytest.mark.parametrize("kind", ["baseline", "pushed", "onnx"])
def test_any_kind_of_version_is_activated_through_the_api(project, eve, kind):
    version(project, "live", is_active=True)
    chosen = version(project, f"a-{kind}", kind=kind)
    response = client_for(eve).post(f"/api/checkpoints/{chosen.pk}/activate/")
    assert response.status_code == 202
    assert response.json()["version"]["is_active"] is True
    assert ModelVersion.objects.get(is_active=True) == chosen


def admin_post(user, action: str, versions: list[ModelVersion]):
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client.post(
        "/admin/activelearn/modelversion/",
        {"action": action, "_selected_action": [v.pk for v in versions]},
        follow=True,
    )


def test_the_admin_activates_a_baseline_over_an_uploaded_checkpoint(project, pat):
    version(project, "mine", is_active=True)
    baseline = version(project, "baseline-10-r1", kind="baseline")
    page = admin_post(pat, "activate", [baseline])
    assert "is active; scoring run" in page.content.decode()
    assert ModelVersion.objects.get(is_active=True) == baseline


def test_the_admin_rolls_a_project_back_to_its_baseline(project, pat):
    mine = version(project, "mine", is_active=True)
    baseline = version(project, "baseline-10-r1", kind="baseline")
    page = admin_post(pat, "rollback", [mine])
    assert "newest built-in baseline" in page.content.decode()
    assert ModelVersion.objects.get(is_active=True) == baseline
