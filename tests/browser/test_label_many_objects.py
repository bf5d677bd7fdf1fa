"""Many objects on a frame: stepping frames keeps the track list's rows (a change redraws
only the row of the track it touched), boxes off screen are not drawn, interpolated boxes are
still dashed when there are too many for labels, and frame images shown smaller are copied
at the view's scale ahead of time, looking as if resampled. (How fast this is, with 2,000
shapes, is measured by benchmarks/ui.py.)"""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotate.services.annotations import annotation_save
from tests.browser.helpers import click_image, go_to_frame, open_label_page
from tests.browser.media import video_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

COLUMNS, ROWS = 30, 20  # 600 tracks: more than the page draws labels for


@pytest.fixture
def crowd(live_server, login, alice, project):
    task = video_task(project, frames=4, width=1200, height=800, lease_user=alice)
    first, *_, last = task.asset.frames.order_by("index")
    tracks, boxes = [], []
    for i in range(COLUMNS):
        for j in range(ROWS):
            number = 1 + i * ROWS + j
            tracks.append({"number": number, "label": "person"})
            for frame, dx in ((first, 0), (last, 8)):
                at = {"x": 10 + 39 * i + dx, "y": 10 + 39 * j, "w": 25, "h": 25}
                boxes.append({"frame": frame.pk, "label": "person", "track": number} | at)
    annotation_save(
        task=task, user=alice, base_version=None, payload={"tracks": tracks, "boxes": boxes}
    )
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    expect(page.locator("#track-list li")).to_have_count(COLUMNS * ROWS)
    return page


def test_stepping_frames_keeps_the_rows_and_an_edit_redraws_only_its_tracks_row(crowd):
    # Rows are marked; a row drawn again has lost its mark.
    page = crowd
    page.evaluate(
        "() => document.querySelectorAll('#track-list li').forEach((li) => { li.kept = true; })"
    )
    go_to_frame(page, 1)
    go_to_frame(page, 2)
    assert page.evaluate(
        "() => [...document.querySelectorAll('#track-list li')].every((li) => li.kept)"
    )
    page.keyboard.press("v")
    click_image(page, 10 + 39 * 5 + 6 + 12, 10 + 39 * 3 + 12)  # track 5 * 20 + 3 + 1
    page.keyboard.press("o")  # gone from frame 3 on: its row says so
    replaced = page.evaluate(
        "() => [...document.querySelectorAll('#track-list li')].filter((li) => !li.kept)"
        ".map((li) => Number(li.dataset.track))"
    )
    assert replaced == [5 * ROWS + 3 + 1]


def test_boxes_off_screen_are_not_drawn(crowd):
    page = crowd
    assert page.evaluate("() => window.labelApp.renderer.boxesDrawn") == COLUMNS * ROWS
    stage = page.locator("#stage").bounding_box()
    page.mouse.move(stage["x"] + 100, stage["y"] + 100)
    for _ in range(8):
        page.mouse.wheel(0, -300)
    page.wait_for_function("() => window.labelApp.view.scale > 2")
    page.evaluate("() => window.labelApp.drawNow()")
    drawn = page.evaluate("() => window.labelApp.renderer.boxesDrawn")
    assert 0 < drawn < COLUMNS * ROWS / 4


def edge_pixels(page, ix: float, iy: float, length: float) -> list[int]:
    """Alpha of the shape canvas along a horizontal line from image point (ix, iy), in device
    pixels: where a box's top edge is drawn."""
    return page.evaluate(
        """([ix, iy, length]) => {
            const app = window.labelApp, r = app.renderer, v = app.view;
            const x = Math.round((ix * v.scale + v.x) * r.ratio);
            const y = Math.round((iy * v.scale + v.y) * r.ratio);
            const n = Math.floor(length * v.scale * r.ratio);
            const data = r.shapeCanvas.getContext("2d").getImageData(x, y, n, 1).data;
            return Array.from({ length: n }, (_, i) => data[4 * i + 3]);
        }""",
        [ix, iy, length],
    )


def test_with_many_boxes_interpolated_ones_are_still_drawn_dashed(crowd):
    page = crowd
    # Frame 1 is a keyframe of every track: solid edges; frame 2 is between: dashed.
    left, top = 10 + 39 * 4 + 3, 10 + 39 * 2  # track 4 * 20 + 2 + 1, inside its top edge
    solid = edge_pixels(page, left, top, 18)
    assert solid and all(alpha > 0 for alpha in solid)
    go_to_frame(page, 1)
    page.evaluate("() => window.labelApp.drawNow()")
    dashed = edge_pixels(page, left + 8 / 3, top, 18)
    assert sum(alpha > 0 for alpha in dashed) >= len(dashed) / 3
    assert sum(alpha == 0 for alpha in dashed) >= len(dashed) / 5


def test_a_frame_image_shown_smaller_is_copied_at_that_scale_and_looks_resampled(crowd):
    page = crowd
    # A view that shows the image smaller, on whole pixels: the image shown is copied at that
    # scale while the page is idle, and the copy is what a frame change draws.
    page.evaluate("() => window.labelApp.canvas.setView({ scale: 0.5, x: 12, y: 20 })")
    page.wait_for_function(
        "() => { const c = window.labelApp.canvas; return c.copies.get(c.bitmap) !== null; }"
    )
    worst = page.evaluate(
        """() => {
            const app = window.labelApp, c = app.canvas, r = c.renderer;
            const { width, height } = app.editor.imageSize;
            const pixels = (copy) => {
                r.drawImage(c.bitmap, c.view, width, height, copy);
                const canvas = r.imageCanvas;
                return r.imageCtx.getImageData(0, 0, canvas.width, canvas.height).data;
            };
            const copied = pixels(c.copies.get(c.bitmap));
            const resampled = pixels(null);
            let worst = 0;
            for (let i = 0; i < copied.length; i++) {
                worst = Math.max(worst, Math.abs(copied[i] - resampled[i]));
            }
            return worst;
        }"""
    )
    assert worst <= 2
    go_to_frame(page, 1)
    # The neighbours of the frame shown are copied as they are decoded, before they are shown.
    page.wait_for_function(
        """() => {
            const app = window.labelApp, next = app.timeline.cache.peek(2);
            return next !== null && app.canvas.copies.get(next) !== null;
        }"""
    )
