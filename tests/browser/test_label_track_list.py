"""The track list: clicking a track selects it on the frame shown (no jump to its first
frame), and the panel says when it is not on that frame and why."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import drag, go_to_frame, open_label_page
from tests.browser.media import video_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_clicking_a_track_selects_it_on_the_current_frame_and_says_when_it_is_not_there(
    live_server, login, alice, project, shot
):
    task = video_task(project, frames=10, width=640, height=360, lease_user=alice)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    drag(page, (100, 100), (200, 200))  # track 1 from frame 1 on
    go_to_frame(page, 5)
    drag(page, (300, 100), (400, 200))  # track 2 from frame 6 on
    page.keyboard.press("Escape")
    go_to_frame(page, 7)

    page.locator("#track-list li[data-track='1']").click()
    expect(page.locator("#frame-label")).to_contain_text("Frame 8 /")  # no jump
    expect(page.locator("#track-list li[data-track='1']")).to_have_class("selected")
    expect(page.locator("#track-status")).to_contain_text("#1 person on this frame")
    expect(page.locator("#selection-info")).to_contain_text("track 1")

    go_to_frame(page, 2)
    page.locator("#track-list li[data-track='2']").click()
    expect(page.locator("#frame-label")).to_contain_text("Frame 3 /")
    expect(page.locator("#track-status")).to_contain_text(
        "#2 person is not on this frame: it starts on frame 6"
    )
    expect(page.locator("#selection-info")).to_contain_text("not on this frame")
    shot(page, "absent")
