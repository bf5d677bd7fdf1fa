"""The project page plots the learning curve for a manager (one dot per measured version,
the active one marked) and shows nothing of it to an annotator."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from activelearn.models import ModelVersion

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _version(project, name, labels, accuracy, *, active=False) -> ModelVersion:
    return ModelVersion.objects.create(
        project=project,
        name=name,
        kind="baseline",
        task_type="classification",
        labels_at_training=labels,
        metrics={"metric": "accuracy", "accuracy": accuracy},
        is_active=active,
    )


def test_a_manager_sees_one_dot_per_measured_version(live_server, login, project, pat, shot):
    _version(project, "baseline-1-50", 50, 0.62)
    _version(project, "<b>baseline-2-100</b>", 100, 0.81, active=True)
    page = login(pat)
    page.goto(f"{live_server.url}/projects/{project.pk}/")

    plot = page.locator("#learning-curve")
    expect(plot).to_be_visible()
    expect(plot.locator("svg circle")).to_have_count(2)
    expect(plot.locator("svg circle title").nth(1)).to_have_text(
        "<b>baseline-2-100</b>: accuracy 0.810 after 100 labels (active)"
    )
    assert plot.locator("svg polyline").get_attribute("points").count(",") == 2
    assert not [m for m in page.console_messages if m.startswith("pageerror")]
    plot.scroll_into_view_if_needed()
    shot(page, "curve")


def test_an_annotator_does_not_see_the_plot(live_server, login, project, alice):
    _version(project, "baseline-1-50", 50, 0.62)
    page = login(alice)
    page.goto(f"{live_server.url}/projects/{project.pk}/")
    page.wait_for_load_state("networkidle")
    expect(page.locator("#learning-curve")).to_be_hidden()
