"""A project manager sees and changes only their own projects' learning rows in the admin."""

import pytest
from django.test import Client

from activelearn.learning_settings import learning_settings_errors
from activelearn.models import LearningSettings, ModelVersion
from tests.conftest import PASSWORD


def _login(user) -> Client:
    client = Client()
    assert client.login(username=user.username, password=PASSWORD)
    return client


def test_a_manager_lists_only_their_projects_model_versions(project, other_project, pat):
    ModelVersion.objects.create(
        project=project, name="ours-v1", kind="pushed", task_type="detection"
    )
    ModelVersion.objects.create(
        project=other_project, name="theirs-v1", kind="pushed", task_type="detection"
    )
    page = _login(pat).get("/admin/activelearn/modelversion/")
    assert page.status_code == 200
    assert b"ours-v1" in page.content
    assert b"theirs-v1" not in page.content


def test_another_projects_learning_settings_do_not_open(project, other_project, pat):
    theirs = LearningSettings.objects.create(project=other_project)
    ours = LearningSettings.objects.create(project=project)
    client = _login(pat)
    assert client.get(f"/admin/activelearn/learningsettings/{ours.pk}/change/").status_code == 200
    page = client.get(f"/admin/activelearn/learningsettings/{theirs.pk}/change/")
    assert page.status_code == 302  # the admin redirects a missing object to the list


@pytest.mark.django_db
def test_unknown_strategies_and_bad_blends_are_refused(project):
    def errors(**fields) -> dict:
        return learning_settings_errors(settings=LearningSettings(project=project, **fields))

    assert "Unknown strategy" in errors(strategy="psychic")["strategy"][0]
    assert "positive number" in errors(strategy="blend", blend={"margin": -1})["blend"][0]
    assert errors(strategy="blend", blend={"margin": 1.0}) == {}
