"""The project page says what the loop did last ("Model v2 trained on 10 labels: 38 tasks
re-ranked 12 s ago"), from activelearn.selectors.loop_summary; the same as JSON at
/api/projects/<id>/loop-status/ for every member, 404 for everyone else."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.urls import reverse
from django.utils import timezone
from rest_framework.test import APIClient

from activelearn.models import LearningSettings, ModelVersion, RetrainingRound, ScoringRun
from activelearn.selectors import loop_summary
from annotate.models import AnnotationTask
from tests.activelearn.scoring_helpers import image_task_create

pytestmark = pytest.mark.django_db

NOW = timezone.now()


def _run(project, *, version=None, state="done", scored=0, seconds_ago=12, **fields):
    fields.setdefault("reason", "activation" if version else "cold_start")
    run = ScoringRun.objects.create(
        project=project,
        model_version=version,
        state=state,
        tasks_scored=scored,
        finished_at=NOW - timedelta(seconds=seconds_ago) if state == "done" else None,
        **fields,
    )
    return run


def _trained(project, *, labels: int, name: str) -> ModelVersion:
    version = ModelVersion.objects.create(
        project=project,
        name=name,
        kind=ModelVersion.Kind.BASELINE,
        task_type=ModelVersion.TaskType.CLASSIFICATION,
        labels_at_training=labels,
        is_active=True,
    )
    RetrainingRound.objects.create(
        project=project, accepted_count=labels, state="done", model_version=version, activated=True
    )
    return version


def _labeled(project, count: int) -> None:
    for index in range(count):
        task = image_task_create(project, (index, 0, 0), salt=f"l{index}")
        AnnotationTask.objects.filter(pk=task.pk).update(state=AnnotationTask.State.SUBMITTED)


def test_before_anything_ran_it_says_so_and_when_the_first_round_comes(project):
    LearningSettings.objects.create(project=project, retrain_every_accepted=5)
    summary = loop_summary(project=project, now=NOW)
    assert summary.text == (
        "No scoring run has finished yet. Next retraining at 5 labels (0 so far)."
    )
    assert (summary.model_version, summary.tasks_ranked, summary.next_retraining_at) == (
        None,
        None,
        5,
    )


def test_the_cold_start_order_is_named_as_coverage_with_its_age(project):
    LearningSettings.objects.create(project=project, retrain_every_accepted=0)
    _run(project, scored=49, seconds_ago=75)
    summary = loop_summary(project=project, now=NOW)
    assert summary.text == "No model yet: 49 tasks ordered for coverage 1 min ago."
    assert summary.next_retraining_at is None  # retraining is off


def test_after_a_round_it_names_the_model_its_labels_and_the_tasks_re_ranked(project):
    LearningSettings.objects.create(
        project=project, retrain_every_accepted=5, retrain_counts="submitted"
    )
    _labeled(project, 11)
    _run(project, scored=40, seconds_ago=300)
    version = _trained(project, labels=10, name="v2")
    _run(project, version=version, scored=38)
    # A newer run that was superseded does not hide the one the order comes from.
    _run(project, version=version, state="superseded")
    summary = loop_summary(project=project, now=NOW)
    assert summary.text == (
        "Model v2 trained on 10 labels: 38 tasks re-ranked 12 s ago. "
        "Next retraining at 15 labels (11 so far)."
    )
    assert (summary.model_version, summary.labels_at_training, summary.tasks_ranked) == (
        "v2",
        10,
        38,
    )
    assert (summary.scoring_state, summary.retraining_state) == ("done", "done")


def test_a_skipped_round_says_why_and_a_run_under_way_its_progress(project):
    LearningSettings.objects.create(
        project=project, retrain_every_accepted=5, retrain_counts="submitted"
    )
    _labeled(project, 5)
    _run(project, scored=44)
    RetrainingRound.objects.create(
        project=project,
        accepted_count=5,
        state="skipped",
        note="The validation slice has fewer than 2 examples yet.",
    )
    _run(project, state="running", chunks_total=3, chunks_done=1, reason="labels")
    text = loop_summary(project=project, now=NOW).text
    assert "A scoring run is running (1/3 chunks, new labels)." in text
    assert "Retraining at 5 labels skipped: The validation slice has fewer than 2" in text
    assert text.endswith("Next retraining at 10 labels (5 so far).")


def test_a_failed_run_is_reported_with_its_error(project):
    _run(project, scored=3)
    _run(project, state="failed", error="the model wants 224x224 pictures")
    text = loop_summary(project=project, now=NOW).text
    assert "The last scoring run failed: the model wants 224x224 pictures" in text


@pytest.mark.parametrize("member", ["alice", "rita", "pat", "eve"])
def test_every_member_sees_the_line_on_the_project_page_and_in_the_api(
    project, member, request, client
):
    LearningSettings.objects.create(project=project, retrain_every_accepted=5)
    version = _trained(project, labels=10, name="baseline-10-r2")
    _run(project, version=version, scored=38)
    user = request.getfixturevalue(member)

    client.force_login(user)
    page = client.get(reverse("project-detail", args=[project.pk]))
    assert page.status_code == 200
    assert 'id="loop-summary"' in page.text
    assert "Model baseline-10-r2 trained on 10 labels: 38 tasks re-ranked" in page.text

    api = APIClient()
    api.force_authenticate(user)
    body = api.get(f"/api/projects/{project.pk}/loop-status/").json()
    assert body["model_version"] == "baseline-10-r2"
    assert (body["labels_at_training"], body["tasks_ranked"]) == (10, 38)
    assert body["text"].startswith("Model baseline-10-r2 trained on 10 labels: 38 tasks")
    assert set(body) == {
        "text",
        "model_version",
        "labels_at_training",
        "tasks_ranked",
        "ranked_at",
        "scoring_state",
        "retraining_state",
        "retraining_note",
        "labels_counted",
        "next_retraining_at",
    }


def test_another_projects_loop_status_is_a_404(project, carol):
    api = APIClient()
    api.force_authenticate(carol)
    assert api.get(f"/api/projects/{project.pk}/loop-status/").status_code == 404
    api.force_authenticate(None)
    assert api.get(f"/api/projects/{project.pk}/loop-status/").status_code in (401, 403)


def test_the_loop_status_is_in_the_openapi_schema(pat):
    api = APIClient()
    api.force_authenticate(pat)
    schema = api.get("/api/schema/", {"format": "json"}).json()
    operation = schema["paths"]["/api/projects/{id}/loop-status/"]["get"]
    reference = operation["responses"]["200"]["content"]["application/json"]["schema"]["$ref"]
    component = schema["components"]["schemas"][reference.rsplit("/", 1)[-1]]
    assert {"text", "model_version", "tasks_ranked", "next_retraining_at"} <= set(
        component["properties"]
    )
