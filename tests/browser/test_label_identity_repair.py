"""Identity repair on a crossing: the likely switch is listed in the track panel with a
jump to its frame, w swaps two tracks from the frame shown (by clicking the other one, or
two checked), x splits, m merges; each is one undo step and every key is in `?`."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotate.services.annotations import annotation_save
from tests.browser.helpers import click_image, go_to_frame, open_label_page, track_here
from tests.browser.media import video_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

TRACKS = [{"number": 1, "label": "person"}, {"number": 2, "label": "person"}]


@pytest.fixture
def crossing(live_server, login, alice, project):
    task = video_task(project, frames=9, width=640, height=360, lease_user=alice)
    first, *_, last = task.asset.frames.order_by("index")

    def box(frame, track, x):
        return {"frame": frame.pk, "label": "person", "track": track, "x": x, "y": 100,
                "w": 100, "h": 150}  # fmt: skip

    # Two people cross: #1 walks right (x 50 -> 450) and #2 left (x 450 -> 50) over frames
    # 1-9; they overlap around frame 5.
    payload = {
        "tracks": TRACKS,
        "boxes": [box(first, 1, 50), box(last, 1, 450), box(first, 2, 450), box(last, 2, 50)],
    }
    annotation_save(task=task, user=alice, payload=payload, base_version=None)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    page.keyboard.press("v")
    return page


def xs(page, count=9):
    """Track 1's and 2's x on every frame (-1 where absent)."""
    return page.evaluate(
        """async (count) => {
            const {shapesAt} = await import("/static/annotate/model.js");
            const doc = window.labelApp.doc;
            return [1, 2].map((t) => Array.from({length: count}, (_, f) =>
                Math.round(shapesAt(doc, f).find((s) => s.track === t)?.value.x ?? -1)));
        }""",
        count,
    )


def test_the_crossing_is_listed_as_a_likely_switch_and_a_click_goes_there(crossing, shot):
    page = crossing
    risks = page.locator("#track-risks li")
    expect(risks.first).to_contain_text("#1 and #2 overlap")
    expect(risks.first).to_contain_text("Frame 5")
    risks.first.click()
    expect(page.locator("#frame-label")).to_contain_text("Frame 5 /")
    expect(page.locator("#track-list li[data-track='1']")).to_have_class("selected")
    go_to_frame(page, 0)
    page.keyboard.press("]")
    expect(page.locator("#frame-label")).to_contain_text("Frame 5 /")
    shot(page, "risk")


def test_w_then_a_click_on_the_other_track_swaps_them_from_this_frame_in_one_undo_step(
    crossing, shot
):
    page = crossing
    before = xs(page)
    go_to_frame(page, 6)
    click_image(page, 400, 200)  # track 1 at x 350 on frame 7
    page.keyboard.press("w")
    expect(page.locator("[data-banner=swap]")).to_contain_text("click the other track")
    click_image(page, 150, 200)  # track 2 at x 150
    expect(page.locator("[data-banner=swap]")).to_contain_text("swapped from frame 7")
    after = xs(page)
    assert after[0][:6] == before[0][:6] and after[1][:6] == before[1][:6]
    assert after[0][6:] == before[1][6:] and after[1][6:] == before[0][6:]
    shot(page, "swapped")
    page.keyboard.press("Control+z")
    assert xs(page) == before


def test_two_checked_tracks_swap_with_the_button(crossing):
    page = crossing
    before = xs(page)
    go_to_frame(page, 4)
    page.locator("#track-list input[value='1']").check()
    page.locator("#track-list input[value='2']").check()
    page.get_by_role("button", name="Swap").first.click()
    after = xs(page)
    assert after[0][4:] == before[1][4:] and after[0][:4] == before[0][:4]


def test_split_then_merge_are_one_undo_step_each(crossing):
    page = crossing
    before = xs(page)
    go_to_frame(page, 3)
    click_image(page, 200, 200)  # track 1 at x 200
    page.keyboard.press("x")
    expect(page.locator("#track-list li")).to_have_count(3)
    assert track_here(page, 3)["x"] == 200  # from frame 4 on it is track 3
    page.locator("#track-list input[value='3']").check()
    page.locator("#track-list li[data-track='1']").click()
    page.keyboard.press("m")
    expect(page.locator("#track-list li")).to_have_count(2)
    assert xs(page) == before
    page.keyboard.press("Control+z")
    expect(page.locator("#track-list li")).to_have_count(3)
    page.keyboard.press("Control+z")
    expect(page.locator("#track-list li")).to_have_count(2)
    assert xs(page) == before


def test_every_track_key_is_in_the_shortcuts_overlay(crossing, shot):
    page = crossing
    page.keyboard.press("?")
    table = page.locator("#shortcut-table")
    for key, words in (
        ("o", "outside from this frame on"),
        (",", "previous keyframe"),
        (".", "next keyframe"),
        ("w", "Swap two tracks"),
        ("x", "Split the selected track"),
        ("m", "Merge the checked tracks"),
        ("]", "Next likely identity switch"),
        ("[", "Previous likely identity switch"),
    ):
        row = table.locator("tr", has=page.locator(f"kbd:text-is('{key}')"))
        expect(row.first).to_contain_text(words)
    shot(page, "shortcuts")
