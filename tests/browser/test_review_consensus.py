"""A reviewer compares two annotators' submissions side by side on the review page: one pane
each plus the consensus, the box only one of them drew dashed in red; accepting accepts the
merged version."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from activelearn.models import LearningSettings
from annotate.models import Annotation, Review
from annotate.queue.claim import task_claim_next
from annotate.queue.services import task_submit
from tests.browser.media import image_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def box(x, label="person"):
    return {"frame": None, "label": label, "x": x, "y": 80, "w": 200, "h": 240}


def test_reviewer_sees_each_annotator_side_by_side_and_accepts_the_consensus(
    live_server, login, alice, bob, rita, project, shot
):
    LearningSettings.objects.create(project=project, annotators_per_task=2)
    task = image_task(project, width=640, height=480)
    for user, boxes in ((alice, [box(100)]), (bob, [box(104), box(400, "bicycle")])):
        lease = task_claim_next(user=user, project=project)
        assert lease.task.pk == task.pk
        task_submit(task=task, user=user, payload={"boxes": boxes}, base_version=None)
    merged = Annotation.objects.get(task=task, kind="consensus")

    page = login(rita)
    page.goto(f"{live_server.url}/tasks/{task.pk}/review/")
    # The workspace shows the merged version: two boxes.
    expect(page.locator("#counts")).to_have_attribute("data-boxes", "2")
    summary = page.locator("#consensus-summary")
    expect(summary).to_be_visible()
    expect(summary).to_contain_text("2 annotators")
    expect(summary).to_contain_text("1 of 2 merged shapes disputed")
    summary.get_by_role("button", name="Compare annotators side by side").click()
    dialog = page.locator("#consensus-dialog")
    expect(dialog).to_be_visible()
    panes = dialog.locator(".cs-pane")
    expect(panes).to_have_count(3)
    expect(panes.nth(0)).to_contain_text("alice")
    expect(panes.nth(1)).to_contain_text("bob")
    expect(panes.nth(2)).to_contain_text("Consensus")
    # alice's one box agrees; bob's bicycle is his alone, dashed red in his pane and in the
    # consensus; the matched person box is drawn agreed in all three.
    expect(panes.nth(0).locator(".cs-shape[data-disputed='0']")).to_have_count(1)
    expect(panes.nth(0).locator(".cs-shape[data-disputed='1']")).to_have_count(0)
    expect(panes.nth(1).locator(".cs-shape[data-disputed='1']")).to_have_count(1)
    expect(panes.nth(1).locator(".cs-shape[data-disputed='1'] rect")).to_have_attribute(
        "stroke-dasharray", "6 4"
    )
    expect(panes.nth(2).locator(".cs-shape")).to_have_count(2)
    expect(panes.nth(2).locator(".cs-shape[data-disputed='1']")).to_have_count(1)
    shot(page, "side-by-side")
    dialog.get_by_role("button", name="Close").click()

    page.get_by_role("button", name="Accept").click()
    expect(page.locator("#review-result")).to_contain_text("Accepted")
    review = Review.objects.get(task=task)
    assert review.annotation_id == merged.pk


def test_quality_page_plots_agreement_per_annotator_task_and_class(
    live_server, login, alice, bob, rita, project, shot
):
    LearningSettings.objects.create(project=project, annotators_per_task=2)
    task = image_task(project, width=640, height=480)
    for user, boxes in ((alice, [box(100)]), (bob, [box(104), box(400, "bicycle")])):
        task_claim_next(user=user, project=project)
        task_submit(task=task, user=user, payload={"boxes": boxes}, base_version=None)

    page = login(rita)
    page.goto(f"{live_server.url}/projects/{project.pk}/quality/")
    section = page.locator("#quality")
    expect(section).to_have_attribute("data-loaded", "1")
    expect(section.locator(".quality-summary")).to_contain_text("1 task with a consensus")
    expect(section.locator(".quality-summary")).to_contain_text("box F1 0.67")
    annotators = section.locator("[data-plot=annotators] rect[data-metric=box_f1]")
    expect(annotators).to_have_count(2)
    expect(section.locator("[data-plot=classes] text")).to_contain_text(["bicycle", "person"])
    expect(section.locator(".quality-tasks tbody tr")).to_have_count(1)
    shot(page, "quality")


def test_video_tracks_side_by_side_follow_the_frame_slider(
    live_server, login, alice, bob, rita, project, shot
):
    from tests.browser.media import video_task

    LearningSettings.objects.create(project=project, annotators_per_task=2)
    task = video_task(project, frames=4)
    frames = list(task.asset.frames.order_by("index"))

    def track(number, x0, extra=False):
        boxes = [
            {"frame": frames[0].pk, "label": "person", "x": x0, "y": 40, "w": 80, "h": 120,
             "track": number},
            {"frame": frames[3].pk, "label": "person", "x": x0 + 90, "y": 40, "w": 80, "h": 120,
             "track": number},
        ]  # fmt: skip
        tracks = [{"number": number, "label": "person"}]
        if extra:  # a second track only this annotator drew, on the last frame
            tracks.append({"number": number + 1, "label": "bicycle"})
            boxes.append({"frame": frames[3].pk, "label": "bicycle", "x": 400, "y": 200,
                          "w": 60, "h": 60, "track": number + 1})  # fmt: skip
        return {"tracks": tracks, "boxes": boxes}

    for user, payload in ((alice, track(1, 10)), (bob, track(5, 14, extra=True))):
        task_claim_next(user=user, project=project)
        task_submit(task=task, user=user, payload=payload, base_version=None)

    page = login(rita)
    page.goto(f"{live_server.url}/tasks/{task.pk}/review/")
    page.locator("#consensus-summary").get_by_role(
        "button", name="Compare annotators side by side"
    ).click()
    dialog = page.locator("#consensus-dialog")
    panes = dialog.locator(".cs-pane")
    expect(panes).to_have_count(3)
    # Frame 0: the person track everywhere, agreed; bob's bicycle is not there yet.
    expect(panes.nth(1).locator(".cs-shape")).to_have_count(1)
    expect(panes.nth(1).locator(".cs-shape[data-disputed='1']")).to_have_count(0)
    interpolated = panes.nth(2).locator(".cs-shape rect")
    expect(interpolated).to_have_attribute("x", "12")
    dialog.locator(".cs-frame").fill("3")
    expect(dialog.locator(".cs-frame-label")).to_have_text("frame 3")
    # Frame 3: bob's lone bicycle track is disputed in his pane.
    expect(panes.nth(1).locator(".cs-shape")).to_have_count(2)
    expect(panes.nth(1).locator(".cs-shape[data-disputed='1']")).to_have_count(1)
    expect(panes.nth(0).locator(".cs-shape")).to_have_count(1)
    expect(panes.nth(2).locator(".cs-shape rect").first).to_have_attribute("x", "102")
    shot(page, "video-frame-3")
