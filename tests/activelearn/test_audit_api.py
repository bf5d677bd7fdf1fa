"""GET /api/projects/<id>/audit/: the newest measurement's figures, in the shape the schema
declares (every answer here is checked against it), for managers and ML engineers only."""

from __future__ import annotations

import pytest
from rest_framework.test import APIClient

from activelearn.audit.reports import audit_measure_run
from activelearn.models import AuditReport, RetrainingRound
from activelearn.retraining.rounds import retraining_round_run
from tests.activelearn.test_audit_measure import _labeled_project, _versions_curve

pytestmark = pytest.mark.django_db


def _get(user, project):
    client = APIClient()
    client.force_authenticate(user)
    return client.get(f"/api/projects/{project.pk}/audit/")


def test_before_any_measurement_the_answer_has_no_figures(project, pat):
    answer = _get(pat, project).json()
    assert answer == {
        "project": project.pk,
        "report": None,
        "measured_at": None,
        "measuring": None,
        "figures": None,
        "stop_recommendation": None,
    }


def test_a_manager_reads_every_figure_of_a_measurement(
    project, alice, pat, media_root, django_capture_on_commit_callbacks
):
    _labeled_project(project, alice, audit=16, active=24)
    round_ = RetrainingRound.objects.create(project=project, accepted_count=40)
    with django_capture_on_commit_callbacks(execute=False):
        retraining_round_run(round_id=round_.pk)
        report = AuditReport.objects.get(project=project)
        audit_measure_run(report_id=report.pk)
        AuditReport.objects.create(project=project)  # a newer one, waiting
    answer = _get(pat, project).json()
    assert answer["report"] == report.pk and answer["measuring"] == "queued"
    figures = answer["figures"]
    assert figures["model"]["examples"] == 16 and figures["model"]["interval"] == "Wilson 95%"
    assert figures["curves"]["active"] and figures["curves"]["random"]
    assert figures["audit"]["labeled"] == 16


def test_figures_that_cannot_be_made_say_why(
    project, eve, media_root, django_capture_on_commit_callbacks
):
    _versions_curve(project, threshold=0.5)
    report = AuditReport.objects.create(project=project)
    with django_capture_on_commit_callbacks(execute=False):
        audit_measure_run(report_id=report.pk)
    answer = _get(eve, project).json()
    figures = answer["figures"]
    assert figures["model"]["reason"].startswith("No model is active")
    assert figures["saved"]["reason"] and figures["curves"]["reason"]
    assert figures["forecast"]["source"] == "validation_slice"
    assert answer["stop_recommendation"]["threshold"] == 0.5


def test_an_annotator_may_not_read_it_and_another_project_is_not_found(
    project, other_project, alice, carol
):
    assert _get(alice, project).status_code == 403
    assert _get(carol, project).status_code == 404
