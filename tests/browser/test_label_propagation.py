"""Propagation in the labeling page with a real Celery worker: select a track, press p, see
the job's progress, then the new version's shapes on every frame; undo brings the one
keyframe back."""

from __future__ import annotations

import shutil
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.annotate.propagation_media import (
    SPRITES,
    box_shape,
    frame_ids,
    hold,
    save,
    video_project_task,
)
from tests.browser.helpers import open_label_page

pytestmark = [pytest.mark.browser, pytest.mark.worker, pytest.mark.django_db(transaction=True)]

RECORD_STATUS = """() => {
    window.propagationSeen = [];
    const status = document.getElementById("propagate-status");
    new MutationObserver(() => window.propagationSeen.push(status.textContent))
        .observe(status, {childList: true, characterData: true, subtree: true});
}"""


@pytest.fixture
def shared_media(settings, project):
    """The worker and the live server read the default MEDIA_ROOT; clean up afterwards."""
    yield Path(settings.MEDIA_ROOT)
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "projects" / str(project.pk), ignore_errors=True)


def test_pressing_p_propagates_the_selected_track_and_undo_takes_it_back(
    live_server, login, project, alice, celery_worker, tmp_path, monkeypatch, shared_media, shot
):
    task = video_project_task(project, tmp_path, monkeypatch)[0]
    hold(task, alice)
    ids = frame_ids(task)
    save(task, alice, boxes=[box_shape(ids[0], SPRITES[0].box(0))])
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    expect(page.locator("#propagate")).to_be_visible()
    page.evaluate(RECORD_STATUS)

    page.locator("#track-list li").first.click()
    page.locator("#stage").focus()
    page.keyboard.press("p")

    expect(page.locator("#propagate-progress")).to_be_visible()
    expect(page.locator("#propagate-summary")).to_contain_text(
        "Propagated 9 shapes over 9 frames", timeout=60_000
    )
    seen = page.evaluate("() => window.propagationSeen")
    assert any(s.startswith(("Waiting for a worker", "Propagating…")) for s in seen), seen
    boxes = page.evaluate(
        "() => window.labelApp.doc.shapes.filter(s => s.type === 'box' && s.track === 1)"
    )
    assert sorted(b["frame"] for b in boxes) == list(range(10))
    assert {b["source"] for b in boxes if b["frame"] > 0} == {"propagation"}
    expect(page.locator("#save-status")).to_contain_text("version 2")
    shot(page, "propagated")

    x, y, _, _ = SPRITES[0].box(9)
    on_last = next(b for b in boxes if b["frame"] == 9)
    assert abs(on_last["x"] - x) < 1.5 and abs(on_last["y"] - y) < 1.5  # where the player is

    page.get_by_role("button", name="Undo propagation").click()
    expect(page.locator("#propagate-summary")).to_have_text("Propagation undone.")
    expect(page.locator("#save-status")).to_contain_text("version 3")
    left = page.evaluate("() => window.labelApp.doc.shapes.map(s => [s.frame, s.source])")
    assert left == [[0, "human"]]
    assert not [m for m in page.console_messages if m.startswith("pageerror")]
