"""The Model & queue page says why a video segment rose in the queue: the track risk
reasons (which tracks collide, at which frames) under its score's parts."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from activelearn.models import ModelVersion, TaskScore
from tests.annotate.api_helpers import make_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

REASON = {
    "strategy": "track_risk",
    "kind": "collision",
    "tracks": [3, 7],
    "frames": [41, 47],
    "peak": 44,
    "score": 0.81,
    "text": "collision of #3 and #7 at frames 41\u201347",
}


def test_a_segment_with_a_collision_says_which_tracks_and_frames(
    live_server, login, project, eve, shot
):
    detector = ModelVersion.objects.create(
        project=project,
        name="people-detector",
        kind="pushed",
        task_type="detection",
        is_active=True,
        activated_at=timezone.now(),
    )
    crossing = make_task(project, frames=10, priority=0.9)
    calm = make_task(project, frames=10, priority=0.1)
    TaskScore.objects.create(
        task=crossing,
        model_version=detector,
        score=0.9,
        breakdown={"track_risk": 0.81, "detection": 0.4, "reasons": [REASON]},
    )
    TaskScore.objects.create(
        task=calm, model_version=detector, score=0.1, breakdown={"track_risk": 0.0}
    )
    page = login(eve)
    page.goto(f"{live_server.url}/projects/{project.pk}/model/")
    rows = page.locator("#queue-table tbody tr")
    expect(rows).to_have_count(2)
    first = rows.first
    expect(first.locator(".breakdown li").first).to_have_text("track_risk 0.810")
    expect(first.locator(".reasons li")).to_have_text(["collision of #3 and #7 at frames 41–47"])
    expect(rows.nth(1).locator(".reasons")).to_have_count(0)
    page.locator("#queue").scroll_into_view_if_needed()
    shot(page, "queue-track-risk")
    assert not [m for m in page.console_messages if m.startswith("pageerror")]
