"""Partial labeling of skeletons: a task opens with the model's sure joints pre-filled and
drawn dimmed (sure: at or above the project's threshold, or a joint the model mastered), the
next-point prompt walks only the uncertain joints, Shift+Enter (listed in the `?` help)
confirms all that is shown, and the submission records who set each point."""

from __future__ import annotations

from decimal import Decimal

import pytest
from playwright.sync_api import expect

from activelearn.models import LearningSettings, ModelVersion, Prediction
from annotate.models import AnnotationTask, Budget
from annotate.services.projects import project_mastered_keypoints_set
from tests.browser.helpers import api_json, click_image, open_label_page, screen

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

POINTS = {
    "left_shoulder": [180, 100],
    "right_shoulder": [100, 100],
    "left_hip": [170, 250],
    "right_hip": [110, 250],
}


def _predict(project, task) -> None:
    version = ModelVersion.objects.create(
        project=project, name="pose-v3", kind="pushed", task_type="keypoints", is_active=True
    )
    Prediction.objects.create(
        task=task,
        model_version=version,
        data={
            "keypoints": [
                {
                    "label": "person",
                    "points": {name: [x, y, 2] for name, (x, y) in POINTS.items()},
                    "score": 0.7,
                    "confidences": {
                        "left_shoulder": 0.96,
                        "right_shoulder": 0.93,
                        "left_hip": 0.4,  # below the threshold, but a mastered joint
                        "right_hip": 0.5,
                    },
                }
            ]
        },
    )
    LearningSettings.objects.create(project=project, auto_accept_thresholds={"*": 0.9})
    project_mastered_keypoints_set(project=project, names=["left_hip"])


def _alpha_at(page, ix: float, iy: float) -> int:
    """The shape layer's opacity on the rim of the point drawn at an image point (0
    transparent .. 255 opaque): 5 px above its centre, clear of the selection handle and of
    the skeleton's edges, which leave the shoulder sideways and downwards."""
    x, y = screen(page, ix, iy)
    y -= 5
    return page.evaluate(
        """([x, y]) => {
            const canvas = document.getElementById("shape-layer");
            const r = canvas.getBoundingClientRect();
            const k = canvas.width / r.width;
            const ctx = canvas.getContext("2d");
            return ctx.getImageData(Math.round((x - r.left) * k), Math.round((y - r.top) * k),
                                    1, 1).data[3];
        }""",
        [x, y],
    )


def test_sure_joints_are_prefilled_dimmed_and_the_prompt_asks_only_for_the_rest(
    live_server, login, alice, project, shot
):
    from tests.browser.media import image_task

    Budget.objects.filter(project=project).update(
        cost_per_point=Decimal("0.01"), money_limit=Decimal("100")
    )
    task = image_task(project, width=640, height=480)
    _predict(project, task)
    page = login(alice)
    open_label_page(page, live_server.url, f"/projects/{project.pk}/label/")
    page.wait_for_function(f"() => document.documentElement.dataset.suggestions === '{task.pk}'")

    # Three joints are pre-filled (two confident, one mastered); the prompt asks for the hip.
    expect(page.locator("#counts")).to_have_attribute("data-skeletons", "1")
    expect(page.locator("#next-point")).to_have_text("right_hip")
    rows = page.locator("#keypoint-list li")
    expect(rows.locator("xpath=self::*[contains(@class, 'prefilled')]")).to_have_count(3)
    for name in ("left_shoulder", "right_shoulder", "left_hip"):
        row = page.locator(f'#keypoint-list li[data-point="{name}"]')
        expect(row).to_have_class("prefilled")
        expect(row).to_have_attribute("data-source", "model")
    expect(page.locator('#keypoint-list li[data-point="left_shoulder"]')).to_contain_text(
        "model 96%"
    )
    # Drawn dimmed on the canvas.
    dimmed = _alpha_at(page, *POINTS["left_shoulder"])
    assert 0 < dimmed < 200, dimmed
    shot(page, "prefilled")

    # Placing the uncertain joint ends the prompt: nothing else is asked.
    click_image(page, 112, 254)
    expect(page.locator('#keypoint-list li[data-point="right_hip"]')).to_have_attribute(
        "data-source", "human"
    )
    expect(page.locator("#next-point")).not_to_have_text("left_hip")

    # The confirm key is in the `?` help; it confirms all that is shown.
    page.locator("#stage").focus()
    page.keyboard.press("?")
    overlay = page.locator("#shortcuts")
    expect(overlay).to_be_visible()
    expect(overlay).to_contain_text("Confirm all that is shown")
    expect(overlay.locator("kbd", has_text="Shift+Enter")).to_have_count(1)
    page.keyboard.press("?")
    expect(overlay).to_be_hidden()
    page.keyboard.press("Shift+Enter")
    expect(page.locator("#keypoint-list li.prefilled")).to_have_count(0)
    page.wait_for_function("() => window.labelApp.doc.shapes[0].confirmed.length === 3")
    assert _alpha_at(page, *POINTS["left_shoulder"]) > dimmed
    shot(page, "confirmed")

    page.get_by_role("button", name="Submit & next").click()
    expect(page.locator("#empty")).to_be_visible()
    stored = api_json(page, f"{live_server.url}/api/tasks/{task.pk}/annotation/")
    (skeleton,) = stored["payload"]["keypoints"]
    assert skeleton["point_sources"] == {
        "left_shoulder": "model",
        "right_shoulder": "model",
        "left_hip": "model",
        "right_hip": "human",
    }
    assert skeleton["point_confidence"] == {
        "left_shoulder": 0.96,
        "right_shoulder": 0.93,
        "left_hip": 0.4,
    }
    # One point placed by hand is charged; the three pre-filled ones are the saving.
    task.refresh_from_db()
    assert (task.points_by_hand, task.points_prefilled) == (1, 3)
    assert task.state == AnnotationTask.State.SUBMITTED


def test_moving_a_prefilled_joint_makes_it_the_annotators(live_server, login, alice, project):
    from tests.browser.helpers import drag
    from tests.browser.media import image_task

    task = image_task(project, width=640, height=480, lease_user=alice)
    _predict(project, task)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    page.wait_for_function(f"() => document.documentElement.dataset.suggestions === '{task.pk}'")
    page.keyboard.press("Escape")  # leave the prompt: the select tool moves points
    drag(page, tuple(POINTS["right_shoulder"]), (95, 110))
    row = page.locator('#keypoint-list li[data-point="right_shoulder"]')
    expect(row).to_have_attribute("data-source", "human")
    expect(row).not_to_have_class("prefilled")
    expect(page.locator('#keypoint-list li[data-point="left_shoulder"]')).to_have_class("prefilled")
