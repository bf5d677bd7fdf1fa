"""A reviewer rejects a submitted task with a comment; its annotator sees the comment and can
fix the task again."""

from __future__ import annotations

import pytest
from django.utils import timezone
from playwright.sync_api import expect

from annotate.models import AnnotationTask
from annotate.services.annotations import annotation_save
from tests.browser.helpers import click_image, drag, open_label_page, wait_saved
from tests.browser.media import image_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]

BOX = {"frame": None, "label": "person", "x": 100, "y": 80, "w": 200, "h": 240}


def submitted_task(project, annotator) -> AnnotationTask:
    task = image_task(project, width=640, height=480)
    annotation_save(
        task=task, user=annotator, payload={"boxes": [BOX]}, base_version=None, kind="submission"
    )
    AnnotationTask.objects.filter(pk=task.pk).update(
        state="submitted", annotator=annotator, submitted_at=timezone.now()
    )
    return task


def test_reviewer_rejects_with_a_comment_and_the_annotator_sees_it(
    live_server, login, alice, rita, project, shot
):
    task = submitted_task(project, alice)
    reviewer = login(rita)
    reviewer.goto(f"{live_server.url}/projects/{project.pk}/review/")
    reviewer.locator(f"a[href='/tasks/{task.pk}/review/']").click()
    expect(reviewer.locator("#counts")).to_have_attribute("data-boxes", "1")
    expect(reviewer.get_by_role("button", name="Box b")).to_be_disabled()
    reviewer.get_by_role("button", name="Reject").click()
    expect(reviewer.locator("#review-error")).to_contain_text("needs a comment")
    reviewer.locator("#review-comment-input").fill("The box misses the person's feet.")
    reviewer.get_by_role("button", name="Reject").click()
    expect(reviewer.locator("#review-result")).to_contain_text("Rejected")
    shot(reviewer, "rejected")
    task.refresh_from_db()
    assert task.state == "rejected" and task.annotator == alice

    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    expect(page.locator("#review-comment .text")).to_have_text("The box misses the person's feet.")
    expect(page.locator("[data-banner=review]")).to_contain_text("rita")
    # Opened by its address, not through the queue: drafts save, submitting needs the queue.
    expect(page.locator("[data-banner=unleased]")).to_be_visible()
    shot(page, "comment-seen")
    page.keyboard.press("v")
    click_image(page, 200, 200)  # select the box, then pull its bottom-right handle
    drag(page, (300, 320), (300, 400))  # the bottom-right handle: include the feet
    wait_saved(page)
    latest = task.annotations.order_by("-version").first()
    assert latest.version == 2 and round(latest.boxes.get().h) == 320


def test_reviewer_accepts_and_the_annotator_can_no_longer_change_it(
    live_server, login, alice, rita, project
):
    task = submitted_task(project, alice)
    reviewer = login(rita)
    open_label_page(reviewer, live_server.url, f"/tasks/{task.pk}/review/")
    reviewer.get_by_role("button", name="Accept").click()
    expect(reviewer.locator("#review-result")).to_contain_text("Accepted")
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    expect(page.locator("[data-banner=locked]")).to_contain_text("accepted")
    expect(page.get_by_role("button", name="Box b")).to_be_disabled()
