"""A scoring run replaced by a newer one is "superseded", not "failed"; and a burst of uploads
makes one run, not one per upload (20 uploads left 19 runs "failed: Superseded")."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User
from django.core.files.uploadedfile import SimpleUploadedFile
from rest_framework.test import APIClient

import activelearn.admin.scoring  # noqa: F401  (the lead imports it from activelearn.admin)
from activelearn.models import ScoringRun, TaskScore
from activelearn.scoring.runs import scoring_run_split, scoring_run_start, tasks_added
from activelearn.tasks import score_project
from tests.activelearn.scoring_helpers import (
    colour_classifier_onnx,
    image_spec,
    image_task_create,
    version_register,
)
from tests.annotate.ingest_media import png_bytes

pytestmark = pytest.mark.django_db


def test_a_run_replaced_by_a_newer_one_is_superseded_not_failed(project, pat):
    version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    image_task_create(project, (200, 10, 10))
    old = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    scoring_run_split(run_id=old.pk)
    new = scoring_run_start(project=project, reason=ScoringRun.Reason.LABELS)
    old.refresh_from_db()
    assert (old.state, old.error) == ("superseded", "")
    assert old.finished_at is not None
    assert new.state == "queued"

    api = APIClient()
    api.force_authenticate(pat)
    listed = api.get(f"/api/projects/{project.pk}/scoring-runs/").json()["results"]
    assert {run["id"]: run["state"] for run in listed} == {new.pk: "queued", old.pk: "superseded"}

    root = User.objects.create_superuser("root", "root@example.com", "pw-0123456789")
    admin = APIClient()
    admin.force_login(root)

    def listed_in_admin(state: str) -> list[int]:
        page = admin.get(f"/admin/activelearn/scoringrun/?state__exact={state}")
        assert page.status_code == 200
        return [run.pk for run in page.context["cl"].result_list]

    assert listed_in_admin("failed") == []
    assert listed_in_admin("superseded") == [old.pk]


def test_twenty_uploads_make_one_scoring_run_that_orders_all_twenty(
    project, pat, media_root, django_capture_on_commit_callbacks, monkeypatch
):
    sent: list[int] = []
    monkeypatch.setattr(
        "annotate.jobs.job_send",
        lambda name, args: sent.append(args[0]) if name == "activelearn.score_project" else None,
    )
    api = APIClient()
    api.force_authenticate(pat)
    for index in range(20):
        upload = SimpleUploadedFile(
            f"street-{index}.png", png_bytes(colour=(10 * index, 200, 30)), "image/png"
        )
        with django_capture_on_commit_callbacks(execute=True):
            response = api.post(
                f"/api/projects/{project.pk}/assets/upload/",
                {"files": [upload]},
                format="multipart",
            )
        assert response.status_code in (200, 201), response.content

    (run,) = ScoringRun.objects.filter(project=project)
    assert (run.state, run.reason) == ("queued", "cold_start")
    assert sent == [run.pk]  # sent once; the later uploads joined it
    score_project.run(run.pk)
    run.refresh_from_db()
    assert (run.state, run.tasks_scored) == ("done", 20)
    assert TaskScore.objects.filter(task__project=project, model_version=None).count() == 20


def test_new_tasks_after_a_run_started_get_a_new_run(project, django_capture_on_commit_callbacks):
    version = version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    image_task_create(project, (200, 10, 10))
    with django_capture_on_commit_callbacks(execute=False):
        first = tasks_added(project_id=project.pk)
        assert tasks_added(project_id=project.pk) == first  # still queued: joined
        scoring_run_split(run_id=first.pk)  # a worker took it: its tasks are read
        image_task_create(project, (10, 10, 200), salt="late")
        second = tasks_added(project_id=project.pk)
    assert second != first
    first.refresh_from_db()
    assert first.state == "superseded"
    assert (second.state, second.reason, second.model_version) == ("queued", "new_tasks", version)


def test_a_manual_start_never_joins_a_waiting_run(project):
    version_register(project, colour_classifier_onnx(), spec=image_spec(32))
    waiting = scoring_run_start(project=project, reason=ScoringRun.Reason.NEW_TASKS)
    manual = scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    waiting.refresh_from_db()
    assert manual != waiting and waiting.state == "superseded"
