"""An annotator sets a box's attributes with keys: Shift+1 flips an immutable checkbox on the
whole track, Shift+2 cycles a mutable select from this frame on, Shift+3 types a number, q
sets the occluded flag; the `?` help lists those keys, and the save keeps every value."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotate.models import Annotation, LabelClass
from tests.browser.helpers import click_image, drag, go_to_frame, open_label_page, wait_saved
from tests.browser.media import video_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

SCHEMA = [
    {"name": "helmet", "input": "checkbox", "mutable": False},
    {"name": "pose", "input": "select", "values": ["walking", "standing"], "mutable": True},
    {"name": "age", "input": "number", "min": 0, "max": 120, "step": 1, "default": 30},
]


def test_annotator_edits_attributes_and_occluded_with_keys(
    live_server, login, alice, project, shot
):
    LabelClass.objects.filter(project=project, name="person").update(attributes=SCHEMA)
    task = video_task(project, frames=10, width=640, height=360, lease_user=alice)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    drag(page, (100, 100), (200, 200))
    page.keyboard.press("v")
    click_image(page, 150, 150)
    panel = page.locator("#attribute-list")
    expect(panel.locator("li")).to_have_count(4)  # occluded and the class's three
    expect(panel.locator('[data-attribute="pose"] kbd')).to_have_text("Shift+2")

    page.keyboard.press("Shift+Digit1")  # helmet on, on the whole track
    page.keyboard.press("Shift+Digit2")  # pose: walking -> standing from frame 1 on
    expect(panel.locator('[data-attribute="helmet"] input')).to_be_checked()
    expect(panel.locator('[data-attribute="pose"] select')).to_have_value("standing")
    page.keyboard.press("Shift+Digit3")  # the number field takes the keys
    page.keyboard.type("42")
    page.keyboard.press("Enter")
    expect(panel.locator('[data-attribute="age"] input')).to_have_value("42")

    go_to_frame(page, 5)
    click_image(page, 150, 150)
    # Held from frame 1: the values of its keyframe.
    expect(panel.locator('[data-attribute="pose"] select')).to_have_value("standing")
    page.keyboard.press("Shift+Digit2")  # back to walking, from frame 6 on
    page.keyboard.press("q")  # occluded on this frame
    expect(panel.locator('[data-attribute="occluded"] input')).to_be_checked()
    shot(page, "attributes")

    page.keyboard.press("?")
    expect(page.locator("#shortcut-table")).to_contain_text("Shift+1 … Shift+9")
    expect(page.locator("#shortcut-table")).to_contain_text("Occluded")
    page.keyboard.press("?")

    page.keyboard.press("Control+s")
    wait_saved(page)
    latest = Annotation.objects.filter(task=task).order_by("-version").first()
    boxes = {b.frame.index: b for b in latest.boxes.select_related("frame")}
    assert sorted(boxes) == [0, 5]
    assert boxes[0].attributes == {"helmet": True, "pose": "standing", "age": 42}
    assert boxes[5].attributes == {"helmet": True, "pose": "walking", "age": 42}
    assert (boxes[0].occluded, boxes[5].occluded) == (False, True)
