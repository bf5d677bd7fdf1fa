"""The pure modules of the Model & queue and Exports pages (burn-down geometry, wording of
runs and metrics, API errors sorted by form field), run in chromium as the pages load them."""

from __future__ import annotations

import pytest

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POINTS = """[
  {at: "2025-01-01T00:00:00Z", money_spent: "0", tasks_spent: 0},
  {at: "2025-01-02T00:00:00Z", money_spent: "2.5", tasks_spent: 5},
  {at: "2025-01-03T00:00:00Z", money_spent: "4", tasks_spent: 8},
]"""


@pytest.fixture
def modules(browser, live_server):
    page = browser.new_page()
    page.goto(f"{live_server.url}/static/css/app.css")

    def run(script: str):
        return page.evaluate(
            f"""async () => {{
                const b = await import("/static/activelearn/burndown_geometry.js");
                const f = await import("/static/activelearn/loop_format.js");
                const e = await import("/static/annotate/errors.js");
                const points = {POINTS};
                {script}
            }}"""
        )

    yield run
    page.close()


def test_the_burndown_spans_the_time_and_tops_out_above_the_budget(modules):
    layout = modules(
        """const l = b.burndownLayout({points, money_limit: "10.00", task_limit: null},
                                      {width: 500, height: 200, pad: 50});
           return {measure: l.measure, xs: l.coords.map(c => c.cx), ys: l.coords.map(c => c.cy),
                   limitY: l.limitY, left: l.left, fraction: l.fraction, over: l.overBudget};"""
    )
    assert layout["measure"] == "money"
    assert layout["xs"] == [50, 250, 450]  # one day each, across the plot's width
    assert layout["ys"][0] == 150  # nothing spent sits on the axis
    assert layout["limitY"] < layout["ys"][2] < layout["ys"][0]  # spend below the budget line
    assert layout["limitY"] > 50  # headroom above the budget line
    assert layout["left"] == 6 and layout["fraction"] == 0.4 and layout["over"] is False


def test_a_task_budget_alone_is_measured_in_tasks(modules):
    layout = modules(
        """const l = b.burndownLayout({points, money_limit: null, task_limit: 5});
           return {measure: l.measure, spent: l.spent, over: l.overBudget, left: l.left};"""
    )
    assert layout == {"measure": "tasks", "spent": 8, "over": True, "left": -3}


def test_spend_is_drawn_as_steps_that_run_on_to_now(modules):
    points = modules(
        """return b.stepPoints([{cx: 0, cy: 100}, {cx: 10, cy: 50}, {cx: 20, cy: 20}], 30);"""
    )
    assert points == "0.0,100.0 10.0,100.0 10.0,50.0 20.0,50.0 20.0,20.0 30.0,20.0"


def test_one_instant_of_spend_does_not_divide_by_zero(modules):
    xs = modules(
        """const one = [{at: "2025-01-01T00:00:00Z", money_spent: "1", tasks_spent: 1}];
           return b.burndownLayout({points: one, money_limit: null, task_limit: null})
                   .coords.map(c => Number.isFinite(c.cx) && Number.isFinite(c.cy));"""
    )
    assert xs == [True]


def test_a_forecast_is_laid_out_on_the_same_axes(modules):
    forecast = modules(
        """const l = b.burndownLayout({points, money_limit: "10", task_limit: null},
             {width: 500, height: 200, pad: 50,
              forecast: [{at: "2025-01-05T00:00:00Z", value: 8}]});
           return {x: l.forecastCoords[0].cx, last: l.coords[2].cx};"""
    )
    assert forecast["x"] == 450 and forecast["last"] < 450  # the time axis reaches its end


def test_a_superseded_run_is_called_superseded_not_failed(modules):
    words = modules(
        """return [f.stateLabel("superseded", {failed: "Failed"}),
                   f.progressText({state: "superseded", chunks_done: 1, chunks_total: 4}),
                   f.isLive({state: "superseded"})];"""
    )
    assert words == ["Superseded", "replaced by a newer run", False]


def test_run_progress_reads_as_chunks_done_of_total(modules):
    assert modules(
        "return f.progressText({state: 'running', chunks_done: 2, chunks_total: 5});"
    ) == ("2 of 5 chunks")
    assert modules(
        "return f.progressText({state: 'queued', chunks_done: 0, chunks_total: 0});"
    ) == ("waiting for a worker")


def test_metrics_lead_with_the_headline_and_leave_out_bookkeeping(modules):
    text = modules(
        """return f.metricsText({metric: "oks_ap", accuracy: 0.5, oks_ap: 0.41234,
             validation_examples: 12, validation_task_ids: [1, 2], evaluated_at: "x"});"""
    )
    assert text == "oks_ap 0.412 · accuracy 0.500 (12 validation examples)"


def test_api_errors_land_on_their_form_fields(modules):
    errors = modules(
        """return [
             e.errorsByField({"spec.output.layout": ["One of: probs."], file: ["Empty."]},
                             ["name", "file", "spec"]),
             e.errorsByField({detail: "The import request is invalid.", code: "invalid",
                              errors: {model_version: ["Needs a name."]}}, ["model_version"]),
             e.errorsByField({project: ["No version was active before this one."]}, []),
           ];"""
    )
    assert errors[0] == {"": [], "spec": ["output.layout: One of: probs."], "file": ["Empty."]}
    assert errors[1] == {"": [], "model_version": ["Needs a name."]}
    assert errors[2] == {"": ["No version was active before this one."]}


def test_a_tasks_reasons_are_its_texts_and_nothing_else(modules):
    texts = modules(
        """return [f.reasonTexts({reasons: [{text: "collision of #3 and #7 at frames 41–47"},
                                              {kind: "dip"}, null]}),
                   f.reasonTexts({}), f.breakdownEntries({track_risk: 0.5, reasons: []})];"""
    )
    assert texts == [["collision of #3 and #7 at frames 41–47"], [], [["track_risk", "0.500"]]]
