"""Many objects on a frame: stepping frames keeps the track list's rows (a change redraws
only the row of the track it touched), and boxes off screen are not drawn. (How fast this
is, with 2,000 shapes, is measured by benchmarks/ui.py.)"""

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
