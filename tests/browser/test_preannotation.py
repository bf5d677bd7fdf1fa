"""Pre-annotation on the labeling page: with an active model's prediction for the task, the
confident box and skeleton points are already there, uncertain points are left for the
annotator with the next-point prompt walking them, uncertain boxes wait as suggestions to
accept or delete, and what is submitted keeps source "model" and the confidence."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from activelearn.models import LearningSettings, ModelVersion, Prediction
from tests.browser.helpers import api_json, click_image, open_label_page, wait_ready, wait_saved
from tests.browser.media import image_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def _predict(project, task) -> None:
    version = ModelVersion.objects.create(
        project=project, name="pose-v2", kind="pushed", task_type="keypoints", is_active=True
    )
    Prediction.objects.create(
        task=task,
        model_version=version,
        data={
            "boxes": [
                {"label": "person", "x": 40, "y": 40, "w": 200, "h": 300, "score": 0.97},
                {"label": "bicycle", "x": 300, "y": 200, "w": 150, "h": 100, "score": 0.55},
                {"label": "person", "x": 500, "y": 40, "w": 60, "h": 80, "score": 0.3},
            ],
            "keypoints": [
                {
                    "label": "person",
                    "points": {
                        "left_shoulder": [180, 100, 2],
                        "right_shoulder": [100, 100, 2],
                        "left_hip": [170, 250, 2],
                        "right_hip": [110, 250, 2],
                    },
                    "score": 0.8,
                    "confidences": {
                        "left_shoulder": 0.96,
                        "right_shoulder": 0.94,
                        "left_hip": 0.4,
                        "right_hip": 0.5,
                    },
                }
            ],
        },
    )
    LearningSettings.objects.create(project=project, auto_accept_thresholds={"*": 0.9})


def test_confident_predictions_are_shapes_and_uncertain_ones_wait_for_the_annotator(
    live_server, login, alice, project, shot
):
    task = image_task(project, width=640, height=480)
    _predict(project, task)
    page = login(alice)
    open_label_page(page, live_server.url, f"/projects/{project.pk}/label/")
    page.wait_for_function(f"() => document.documentElement.dataset.suggestions === '{task.pk}'")

    # The confident person box and skeleton are shapes already; two boxes are suggestions.
    expect(page.locator("#counts")).to_have_attribute("data-boxes", "1")
    expect(page.locator("#counts")).to_have_attribute("data-skeletons", "1")
    suggestions = page.locator("#suggestion-list li")
    expect(suggestions).to_have_count(2)
    expect(suggestions.first).to_contain_text("bicycle box · 55%")
    # The uncertain hips are left for the annotator: the prompt walks them.
    expect(page.locator("#next-point")).to_have_text("left_hip")
    shot(page, "opened")
    click_image(page, 172, 255)
    expect(page.locator("#next-point")).to_have_text("right_hip")
    click_image(page, 108, 252)

    # Delete the unlikely person, accept the bicycle with Enter.
    suggestions.filter(has_text="person box").locator(".name").click()
    page.keyboard.press("Delete")
    expect(suggestions).to_have_count(1)
    page.keyboard.press("Enter")
    expect(page.locator("#suggestions-panel")).to_be_hidden()
    expect(page.locator("#counts")).to_have_attribute("data-boxes", "2")
    shot(page, "accepted")

    page.get_by_role("button", name="Submit & next").click()
    expect(page.locator("#empty")).to_be_visible()
    stored = api_json(page, f"{live_server.url}/api/tasks/{task.pk}/annotation/")
    assert stored["kind"] == "submission"
    boxes = sorted(
        (b["label"], b["source"], b["confidence"], round(b["x"]), round(b["w"]))
        for b in stored["payload"]["boxes"]
    )
    assert boxes == [("bicycle", "model", 0.55, 300, 150), ("person", "model", 0.97, 40, 200)]
    (skeleton,) = stored["payload"]["keypoints"]
    assert (skeleton["source"], skeleton["confidence"]) == ("model", 0.8)
    points = {name: [round(p[0]), round(p[1]), p[2]] for name, p in skeleton["points"].items()}
    assert points == {
        "left_shoulder": [180, 100, 2],
        "right_shoulder": [100, 100, 2],
        "left_hip": [172, 255, 2],
        "right_hip": [108, 252, 2],
    }


def test_a_task_with_no_active_model_opens_without_suggestions(live_server, login, alice, project):
    task = image_task(project, width=640, height=480)
    page = login(alice)
    open_label_page(page, live_server.url, f"/projects/{project.pk}/label/")
    page.wait_for_function(f"() => document.documentElement.dataset.suggestions === '{task.pk}'")
    expect(page.locator("#suggestions-panel")).to_be_hidden()
    expect(page.locator("#counts")).to_have_attribute("data-boxes", "0")


@pytest.fixture
def suggestions_module(browser, live_server):
    page = browser.new_page()
    page.goto(f"{live_server.url}/static/annotate/label.css")

    def run(script: str):
        return page.evaluate(
            f"""async () => {{
                const s = await import("/static/annotate/suggestions.js");
                const m = await import("/static/annotate/model.js");
                {script}
            }}"""
        )

    yield run
    page.close()


ANSWER = """{
    model_version: "v1",
    accepted: [{type: "kp", frame: 12, label: "person", confidence: 0.8,
                points: {a: [1, 2, 2], b: [0, 0, 0], c: [0, 0, 0]},
                uncertain: ["c", "b"], uncertain_points: {b: [5, 6, 2], c: [7, 8, 2]}}],
    suggestions: [{type: "box", frame: 11, label: "car", confidence: 0.4,
                   x: 1, y: 2, w: 3, h: 4},
                  {type: "box", frame: 99, label: "car", confidence: 0.4,
                   x: 1, y: 2, w: 3, h: 4}],
}"""


def test_suggestions_land_on_their_frames_and_accepting_one_makes_a_model_shape(
    suggestions_module,
):
    doc, accepted = suggestions_module(
        f"""const doc = m.emptyDoc();
            s.applySuggestions(doc, {ANSWER}, [{{id: 11}}, {{id: 12}}]);
            const shape = s.acceptSuggestion(doc, doc.suggestions[0].id);
            return [doc, shape];"""
    )
    # The suggestion on a frame outside the task is dropped; the accepted one is a shape.
    assert doc["suggestions"] == []
    assert {k: accepted[k] for k in ("type", "frame", "label", "source", "confidence")} == {
        "type": "box",
        "frame": 0,
        "label": "car",
        "source": "model",
        "confidence": 0.4,
    }
    skeleton = doc["shapes"][0]
    assert (skeleton["frame"], skeleton["source"], skeleton["uncertain"]) == (
        1,
        "model",
        ["c", "b"],
    )


def test_the_next_point_prompt_walks_the_uncertain_points_in_skeleton_order(suggestions_module):
    walk = suggestions_module(
        f"""const doc = m.emptyDoc();
            s.applySuggestions(doc, {ANSWER}, [{{id: 12}}]);
            const first = s.nextUncertain(doc, ["a", "b", "c"], 0);
            doc.shapes[0].points.b = [5, 6, 2];
            const second = s.nextUncertain(doc, ["a", "b", "c"], 0);
            doc.shapes[0].points.c = [7, 8, 1];
            return [first, second, s.nextUncertain(doc, ["a", "b", "c"], 0)];"""
    )
    # The server lists "c" before "b"; the walk follows the skeleton's order, then stops.
    assert [step and step["index"] for step in walk] == [1, 2, None]


def test_pending_suggestions_survive_a_reload_and_undo_brings_an_accepted_one_back(
    live_server, login, alice, project
):
    task = image_task(project, width=640, height=480, lease_user=alice)
    _predict(project, task)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    page.wait_for_function(f"() => document.documentElement.dataset.suggestions === '{task.pk}'")
    wait_saved(page)  # the auto-accepted shapes are saved as the first version
    page.reload()
    wait_ready(page)
    page.wait_for_function(f"() => document.documentElement.dataset.suggestions === '{task.pk}'")
    suggestions = page.locator("#suggestion-list li")
    expect(suggestions).to_have_count(2)
    expect(page.locator("#counts")).to_have_attribute("data-boxes", "1")
    suggestions.first.get_by_role("button", name="Accept").click()
    expect(suggestions).to_have_count(1)
    expect(page.locator("#counts")).to_have_attribute("data-boxes", "2")
    page.keyboard.press("Control+z")
    expect(suggestions).to_have_count(2)
    expect(page.locator("#counts")).to_have_attribute("data-boxes", "1")
