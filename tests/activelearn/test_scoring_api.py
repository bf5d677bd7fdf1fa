"""Scoring runs over the API: progress for managers and ML engineers, manual start."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from activelearn.models import ScoringRun
from tests.activelearn.scoring_helpers import (
    colour_classifier_onnx,
    image_spec,
    image_task_create,
    version_register,
)

pytestmark = pytest.mark.django_db


def _client(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_progress_of_a_run_is_visible_to_the_ml_engineer(project, eve):
    ScoringRun.objects.create(project=project, state="running", chunks_total=4, chunks_done=3)
    response = _client(eve).get(f"/api/projects/{project.pk}/scoring-runs/")
    assert response.status_code == 200
    (run,) = response.json()["results"]
    assert (run["chunks_done"], run["chunks_total"], run["progress"]) == (3, 4, 0.75)


def test_annotators_cannot_see_scoring_runs_and_other_projects_do_not_exist(
    project, other_project, alice, eve
):
    # The project exists for its annotator, who may not see its scoring runs (403); for
    # members of another project it does not exist at all (404).
    assert _client(alice).get(f"/api/projects/{project.pk}/scoring-runs/").status_code == 403
    assert _client(eve).get(f"/api/projects/{other_project.pk}/scoring-runs/").status_code == 404
    assert _client(alice).post(f"/api/projects/{project.pk}/scoring-runs/").status_code == 403


def test_a_manager_starts_a_run_and_it_is_queued_for_the_worker(
    project, pat, django_capture_on_commit_callbacks, monkeypatch
):
    version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    image_task_create(project, (200, 10, 10))
    sent = []
    monkeypatch.setattr("annotate.jobs.job_send", lambda name, args: sent.append(args[0]))
    with django_capture_on_commit_callbacks(execute=True):
        response = _client(pat).post(f"/api/projects/{project.pk}/scoring-runs/", {}, format="json")
    assert response.status_code == 202, response.content
    body = response.json()
    assert (body["state"], body["reason"], body["model_version_name"]) == ("queued", "manual", "v1")
    assert sent == [body["id"]]


def test_starting_a_run_with_another_projects_version_is_a_field_error(project, other_project, pat):
    foreign = version_register(other_project, colour_classifier_onnx(), spec=image_spec(32))
    response = _client(pat).post(
        f"/api/projects/{project.pk}/scoring-runs/", {"model_version": foreign.pk}, format="json"
    )
    assert response.status_code == 400
    assert "model_version" in response.json()
    assert not ScoringRun.objects.exists()


@pytest.mark.django_db(transaction=True)
def test_an_unreachable_broker_is_reported_not_hidden(project, pat, monkeypatch):
    def refuse(name, args):
        from kombu.exceptions import OperationalError

        raise OperationalError("connection refused")

    monkeypatch.setattr("annotate.jobs.job_send", refuse)
    response = _client(pat).post(f"/api/projects/{project.pk}/scoring-runs/", {}, format="json")
    assert response.status_code == 503
    assert "unreachable" in response.json()["detail"]
    assert ScoringRun.objects.get().state == "queued"


def test_a_body_that_is_not_json_is_a_400_the_schema_describes(project, pat):
    """Found by schemathesis: the parse error's {"detail": ...} broke the declared 400."""
    response = _client(pat).post(
        f"/api/projects/{project.pk}/scoring-runs/",
        data="{not json",
        content_type="application/json",
    )
    assert response.status_code == 400
    assert "JSON parse error" in response.json()["detail"]
