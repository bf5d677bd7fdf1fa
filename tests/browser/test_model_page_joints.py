"""The Model & queue page of a keypoint project shows each keypoint's OKS and PCK per model
version, whether it is mastered and its weight, and plots its error by version against the
mastery threshold; a project without keypoints has no such panel."""

from __future__ import annotations

import datetime as dt

import numpy as np
import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activelearn.models import ModelVersion
from activelearn.scoring.mastery import joint_mastery_refresh, joint_metrics_save
from tests.conftest import make_project

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

NAMES = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]


def _measured(project, name: str, age_days: int, oks, pck) -> ModelVersion:
    version = ModelVersion.objects.create(
        project=project, name=name, kind="pushed", task_type="keypoints"
    )
    ModelVersion.objects.filter(pk=version.pk).update(
        created_at=timezone.now() - dt.timedelta(days=age_days)
    )
    joint_metrics_save(
        version=version,
        names=NAMES,
        sigmas=[0.079, 0.079, 0.107, 0.107],
        oks=np.array(oks),
        pck=np.array(pck),
        points=np.array([12, 12, 12, 9]),
    )
    return version


def test_an_ml_engineer_reads_each_keypoints_figures_and_mastery(
    live_server, login, project, eve, shot
):
    _measured(project, "pose-v1", 2, [0.95, 0.97, 0.40, 0.55], [1.0, 1.0, 0.25, 0.5])
    _measured(project, "<b>pose-v2</b>", 1, [0.99, 0.90, 0.60, 0.70], [1.0, 0.92, 0.5, 0.67])
    joint_mastery_refresh(project=project)

    page = login(eve)
    page.goto(f"{live_server.url}/projects/{project.pk}/model/")

    panel = page.locator("#joints")
    expect(panel).to_be_visible()
    expect(panel.locator("#joints-rule")).to_have_text(
        "Mastered: error (1 − OKS) under 0.15 for the last 2 versions"
    )
    head = panel.locator("#joints-table thead th")
    expect(head).to_have_text(["Keypoint", "σ", "pose-v1", "<b>pose-v2</b>", "Mastered", "Weight"])
    rows = panel.locator("#joints-table tbody tr")
    expect(rows).to_have_count(4)
    shoulder = panel.locator("tr[data-keypoint=left_shoulder] td")
    expect(shoulder).to_have_text(
        ["left_shoulder", "0.079", "OKS 0.950 · PCK 1.00", "OKS 0.990 · PCK 1.00", "yes", "0%"]
    )
    # Error 0.10 then 0.03: both under 0.15; the right shoulder's 0.10 and 0.10 are too.
    expect(panel.locator("tr[data-keypoint=right_shoulder] td").nth(4)).to_have_text("yes")
    hip = panel.locator("tr[data-keypoint=left_hip] td")
    expect(hip.nth(4)).to_have_text("no")
    # The hips weigh their errors, 0.40 and 0.30, as shares of the keypoint score.
    expect(hip.nth(5)).to_have_text("57%")
    expect(panel.locator("tr[data-keypoint=right_hip] td").nth(5)).to_have_text("43%")

    plot = panel.locator(".joints-plot svg")
    expect(plot.locator("g.joint-line")).to_have_count(4)
    expect(plot.locator("g.joint-line circle")).to_have_count(8)
    expect(plot.locator(".joints-threshold")).to_have_count(1)
    expect(plot.locator("g[data-keypoint=left_hip] circle title").nth(1)).to_have_text(
        "left_hip, <b>pose-v2</b>: error 0.400"
    )
    expect(panel.locator(".joints-legend span")).to_have_count(4)
    expect(panel.locator(".joints-legend")).to_contain_text("left_shoulder (mastered)")
    assert not [m for m in page.console_messages if m.startswith("pageerror")]
    panel.scroll_into_view_if_needed()
    shot(page, "joints")


def test_a_keypoint_project_never_measured_says_so(live_server, login, project, eve):
    page = login(eve)
    page.goto(f"{live_server.url}/projects/{project.pk}/model/")
    expect(page.locator("#joints .joints-empty")).to_be_visible()
    expect(page.locator("#joints-table")).to_be_hidden()


def test_a_project_without_keypoints_has_no_keypoint_panel(live_server, login, eve):
    from annotate.models import Membership

    boxes_only = make_project("Boxes", keypoints=False)
    Membership.objects.create(project=boxes_only, user=eve, role=Membership.Role.ML_ENGINEER)
    page = login(eve)
    page.goto(f"{live_server.url}/projects/{boxes_only.pk}/model/")
    page.wait_for_selector("html[data-page-ready='1']")
    assert page.locator("#joints").count() == 0
