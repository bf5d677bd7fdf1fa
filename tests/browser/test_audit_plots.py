"""The Model & queue page shows what the random audit says: the active model's accuracy on
the audit sample with its interval, the learning curves of actively chosen against audit
labels (one dot and one interval bar per measured point, the random curve's fit dashed),
the labels saved, the forecast and the stop recommendation; the budget burn-down carries the
forecast, marked where to stop and where the budget ends. The panel's pure module is run in
chromium as the page loads it."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import pytest
from django.utils import timezone
from playwright.sync_api import expect
from rest_framework.test import APIClient

from activelearn.models import AuditReport, StopRecommendation
from annotate.models import AnnotationTask, Budget
from tests.annotate.api_helpers import make_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _point(labels: int, value: float, error: float = 0.03) -> dict:
    return {
        "labels": labels,
        "value": value,
        "error": error,
        "low": max(0.0, value - 1.96 * error),
        "high": min(1.0, value + 1.96 * error),
    }


def _figures(now: dt.datetime) -> dict:
    path = []
    for i, labels in enumerate((100, 150, 200, 300)):
        value = 0.82 + 0.01 * i
        path.append(
            {
                "labels": labels,
                "value": value,
                "low": value - 0.03,
                "high": value + 0.03,
                "tasks_spent": 2 + labels - 100,
                "money_spent": 2.0 + (labels - 100) * 0.04,
                "at": (now + dt.timedelta(days=(labels - 100) / 20)).isoformat(),
            }
        )
    triple = {"value": 0.004, "low": 0.001, "high": 0.008}
    return {
        "share": 0.1,
        "stop_gain_per_1000": 0.01,
        "labels": 100,
        "active_labels": 90,
        "audit_labels": 10,
        "audit": {
            "labeled": 10,
            "waiting": 4,
            "skipped": 1,
            "batches": 3,
            "first_drawn_at": now.isoformat(),
            "last_drawn_at": now.isoformat(),
        },
        "model": {
            "version": 1,
            "name": "<b>baseline-90</b>",
            "kind": "baseline",
            "metric": "accuracy",
            "value": 0.8,
            "low": 0.49,
            "high": 0.94,
            "examples": 10,
            "interval": "Wilson 95%",
            "validation_slice": {"metric": "accuracy", "value": 0.61, "examples": 18},
            "left_out_labeled_before_the_version": 0,
            "latest_batch": {
                "value": 1.0,
                "low": 0.61,
                "high": 1.0,
                "examples": 4,
                "drawn_at": now.isoformat(),
            },
        },
        "curves": {
            "learner": "the built-in baseline's learner (16x16 pixels, logistic regression)",
            "active_labels": 90,
            "audit_labels": 10,
            "tested": 10,
            "active": [_point(5, 0.5), _point(20, 0.7), _point(45, 0.78), _point(90, 0.82)],
            "random": [_point(2, 0.4), _point(4, 0.5), _point(7, 0.58)],
            "reason": "",
        },
        "saved": {
            "labels_used": 90,
            "active_value": 0.82,
            "target_labels": 7,
            "target_value": 0.58,
            "active_needed": 4.2,
            "measured_share": {"value": 0.4, "low": 0.1, "high": 0.6},
            "extrapolation_limit": 28,
            "reason": "",
            "random_needed": 24.0,
            "saved": -66.0,
            "saved_low": -80.0,
            "saved_high": None,
            "share_saved": -2.75,
            "cap": 400,
            "capped": False,
            "beyond_measured": True,
            "equal_labels": 5,
            "equal_gain": {"value": 0.05, "low": -0.1, "high": 0.2},
            "random_fit": {"a": 0.9, "b": 0.32, "c": 0.5, "scale": 7.0, "points": 3},
            "replicates": 500,
        },
        "forecast": {
            "source": "audit",
            "metric": "accuracy",
            "labels_now": 100,
            "labels_end": 300,
            "now": {"value": 0.82, "low": 0.79, "high": 0.85},
            "end": {"value": 0.85, "low": 0.82, "high": 0.88},
            "gain_next": triple,
            "per": 1000,
            "threshold": 0.01,
            "stop_at": 200,
            "stop_now": True,
            "stop_recommended": True,
            "fit": {"a": 0.9, "b": 0.1, "c": 0.5, "scale": 100.0, "points": 4},
            "budget": {
                "labels_left": 200,
                "limited_by": "money",
                "tasks_spent": 2,
                "money_spent": 2.0,
                "money_per_label": 0.04,
                "labels_per_day": 20.0,
                "currency": "USD",
            },
            "path": path,
        },
        "measured_at": now.isoformat(),
    }


@pytest.fixture
def measured(project, pat):
    now = timezone.now()
    Budget.objects.filter(project=project).update(
        money_limit=Decimal("10.00"), cost_per_image=Decimal("1.00")
    )
    for _ in range(2):
        done = make_task(project, state="submitted")
        AnnotationTask.objects.filter(pk=done.pk).update(submitted_at=now)
    report = AuditReport.objects.create(
        project=project, state="done", finished_at=now, labels=100, figures=_figures(now)
    )
    StopRecommendation.objects.create(
        project=project,
        report=report,
        labels=100,
        metric="accuracy",
        gain_per_1000=0.004,
        gain_per_1000_high=0.008,
        threshold=0.01,
    )
    # The same figures through the API: the schema check proves they are a real answer.
    client = APIClient()
    client.force_authenticate(pat)
    assert client.get(f"/api/projects/{project.pk}/audit/").status_code == 200
    return report


def test_a_manager_sees_the_audit_curves_the_saving_and_the_forecast_on_the_burndown(
    live_server, login, project, pat, measured, shot
):
    page = login(pat)
    page.goto(f"{live_server.url}/projects/{project.pk}/model/")
    audit = page.locator("#audit")
    expect(audit.locator(".audit-figures")).to_be_visible()
    expect(audit.locator(".audit-empty")).to_be_hidden()
    expect(audit.locator(".audit-model")).to_have_text(
        "<b>baseline-90</b>: accuracy 80.0% (95% interval 49.0% to 94.0%) on 10 audit labels, "
        "uniform samples of the pool as each batch found it. Today's pool, from the latest "
        "batch's 4 audit labels alone: 100.0% (95% interval 61.0% to 100.0%). On the "
        "validation slice, which the ranking chose, it measures 61.0%."
    )
    expect(audit.locator(".audit-share")).to_contain_text("10 audit labels of 100")
    plot = audit.locator(".audit-plot svg")
    expect(plot.locator(".active-point")).to_have_count(4)
    expect(plot.locator(".random-point")).to_have_count(3)
    expect(plot.locator(".active-interval")).to_have_count(4)
    expect(plot.locator(".random-fit")).to_have_count(1)
    expect(plot.locator(".active-point title").last).to_have_text(
        "actively chosen labels, 90 labels: 82.0% (95% interval 76.1 to 87.9)"
    )
    expect(audit.locator(".audit-saved")).to_contain_text(
        "Measured: to reach 58.0%, the accuracy of 7 random audit labels, the actively chosen "
        "ones needed 4: 40.0% fewer (95% interval 10.0% to 60.0%)."
    )
    expect(audit.locator(".audit-saved")).to_contain_text(
        "Labels cost so far against random sampling: 66 (95% interval -80 to unbounded)"
    )
    expect(audit.locator(".audit-saved")).to_contain_text("beyond the measured points")
    expect(audit.locator(".audit-forecast")).to_contain_text("Stopping is recommended")
    expect(audit.locator(".audit-stop")).to_be_visible()

    burndown = page.locator("#burndown")
    expect(burndown.locator("svg .spent-line")).to_have_count(1)
    expect(burndown.locator("svg .forecast-line")).to_have_count(1)
    expect(burndown.locator("svg .forecast-mark")).to_have_count(2)
    expect(burndown.locator("svg .forecast-note").first).to_have_text(
        "stop recommended here: accuracy 84.0%"
    )
    expect(burndown.locator("svg .forecast-note").last).to_have_text(
        "budget spent: accuracy 85.0% (82.0% to 88.0%)"
    )
    expect(plot.locator(".random-needed")).to_have_count(1)
    assert not [m for m in page.console_messages if m.startswith("pageerror")]
    burndown.scroll_into_view_if_needed()
    shot(page, "burndown")
    audit.scroll_into_view_if_needed()
    shot(page, "audit")


def test_before_any_measurement_the_panel_says_when_one_comes(live_server, login, project, eve):
    page = login(eve)
    page.goto(f"{live_server.url}/projects/{project.pk}/model/")
    expect(page.locator("#audit .audit-empty")).to_be_visible()
    expect(page.locator("#audit .audit-figures")).to_be_hidden()
    page.wait_for_function("document.documentElement.dataset.pageReady === '1'")
    expect(page.locator("#burndown svg .forecast-line")).to_have_count(0)


def test_the_forecast_reaches_the_burndown_in_its_measure_and_only_with_times(browser, live_server):
    page = browser.new_page()
    page.goto(f"{live_server.url}/static/css/app.css")
    result = page.evaluate(
        """async () => {
            const a = await import("/static/activelearn/audit_geometry.js");
            const forecast = {metric: "accuracy", stop_at: 20, path: [
              {labels: 10, value: 0.5, low: 0.4, high: 0.6, tasks_spent: 3, money_spent: 1.5,
               at: "2026-01-01T00:00:00Z"},
              {labels: 20, value: 0.6, low: 0.5, high: 0.7, tasks_spent: 13, money_spent: 6.5,
               at: "2026-01-02T00:00:00Z"},
              {labels: 30, value: 0.62, low: 0.5, high: 0.7, tasks_spent: 23, money_spent: 11.5,
               at: null}]};
            return {
              tasks: a.forecastForBurndown(forecast, "tasks").map(p => [p.value, p.note]),
              money: a.forecastForBurndown(forecast, "money").map(p => p.value),
              none: a.forecastForBurndown({reason: "no curve"}, "tasks"),
              fit: a.powerLaw({a: 0.9, b: 0.4, c: 0.5, scale: 4}, 16),
            };
        }"""
    )
    page.close()
    assert result["tasks"] == [[3, None], [13, "stop recommended here: accuracy 60.0%"]]
    assert result["money"] == [1.5, 6.5]
    assert result["none"] == []
    assert result["fit"] == pytest.approx(0.7)
