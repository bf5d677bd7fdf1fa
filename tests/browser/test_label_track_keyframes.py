"""Editing a track on any frame makes a keyframe there (moving or resizing an interpolated or
held box), a click alone does not; dragging where the selected track is not draws its box
there instead of panning; , and . walk the selected track's keyframes."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import (
    click_image,
    drag,
    go_to_frame,
    keyframes,
    open_label_page,
    track_here,
)
from tests.browser.media import video_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def page_with_track(live_server, login, alice, project):
    """A 10-frame video with track 1 drawn on frame 1, and the select tool."""
    task = video_task(project, frames=10, width=640, height=360, lease_user=alice)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    drag(page, (100, 100), (200, 200))
    page.keyboard.press("v")
    return page


def test_moving_a_held_box_makes_a_keyframe_on_that_frame(page_with_track, shot):
    page = page_with_track
    go_to_frame(page, 6)
    drag(page, (150, 150), (250, 170))
    assert keyframes(page, 1) == [[0, False], [6, False]]
    assert track_here(page, 1) == {"x": 200, "y": 120, "w": 100, "h": 100, "keyframe": True,
                                   "held": False}  # fmt: skip
    go_to_frame(page, 3)  # between the two keyframes: interpolated
    assert track_here(page, 1)["x"] == 150
    shot(page, "interpolated")


def test_resizing_an_interpolated_box_makes_a_keyframe_and_undo_takes_it_back(
    page_with_track,
):
    page = page_with_track
    go_to_frame(page, 6)
    drag(page, (150, 150), (250, 150))
    go_to_frame(page, 3)
    click_image(page, 200, 150)  # select it on this frame
    drag(page, (250, 200), (280, 230))  # its south-east handle
    assert keyframes(page, 1) == [[0, False], [3, False], [6, False]]
    assert track_here(page, 1)["w"] == 130
    page.keyboard.press("Control+z")
    assert keyframes(page, 1) == [[0, False], [6, False]]


def test_a_click_on_an_interpolated_box_selects_it_without_a_keyframe(page_with_track):
    page = page_with_track
    go_to_frame(page, 5)
    click_image(page, 150, 150)
    expect(page.locator("#selection-info")).to_contain_text("held")
    assert keyframes(page, 1) == [[0, False]]


def test_dragging_where_the_selected_track_is_not_draws_its_box_instead_of_panning(
    page_with_track, shot
):
    page = page_with_track
    go_to_frame(page, 4)
    page.keyboard.press("o")  # track 1 is gone from frame 5 on, and stays selected
    go_to_frame(page, 7)
    expect(page.locator("#hint")).to_contain_text("drag to draw its box here")
    view = page.evaluate("() => ({...window.labelApp.view})")
    drag(page, (300, 50), (400, 150))
    assert page.evaluate("() => ({...window.labelApp.view})") == view  # no pan
    assert keyframes(page, 1) == [[0, False], [4, True], [7, False]]
    assert track_here(page, 1) == {"x": 300, "y": 50, "w": 100, "h": 100, "keyframe": True,
                                   "held": False}  # fmt: skip
    expect(page.locator("[data-banner=absent]")).to_contain_text("keyframe on frame 8")
    shot(page, "drawn-for-track")


def test_comma_and_period_jump_to_the_selected_tracks_keyframes(page_with_track):
    page = page_with_track
    go_to_frame(page, 4)
    page.keyboard.press("o")
    go_to_frame(page, 8)
    page.keyboard.press("o")
    go_to_frame(page, 2)
    page.keyboard.press(".")
    expect(page.locator("#frame-label")).to_contain_text("Frame 5 /")
    page.keyboard.press(".")
    expect(page.locator("#frame-label")).to_contain_text("Frame 9 /")
    page.keyboard.press(".")
    expect(page.locator("[data-banner=keyframe]")).to_contain_text("no keyframe after")
    page.keyboard.press(",")
    page.keyboard.press(",")
    expect(page.locator("#frame-label")).to_contain_text("Frame 1 /")
