"""A skeleton in a video is a track like a box: placed on one frame it stays there to the end
of the task, moving a point on a later frame makes a keyframe there, every point moves
linearly between two keyframes, it lasts after its last keyframe until marked outside, and
optical flow propagates it (a real Celery worker) frame by frame."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from annotate.track_shapes import interpolate_points
from tests.annotate.propagation_media import (
    SPRITES,
    frame_ids,
    hold,
    save,
    skeleton_shape,
    sprite_points,
    video_project_task,
)
from tests.browser.helpers import (
    api_json,
    click_image,
    drag,
    go_to_frame,
    keyframes,
    open_label_page,
)
from tests.browser.media import video_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

PLACED = {
    "left_shoulder": (300, 120),
    "right_shoulder": (160, 125),
    "left_hip": (280, 300),
    "right_hip": (180, 305),
}


def skeleton_here(page, track: int = 1) -> dict | None:
    """The track's skeleton on the frame shown: {points: {name: [x, y]}, keyframe, held,
    interpolated}, or None where the track is not."""
    return page.evaluate(
        """(track) => {
            const item = window.labelApp.items().find((i) => i.track === track && i.type === "kp");
            if (!item) return null;
            const points = Object.fromEntries(Object.entries(item.value.points)
                .map(([name, p]) => [name, [Math.round(p[0]), Math.round(p[1])]]));
            return {points, keyframe: Boolean(item.keyframe), held: item.held,
                    interpolated: item.interpolated};
        }""",
        track,
    )


def _xy(points: dict) -> dict:
    return {name: list(xy) for name, xy in points.items()}


def test_a_skeleton_track_interpolates_each_point_between_two_keyframes_and_lasts_until_outside(
    live_server, login, alice, project, shot
):
    task = video_task(project, frames=6, width=640, height=360)
    page = login(alice)
    open_label_page(page, live_server.url, f"/projects/{project.pk}/label/")
    page.keyboard.press("k")
    for x, y in PLACED.values():
        click_image(page, x, y)
    page.keyboard.press("v")
    first = skeleton_here(page)
    assert first["keyframe"] and first["points"] == _xy(PLACED)

    # After its only keyframe the skeleton stays where it was placed.
    go_to_frame(page, 4)
    held = skeleton_here(page)
    assert (held["held"], held["keyframe"], held["points"]) == (True, False, _xy(PLACED))

    # Moving one point there makes a keyframe on that frame; the others stay.
    drag(page, (300, 120), (340, 140))
    assert keyframes(page, 1) == [[0, False], [4, False]]
    assert skeleton_here(page)["keyframe"]

    # Halfway between the keyframes the moved point is halfway; the others have not moved.
    go_to_frame(page, 2)
    between = skeleton_here(page)
    assert (between["interpolated"], between["held"]) == (True, False)
    assert between["points"] == {**_xy(PLACED), "left_shoulder": [320, 130]}
    shot(page, "skeleton-interpolated")

    # After the last keyframe it lasts, until it is marked outside.
    go_to_frame(page, 5)
    assert skeleton_here(page)["points"]["left_shoulder"] == [340, 140]
    page.locator("#stage").focus()
    page.keyboard.press("Shift+o")
    assert skeleton_here(page) is None
    assert keyframes(page, 1) == [[0, False], [4, False], [5, True]]
    go_to_frame(page, 4)
    assert skeleton_here(page) is not None

    page.get_by_role("button", name="Submit & next").click()
    expect(page.locator("#empty")).to_contain_text("No tasks left", timeout=15_000)
    stored = api_json(page, f"{live_server.url}/api/tasks/{task.pk}/annotation/")["payload"]
    frames = {f.pk: f.index for f in task.asset.frames.all()}
    skeletons = sorted(stored["keypoints"], key=lambda s: frames[s["frame"]])
    assert [(frames[s["frame"]], s["track"], s["outside"]) for s in skeletons] == [
        (0, 1, False),
        (4, 1, False),
        (5, 1, True),
    ]
    # The server's twin of the page's interpolation (exports use it) agrees on frame 2.
    middle = interpolate_points(skeletons[0]["points"], skeletons[1]["points"], 0.5)
    assert {name: [round(p[0]), round(p[1])] for name, p in middle.items()} == between["points"]
    assert not [m for m in page.console_messages if m.startswith("pageerror")]


@pytest.fixture
def shared_media(settings, project):
    """The worker and the live server read the default MEDIA_ROOT; clean up afterwards."""
    yield Path(settings.MEDIA_ROOT)
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "projects" / str(project.pk), ignore_errors=True)


@pytest.mark.worker
def test_pressing_p_propagates_a_skeleton_track_point_by_point(
    live_server, login, project, alice, celery_worker, tmp_path, monkeypatch, shared_media, shot
):
    task = video_project_task(project, tmp_path, monkeypatch)[0]
    hold(task, alice)
    ids = frame_ids(task)
    player = SPRITES[0]
    save(task, alice, keypoints=[skeleton_shape(ids[0], sprite_points(player, 0))])
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")

    page.locator("#track-list li").first.click()
    page.locator("#stage").focus()
    page.keyboard.press("p")
    expect(page.locator("#propagate-summary")).to_contain_text(
        "Propagated 9 shapes over 9 frames", timeout=60_000
    )
    skeletons = page.evaluate(
        "() => window.labelApp.doc.shapes.filter(s => s.type === 'kp' && s.track === 1)"
    )
    assert sorted(s["frame"] for s in skeletons) == list(range(10))
    assert {s["source"] for s in skeletons if s["frame"] > 0} == {"propagation"}
    # Every point followed the player to the last frame.
    last = next(s for s in skeletons if s["frame"] == 9)
    for name, (x, y) in sprite_points(player, 9).items():
        px, py, visibility = last["points"][name]
        assert abs(px - x) < 1.5 and abs(py - y) < 1.5, name
        assert visibility == 2
    go_to_frame(page, 5)
    assert skeleton_here(page)["keyframe"]
    shot(page, "skeleton-propagated")
    assert not [m for m in page.console_messages if m.startswith("pageerror")]
