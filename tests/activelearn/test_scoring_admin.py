"""Admin: scoring runs show their progress; activating a model version starts rescoring."""

from __future__ import annotations

import pytest
from django.contrib.auth.models import User

import activelearn.admin.scoring  # noqa: F401  (the lead imports it from activelearn.admin)
from activelearn.models import ModelVersion, ScoringRun
from tests.activelearn.scoring_helpers import (
    colour_classifier_onnx,
    image_spec,
    version_register,
)

pytestmark = pytest.mark.django_db


@pytest.fixture
def admin_client_(client):
    user = User.objects.create_superuser("root", "root@example.com", "pw-0123456789")
    client.force_login(user)
    return client


def test_the_run_list_shows_chunks_done_of_total(project, admin_client_):
    ScoringRun.objects.create(project=project, state="running", chunks_total=8, chunks_done=5)
    page = admin_client_.get("/admin/activelearn/scoringrun/")
    assert page.status_code == 200
    assert "5/8 chunks" in page.content.decode()


def test_activating_a_version_deactivates_the_old_one_and_starts_a_run(
    project, admin_client_, monkeypatch, django_capture_on_commit_callbacks
):
    old = version_register(project, colour_classifier_onnx(), name="v1", spec=image_spec(32))
    new = version_register(
        project, colour_classifier_onnx(), name="v2", spec=image_spec(32), active=False
    )
    sent = []
    monkeypatch.setattr("annotate.jobs.job_send", lambda name, args: sent.append(args[0]))
    with django_capture_on_commit_callbacks(execute=True):
        response = admin_client_.post(
            "/admin/activelearn/modelversion/",
            {"action": "activate", "_selected_action": [new.pk]},
        )
    assert response.status_code == 302
    assert list(ModelVersion.objects.filter(is_active=True)) == [new]
    old.refresh_from_db()
    assert not old.is_active
    run = ScoringRun.objects.get()
    assert (run.reason, run.model_version) == ("activation", new)
    assert sent == [run.pk]
