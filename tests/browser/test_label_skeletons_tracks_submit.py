"""The full flow through the queue: Start labeling, boxes and a skeleton with an occluded
point, a three-frame track with interpolation, submit and the next task; stored shapes are
checked through the API."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import api_json, click_image, drag, open_label_page, wait_ready
from tests.browser.media import image_task, video_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_annotator_labels_a_box_and_a_skeleton_with_an_occluded_point_and_submits(
    live_server, login, alice, project, shot
):
    image_task(project, width=640, height=480, priority=5)
    image_task(project, width=640, height=480, priority=1)
    page = login(alice)
    open_label_page(page, live_server.url, f"/projects/{project.pk}/label/")
    first = page.evaluate("() => window.labelApp.task.id")
    assert page.url.endswith(f"/tasks/{first}/label/")

    drag(page, (80, 60), (380, 420))  # a person box
    page.keyboard.press("k")
    expect(page.locator("#next-point")).to_have_text("left_shoulder")
    click_image(page, 300, 120)
    expect(page.locator("#next-point")).to_have_text("right_shoulder")
    click_image(page, 160, 125)
    click_image(page, 280, 300, modifiers=["Shift"])  # left_hip, occluded
    expect(page.locator("#next-point")).to_have_text("right_hip")
    click_image(page, 180, 305)
    expect(page.locator("#counts")).to_have_attribute("data-skeletons", "1")
    # Drag a point to correct it.
    page.keyboard.press("v")
    drag(page, (300, 120), (310, 110))
    visibility = page.locator("li[data-point=left_hip] select")
    expect(visibility).to_have_value("1")
    shot(page, "skeleton")
    # The next task was already taken from the queue while this one was labeled.
    page.wait_for_function("() => window.labelApp.prefetched !== null")
    prefetched = page.evaluate("() => window.labelApp.prefetched.task.id")
    page.get_by_role("button", name="Submit & next").click()
    wait_ready(page, loads=2)
    second = page.evaluate("() => window.labelApp.task.id")
    assert second == prefetched != first
    shot(page, "next-task")

    stored = api_json(page, f"{live_server.url}/api/tasks/{first}/annotation/")
    assert stored["kind"] == "submission"
    (box,) = stored["payload"]["boxes"]
    assert (round(box["x"]), round(box["y"]), round(box["w"]), round(box["h"])) == (
        80,
        60,
        300,
        360,
    )
    (skeleton,) = stored["payload"]["keypoints"]
    points = {name: [round(p[0]), round(p[1]), p[2]] for name, p in skeleton["points"].items()}
    assert points == {
        "left_shoulder": [310, 110, 2],
        "right_shoulder": [160, 125, 2],
        "left_hip": [280, 300, 1],
        "right_hip": [180, 305, 2],
    }
    payload = api_json(page, f"{live_server.url}/api/tasks/{first}/payload/")
    assert payload["task"]["state"] == "submitted"


def test_annotator_labels_a_three_frame_track_with_interpolation_and_submits(
    live_server, login, alice, project, shot
):
    task = video_task(project, frames=3, width=640, height=360)
    page = login(alice)
    open_label_page(page, live_server.url, f"/projects/{project.pk}/label/")
    drag(page, (100, 100), (200, 200))  # frame 1: a new track
    page.keyboard.press("c")  # copy to frame 2 and go there
    page.keyboard.press("c")  # and to frame 3
    expect(page.locator("#frame-label")).to_contain_text("Frame 3 / 3")
    page.keyboard.press("v")
    drag(page, (150, 150), (250, 170))  # move the frame-3 keyframe by (+100, +20)
    page.keyboard.press("a")
    expect(page.locator("#frame-label")).to_contain_text("Frame 2 / 3")
    page.keyboard.press("Delete")  # frame 2 is no longer a keyframe: it is interpolated
    item = page.evaluate(
        "() => { const [i] = window.labelApp.items(); return {interpolated: i.interpolated, "
        "x: i.value.x, y: i.value.y, track: i.track}; }"
    )
    assert item == {"interpolated": True, "x": 150, "y": 110, "track": 1}
    track_row = page.locator("#track-list li[data-track='1']")
    expect(track_row).to_contain_text("frames 1–3")
    shot(page, "interpolated")

    # Split at frame 2, merge back, and undo both: the track list follows.
    page.keyboard.press("x")
    expect(page.locator("#track-list li")).to_have_count(2)
    page.locator("#track-list input[value='1']").check()
    page.locator("#track-list input[value='2']").check()
    page.get_by_role("button", name="Merge checked").click()
    expect(page.locator("#track-list li")).to_have_count(1)
    page.keyboard.press("Control+z")
    page.keyboard.press("Control+z")
    expect(page.locator("#track-list li")).to_have_count(1)
    expect(track_row).to_contain_text("2 key")
    # The scrubber jumps back to the first frame; Space plays to the end.
    page.locator("#scrubber").fill("0")
    expect(page.locator("#frame-label")).to_contain_text("Frame 1 / 3")
    page.keyboard.press(" ")
    expect(page.locator("#frame-label")).to_contain_text("Frame 3 / 3")
    expect(page.locator("#play-button")).to_have_text("Play")

    page.get_by_role("button", name="Submit & next").click()
    expect(page.locator("#empty")).to_contain_text("No tasks left", timeout=15_000)
    stored = api_json(page, f"{live_server.url}/api/tasks/{task.pk}/annotation/")
    frames = {f.pk: f.index for f in task.asset.frames.all()}
    boxes = sorted(stored["payload"]["boxes"], key=lambda b: frames[b["frame"]])
    # The track's keyframes: the server computes the frame between (annotate.track_shapes).
    assert [(frames[b["frame"]], b["keyframe"], round(b["x"]), round(b["y"])) for b in boxes] == [
        (0, True, 100, 100),
        (2, True, 200, 120),
    ]
    assert {b["track"] for b in boxes} == {1}
    assert stored["payload"]["tracks"] == [{"number": 1, "label": "person"}]
