"""Frame images while stepping through a video: a frame is shown once its image is decoded,
the latest one asked for wins however fast the keys come, and no image the canvas may still
draw is ever closed (this threw `drawImage ... image source is detached` when stepping fast)."""

from __future__ import annotations

import time

import pytest
from playwright.sync_api import expect

from tests.browser.helpers import open_label_page
from tests.browser.media import video_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

FRAMES = 30


def red_of_frame(index: int) -> int:
    """tests.browser.media._jpeg paints frame i's background with this red."""
    return 40 + (index * 30) % 150


def drawn_red(page) -> int:
    """The red of the image canvas at image pixel (20, 10), on the plain background."""
    return page.evaluate(
        """() => {
            const app = window.labelApp, r = app.renderer, v = app.view;
            const ctx = r.imageCanvas.getContext("2d");
            const x = Math.round((20 * v.scale + v.x) * r.ratio);
            const y = Math.round((10 * v.scale + v.y) * r.ratio);
            return ctx.getImageData(x, y, 1, 1).data[0];
        }"""
    )


@pytest.fixture
def stepping(live_server, login, alice, project):
    task = video_task(project, frames=FRAMES, width=640, height=360, lease_user=alice)
    page = login(alice)

    def slow(route):  # decoding lags behind the keys, as on a slow connection
        time.sleep(0.05)
        route.continue_()

    page.route("**/frames/**", slow)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    return page


def test_stepping_fast_never_draws_a_closed_image(stepping):
    page = stepping
    page.evaluate("() => { window.labelApp.timeline.cache.limit = 3; }")  # evict all the time
    stage = page.locator("#stage").bounding_box()
    for step in range(20):
        page.keyboard.press("d")
        if step % 3 == 0:  # zoom redraws the image shown, whatever is being decoded
            page.mouse.move(stage["x"] + 300, stage["y"] + 200)
            page.mouse.wheel(0, -60 if step % 2 else 60)
    expect(page.locator("#frame-label")).to_contain_text("Frame 21 /", timeout=20_000)
    page.mouse.wheel(0, 120)
    page.wait_for_timeout(300)
    errors = [m for m in page.console_messages if "error" in m.split(":")[0]]
    assert errors == []
    # What the canvas holds is the shown frame's open bitmap.
    assert page.evaluate(
        """() => {
            const app = window.labelApp;
            const held = app.canvas.bitmap;
            const shown = app.timeline.cache.peek(app.editor.frame);
            return held !== null && held.width > 0 && held === shown;
        }"""
    )


def test_the_latest_frame_asked_for_is_the_one_drawn(stepping):
    page = stepping
    for _ in range(12):
        page.keyboard.press("d")
    expect(page.locator("#frame-label")).to_contain_text("Frame 13 /", timeout=20_000)
    page.wait_for_timeout(500)  # nothing older may be drawn over it afterwards
    assert page.evaluate("() => window.labelApp.editor.frame") == 12
    assert abs(drawn_red(page) - red_of_frame(12)) <= 8
    for _ in range(5):
        page.keyboard.press("a")
    expect(page.locator("#frame-label")).to_contain_text("Frame 8 /", timeout=20_000)
    page.wait_for_timeout(500)
    assert abs(drawn_red(page) - red_of_frame(7)) <= 8
