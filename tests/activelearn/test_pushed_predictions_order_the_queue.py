"""Pushed confidences order the queue without a further step: a push to a project with no
active version activates that version (and rescores); a push to an inactive version says so
in its answer, and `?activate=1` or "activate": true activates it in the same call."""

from __future__ import annotations

import time

import pytest
from rest_framework.test import APIClient

from activelearn.models import LearningSettings, ModelVersion, ScoringRun
from tests.activelearn.test_predictions_push import make_assets


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def push(user, project, rows, *, query: str = "", body: dict | None = None):
    return client_for(user).post(
        f"/api/projects/{project.pk}/predictions/{query}",
        {"predictions": rows, **(body or {})},
        format="json",
    )


def probs_rows(assets, version: str = "mine") -> list[dict]:
    # The first asset is the model's surest, the last its least sure.
    return [
        {"asset": asset.pk, "model_version": version, "probs": [p, round(1 - p, 3)]}
        for asset, p in zip(assets, (0.99, 0.8, 0.55), strict=True)
    ]


@pytest.mark.django_db
def test_a_push_to_a_project_without_an_active_version_activates_it(project, eve):
    assets = make_assets(project)
    response = push(eve, project, probs_rows(assets))
    assert response.status_code == 200, response.json()
    answer = response.json()
    version = ModelVersion.objects.get(project=project, name="mine")
    assert version.is_active
    assert (answer["model_version_id"], answer["version_active"], answer["activated"]) == (
        version.pk,
        True,
        True,
    )
    assert "no version was active" in answer["message"]
    run = ScoringRun.objects.get(pk=answer["scoring_run"])
    assert (run.reason, run.model_version_id) == (ScoringRun.Reason.ACTIVATION, version.pk)


@pytest.mark.django_db
def test_a_push_to_an_inactive_version_says_so_and_leaves_the_active_one(project, eve):
    assets = make_assets(project)
    live = ModelVersion.objects.create(
        project=project, name="live", kind="pushed", task_type="classification", is_active=True
    )
    answer = push(eve, project, probs_rows(assets)).json()
    assert answer["version_active"] is False and answer["activated"] is False
    assert answer["scoring_run"] is None
    assert "'mine' is not the active version ('live' is)" in answer["message"]
    assert "?activate=1" in answer["message"]
    assert ModelVersion.objects.get(is_active=True) == live


@pytest.mark.django_db
@pytest.mark.parametrize(
    ("query", "body"), [("?activate=1", None), ("", {"activate": True})], ids=["query", "body"]
)
def test_a_push_with_activate_makes_its_version_active_in_the_same_call(project, eve, query, body):
    assets = make_assets(project)
    ModelVersion.objects.create(
        project=project, name="live", kind="pushed", task_type="classification", is_active=True
    )
    answer = push(eve, project, probs_rows(assets), query=query, body=body).json()
    mine = ModelVersion.objects.get(name="mine")
    assert ModelVersion.objects.get(is_active=True) == mine
    assert answer["activated"] is True and answer["version_active"] is True
    assert "replaces 'live'" in answer["message"]
    assert ScoringRun.objects.get(pk=answer["scoring_run"]).model_version == mine


@pytest.mark.django_db
def test_a_push_whose_version_cannot_feed_the_strategy_is_stored_but_not_activated(project, eve):
    LearningSettings.objects.create(project=project, strategy="detection")
    assets = make_assets(project)
    response = push(eve, project, probs_rows(assets))
    answer = response.json()
    assert response.status_code == 200 and answer["stored"] == 3
    assert answer["version_active"] is False and not answer["activated"]
    assert (
        "Strategy detection needs boxes; the model 'mine' gives class probabilities"
        in (answer["message"])
    )
    assert not ModelVersion.objects.filter(is_active=True).exists()


@pytest.mark.django_db
def test_the_push_answer_is_described_in_the_openapi_schema(pat):
    schema = client_for(pat).get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/projects/{id}/predictions/"]["post"]
    answer = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    fields = schema["components"]["schemas"][answer.rsplit("/", 1)[1]]["properties"]
    assert {"version_active", "activated", "message", "scoring_run"} <= set(fields)
    assert "activate" in {parameter["name"] for parameter in operation["parameters"]}


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_pushed_confidences_reorder_the_queue_through_a_real_worker(project, eve, celery_worker):
    # The ranking alone: no random audit share parked out of the priority order.
    LearningSettings.objects.create(
        project=project, strategy="margin", rescore_every_labels=0, audit_share=0.0
    )
    assets = make_assets(project)
    answer = push(eve, project, probs_rows(assets)).json()
    deadline = time.monotonic() + 60
    while ScoringRun.objects.get(pk=answer["scoring_run"]).state != "done":
        assert time.monotonic() < deadline, "the push's scoring run did not finish"
        time.sleep(0.2)
    queue = client_for(eve).get(f"/api/projects/{project.pk}/queue/").json()
    assert queue["model_version"] == "mine"
    # Least sure first: the push alone reordered the queue.
    assert [row["asset"] for row in queue["results"]] == [a.pk for a in reversed(assets)]
