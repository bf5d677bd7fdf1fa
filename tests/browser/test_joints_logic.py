"""The joint-mastery panel's pure module (error-by-version geometry and the words of its
cells), run in chromium as the Model & queue page loads it."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REPORT = """{
  threshold: 0.15, versions_required: 2,
  versions: [{id: 1, name: "v1"}, {id: 2, name: "v2"}, {id: 3, name: "v3"}],
  joints: [
    {keypoint: "nose", mastered: true, by_version: [
      {version: 1, oks: 0.9, pck: 1, error: 0.1}, {version: 2, oks: 0.95, pck: 1, error: 0.05},
      {version: 3, oks: 1, pck: 1, error: 0}]},
    {keypoint: "tail", mastered: false, by_version: [
      {version: 1, oks: null, pck: null, error: null},
      {version: 2, oks: 0.5, pck: 0.25, error: 0.5},
      {version: 3, oks: 0, pck: 0, error: 1}]},
  ],
}"""


@pytest.fixture
def joints(browser, live_server):
    page = browser.new_page()
    page.goto(f"{live_server.url}/static/css/app.css")

    def run(script: str):
        return page.evaluate(
            f"""async () => {{
                const j = await import("/static/activelearn/joints_geometry.js");
                const report = {REPORT};
                {script}
            }}"""
        )

    yield run
    page.close()


def test_versions_spread_across_the_plot_and_error_rises_upwards(joints):
    layout = joints(
        """const l = j.jointsLayout(report, {width: 500, height: 200, pad: 50});
           return {ticks: l.ticks.map(t => t.cx), nose: l.lines[0].coords.map(c => [c.cx, c.cy]),
                   tail: l.lines[1].coords.map(c => [c.cx, c.cy]), threshold: l.thresholdY};"""
    )
    assert layout["ticks"] == [50, 250, 450]
    assert layout["nose"] == [[50, 140], [250, 145], [450, 150]]  # error 0 on the axis
    assert layout["tail"] == [[250, 100], [450, 50]]  # not measured in v1: no point there
    assert layout["threshold"] == 135


def test_cells_and_rule_read_in_words(joints):
    words = joints(
        """return [j.figureText(report.joints[0].by_version[1]),
                   j.figureText(report.joints[1].by_version[0]), j.ruleText(report),
                   j.ruleText({...report, versions_required: 1})];"""
    )
    assert words == [
        "OKS 0.950 · PCK 1.00",
        "–",
        "Mastered: error (1 − OKS) under 0.15 for the last 2 versions",
        "Mastered: error (1 − OKS) under 0.15 for the last version",
    ]
