"""Other modules (propagation) add their commands to the track panel with addTrackAction:
the button shows, and its command gets the frame, the selection and the checked tracks."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import drag, go_to_frame, open_label_page
from tests.browser.media import video_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_module_adds_a_track_command_that_sees_the_frame_and_the_selection(
    live_server, login, alice, project
):
    task = video_task(project, frames=5, width=640, height=360, lease_user=alice)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    drag(page, (100, 100), (200, 200))
    go_to_frame(page, 2)
    page.evaluate(
        """async () => {
            const { addTrackAction } = await import("/static/annotate/tracks.js");
            addTrackAction({id: "try", label: "Try it", title: "a test command",
                            run: (ctx) => { window.ran = {frame: ctx.frame,
                              selection: ctx.selection, checked: ctx.checked}; }});
        }"""
    )
    page.locator("#track-list input[value='1']").check()
    button = page.locator("#track-actions button[data-track-action=try]")
    expect(button).to_have_text("Try it")
    button.click()
    assert page.evaluate("() => window.ran") == {
        "frame": 2,
        "selection": {"track": 1, "type": "box"},
        "checked": [1],
    }
