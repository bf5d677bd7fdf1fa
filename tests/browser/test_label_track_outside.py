"""A track lasts after its last keyframe until it is marked outside (o), and o on a later
frame brings it back; the saved version holds the outside keyframe; undo takes it back."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    api_json,
    click_image,
    drag,
    go_to_frame,
    keyframes,
    open_label_page,
    track_here,
    wait_saved,
)
from tests.browser.media import video_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def video(project, alice):
    return video_task(project, frames=10, width=640, height=360, lease_user=alice)


def test_a_box_drawn_on_the_first_frame_is_still_there_on_the_ninth(
    live_server, login, alice, video, shot
):
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{video.pk}/label/")
    drag(page, (100, 100), (200, 220))
    go_to_frame(page, 8)
    assert track_here(page, 1) == {"x": 100, "y": 100, "w": 100, "h": 120, "keyframe": False,
                                   "held": True}  # fmt: skip
    expect(page.locator("#track-list li[data-track='1']")).to_contain_text("frames 1–10")
    shot(page, "held")


def test_o_marks_the_track_outside_from_this_frame_and_o_later_brings_it_back(
    live_server, login, alice, video, shot
):
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{video.pk}/label/")
    drag(page, (100, 100), (200, 220))
    go_to_frame(page, 4)
    page.keyboard.press("o")
    assert track_here(page, 1) is None
    expect(page.locator("[data-banner=outside]")).to_contain_text("outside from frame 5")
    expect(page.locator("#track-status")).to_contain_text("not on this frame")
    expect(page.locator("#track-list li[data-track='1']")).to_contain_text("frames 1–4")
    go_to_frame(page, 6)
    assert track_here(page, 1) is None
    page.keyboard.press("o")
    assert track_here(page, 1)["keyframe"] is True
    assert keyframes(page, 1) == [[0, False], [4, True], [6, False]]
    expect(page.locator("#track-list li[data-track='1']")).to_contain_text("frames 1–4, 7–10")
    shot(page, "back")

    # Each o is one undo step.
    page.keyboard.press("Control+z")
    assert keyframes(page, 1) == [[0, False], [4, True]]
    page.keyboard.press("Control+z")
    assert keyframes(page, 1) == [[0, False]]
    page.keyboard.press("Control+y")
    assert keyframes(page, 1) == [[0, False], [4, True]]


def test_the_saved_version_holds_the_outside_keyframe_and_reopens_with_it(
    live_server, login, alice, video
):
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{video.pk}/label/")
    drag(page, (100, 100), (200, 220))
    go_to_frame(page, 3)
    page.keyboard.press("o")
    page.keyboard.press("Control+s")
    wait_saved(page)
    stored = api_json(page, f"{live_server.url}/api/tasks/{video.pk}/annotation/")
    frames = {f.pk: f.index for f in video.asset.frames.all()}
    assert [
        (frames[b["frame"]], b["keyframe"], b["outside"]) for b in stored["payload"]["boxes"]
    ] == [
        (0, True, False),
        (3, True, True),
    ]
    page.reload()
    open_label_page(page, live_server.url, f"/tasks/{video.pk}/label/")
    assert keyframes(page, 1) == [[0, False], [3, True]]
    go_to_frame(page, 5)
    assert track_here(page, 1) is None


def test_o_with_a_skeleton_point_selected_still_cycles_its_visibility(
    live_server, login, alice, video
):
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{video.pk}/label/")
    page.keyboard.press("k")
    for x, y in ((300, 120), (160, 125), (280, 300), (180, 305)):
        click_image(page, x, y)
    expect(page.locator("#counts")).to_have_attribute("data-skeletons", "1")
    page.keyboard.press("o")  # the last point placed is selected: visible -> occluded
    expect(page.locator("li[data-point=right_hip] select")).to_have_value("1")
    assert track_here(page, 1, "kp") is not None
    page.keyboard.press("Shift+O")  # the whole skeleton track goes
    assert track_here(page, 1, "kp") is None
