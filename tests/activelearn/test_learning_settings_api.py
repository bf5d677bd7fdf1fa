"""Learning settings over the API: managers and ML engineers read and change them, with the
admin's validation (400 with messages per field); the other roles get 403 as the permission
table says, and another project's settings do not exist (404)."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from activelearn.models import LearningSettings, ModelVersion, ScoringRun
from activelearn.strategies import DEFAULT_STRATEGY
from annotate.models import Membership
from annotate.permissions import ANY, ROLES, rule
from tests.conftest import make_user

pytestmark = pytest.mark.django_db


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def url(project) -> str:
    return f"/api/projects/{project.pk}/learning-settings/"


def test_an_ml_engineer_reads_the_defaults_of_a_project_never_configured(project, eve):
    answer = client_for(eve).get(url(project)).json()
    assert answer["project"] == project.pk
    assert (answer["strategy"], answer["lease_minutes"], answer["annotators_per_task"]) == (
        DEFAULT_STRATEGY,
        30,
        1,
    )
    assert DEFAULT_STRATEGY == "auto"
    assert answer["active_model_version"] is None
    choices = {choice["name"]: choice for choice in answer["strategy_choices"]}
    assert choices["entropy"]["needs"] == ["class_probs"] and choices["entropy"]["usable"]
    assert not choices["vote_entropy"]["usable"]
    assert "committee" in choices["vote_entropy"]["reason"]
    assert not LearningSettings.objects.exists()


def test_the_api_and_the_admin_edit_the_same_settings():
    """retrain_counts (submitted or accepted labels) could be changed in neither."""
    from activelearn.admin import LearningSettingsForm

    fields = set(LearningSettings.EDITABLE_FIELDS)
    assert "retrain_counts" in fields
    assert set(LearningSettingsForm._meta.fields) == {"project", *fields}


def test_a_manager_changes_every_kind_of_setting(project, pat):
    changes = {
        "strategy": "blend",
        "blend": {"margin": 2, "k_center": 1},
        "detection_aggregate": "mean",
        "keypoint_weights": {"left_shoulder": 2.0},
        "annotators_per_task": 2,
        "lease_minutes": 15,
        "rescore_every_labels": 20,
        "scoring_chunk_size": 128,
        "retrain_every_accepted": 0,
        "retrain_counts": "submitted",
        "auto_accept_thresholds": {"person": 0.9, "*": 0.95},
    }
    response = client_for(pat).patch(url(project), changes, format="json")
    assert response.status_code == 200, response.json()
    assert {key: response.json()[key] for key in changes} == changes
    stored = LearningSettings.objects.get(project=project)
    assert {key: getattr(stored, key) for key in changes} == changes
    assert response.json()["scoring_run"] is None  # no model is active: nothing to rescore


def test_changing_the_strategy_rescores_the_active_model(project, eve):
    ModelVersion.objects.create(
        project=project, name="live", kind="pushed", task_type="classification", is_active=True
    )
    client = client_for(eve)
    answer = client.patch(url(project), {"strategy": "entropy"}, format="json").json()
    run = ScoringRun.objects.get(pk=answer["scoring_run"])
    assert (run.reason, run.model_version.name) == ("manual", "live")
    assert answer["active_model_version"] == "live"
    # A change that does not touch the order starts nothing.
    assert (
        client.patch(url(project), {"lease_minutes": 5}, format="json").json()["scoring_run"]
        is None
    )


@pytest.mark.parametrize(
    ("changes", "field", "words"),
    [
        ({"strategy": "psychic"}, "strategy", "not a valid choice"),
        ({"strategy": "blend", "blend": {}}, "blend", "A blend needs"),
        ({"strategy": "blend", "blend": {"margin": -1}}, "blend", "positive number"),
        ({"strategy": "blend", "blend": {"psychic": 1}}, "blend", "unknown strategy"),
        ({"strategy": "vote_entropy"}, "strategy", "needs a committee"),
        ({"lease_minutes": 0}, "lease_minutes", "greater than or equal to 1"),
        ({"annotators_per_task": 0}, "annotators_per_task", "greater than or equal to 1"),
        ({"scoring_chunk_size": "many"}, "scoring_chunk_size", "valid integer"),
        ({"detection_aggregate": "median"}, "detection_aggregate", "not a valid choice"),
        ({"keypoint_weights": {"tail": 1}}, "keypoint_weights", "not a keypoint"),
        ({"keypoint_weights": {"left_shoulder": -2}}, "keypoint_weights", ">= 0"),
        ({"auto_accept_thresholds": {"person": 1.5}}, "auto_accept_thresholds", "0 to 1"),
        ({"auto_accept_thresholds": {"cat": 0.9}}, "auto_accept_thresholds", "not a class"),
        ({"auto_accept_thresholds": [0.9]}, "auto_accept_thresholds", "Give"),
    ],
)
def test_bad_settings_are_a_400_naming_the_field(project, pat, changes, field, words):
    response = client_for(pat).patch(url(project), changes, format="json")
    assert response.status_code == 400
    assert words in " ".join(response.json()[field])
    assert not LearningSettings.objects.exists()


@pytest.mark.parametrize("role", ROLES)
def test_who_may_read_and_change_learning_settings_follows_the_permission_table(project, role):
    user = make_user(f"user-{role}")
    Membership.objects.create(project=project, user=user, role=role)
    expected = 200 if rule("model.manage", role) == ANY else 403
    client = client_for(user)
    assert client.get(url(project)).status_code == expected
    response = client.patch(url(project), {"lease_minutes": 10}, format="json")
    assert response.status_code == expected
    assert LearningSettings.objects.filter(lease_minutes=10).exists() == (expected == 200)


def test_another_projects_learning_settings_do_not_exist_for_its_manager(other_project, pat):
    client = client_for(pat)
    assert client.get(url(other_project)).status_code == 404
    assert client.patch(url(other_project), {"lease_minutes": 9}, format="json").status_code == 404


def test_annotators_and_reviewers_get_403(project, alice, rita):
    for user in (alice, rita):
        assert client_for(user).get(url(project)).status_code == 403


@pytest.mark.parametrize("field", ["blend", "keypoint_weights", "auto_accept_thresholds"])
def test_a_null_json_setting_is_a_400_not_a_500(project, pat, field):
    """Found by schemathesis: PATCH {"blend": null} reached the NOT NULL column (500)."""
    response = client_for(pat).patch(url(project), {field: None}, format="json")
    assert response.status_code == 400, response.content
    assert field in response.json()


def test_a_forms_null_json_setting_is_a_400_not_a_500(project, pat):
    """Found by schemathesis: multipart "blend=null" is parsed to None after DRF's null check."""
    response = client_for(pat).patch(url(project), {"blend": "null"}, format="multipart")
    assert response.status_code == 400, response.content
    assert "blend" in response.json()
