"""An annotator draws and edits boxes; drafts autosave, survive closing the page, show the
server's 400 next to the shape, and a stale second tab gets 409 without losing its work."""

from __future__ import annotations

import json

import pytest
from playwright.sync_api import expect

from annotate.models import Annotation
from tests.browser.helpers import drag, open_label_page, shapes, wait_saved
from tests.browser.media import image_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def latest(task) -> Annotation:
    return Annotation.objects.filter(task=task).order_by("-version").first()


def test_annotator_draws_moves_and_resizes_a_box_and_it_autosaves(
    live_server, login, alice, project, shot
):
    task = image_task(project, width=640, height=480, lease_user=alice)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    drag(page, (100, 100), (300, 250))
    expect(page.locator("#counts")).to_have_attribute("data-boxes", "1")
    page.keyboard.press("v")
    drag(page, (200, 180), (250, 200))  # move by (+50, +20)
    drag(page, (350, 270), (400, 300))  # the bottom-right handle
    shot(page, "edited")
    wait_saved(page)
    box = latest(task).boxes.get()
    assert (round(box.x), round(box.y), round(box.w), round(box.h)) == (150, 120, 250, 180)
    # Tab walks through the shapes of the frame; h hides them to look at the image.
    page.locator("#stage").focus()
    page.keyboard.press("Tab")
    expect(page.locator("#selection-info")).to_contain_text("person")
    page.keyboard.press("h")
    expect(page.locator("#hint")).to_contain_text("Shapes hidden")
    page.keyboard.press("h")
    page.keyboard.press("2")  # bicycle's hotkey changes the selected box's class
    page.keyboard.press("Control+s")
    wait_saved(page)
    assert latest(task).boxes.get().label_class.name == "bicycle"


def test_closing_the_page_mid_task_and_reopening_finds_the_draft(
    live_server, login, alice, project, shot
):
    task = image_task(project, width=640, height=480, lease_user=alice)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    drag(page, (50, 50), (150, 150))
    wait_saved(page)
    drag(page, (300, 300), (400, 420))  # closed before the next autosave
    context = page.context
    page.close(run_before_unload=False)
    again = login(alice, context=context)
    open_label_page(again, live_server.url, f"/tasks/{task.pk}/label/")
    expect(again.locator("#counts")).to_have_attribute("data-boxes", "2")
    shot(again, "reopened")
    xs = sorted(round(s["x"]) for s in shapes(again))
    assert xs == [50, 300]
    wait_saved(again)
    assert latest(task).boxes.count() == 2


def test_a_draft_kept_in_the_browser_is_restored_when_the_server_never_got_it(
    live_server, login, alice, project
):
    task = image_task(project, width=640, height=480, lease_user=alice)
    page = login(alice)
    # The network drops every save: only the browser's copy exists.
    page.route("**/api/tasks/*/annotation/", lambda route: route.abort())
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    drag(page, (60, 60), (160, 160))
    expect(page.locator("#save-status")).to_have_attribute("data-kind", "retrying")
    expect(page.locator("#save-status")).to_contain_text("retrying")
    # The tab dies without a last word (a crash, a killed browser): no flush on the way out.
    page.evaluate(
        """() => {
            const saver = window.labelApp.saver;
            saver.stop();
            saver.save = async () => false;
            saver.flushOnExit = () => {};
        }"""
    )
    context = page.context
    page.close(run_before_unload=False)
    again = login(alice, context=context)
    open_label_page(again, live_server.url, f"/tasks/{task.pk}/label/")
    expect(again.locator("#counts")).to_have_attribute("data-boxes", "1")
    expect(again.locator("[data-banner=restored]")).to_be_visible()
    wait_saved(again)
    assert latest(task).boxes.count() == 1


def test_a_server_400_is_shown_next_to_the_shape(live_server, login, alice, project, shot):
    task = image_task(project, width=640, height=480, lease_user=alice)
    page = login(alice)

    def corrupt(route):
        if route.request.method == "PUT":
            body = json.loads(route.request.post_data)
            body["payload"]["boxes"][0]["w"] = -5
            route.continue_(post_data=json.dumps(body))
        else:
            route.continue_()

    page.route("**/api/tasks/*/annotation/", corrupt)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    drag(page, (100, 100), (200, 200))
    errors = page.locator("#error-list li")
    expect(errors.first).to_contain_text("The width must be greater than 0", timeout=15_000)
    expect(errors.first).to_have_attribute("data-path", "boxes[0].w")
    expect(page.locator("#save-status")).to_have_attribute("data-kind", "error")
    shot(page, "400-shown")
    assert latest(task) is None
    page.unroute("**/api/tasks/*/annotation/")
    page.keyboard.press("v")
    drag(page, (150, 150), (160, 160))  # any change releases the hold and saves again
    wait_saved(page)
    expect(page.locator("#errors-panel")).to_be_hidden()
    assert latest(task).boxes.count() == 1


def test_a_stale_save_from_a_second_tab_gets_409_and_keeps_its_work(
    live_server, login, alice, project, shot
):
    task = image_task(project, width=640, height=480, lease_user=alice)
    first = login(alice)
    open_label_page(first, live_server.url, f"/tasks/{task.pk}/label/")
    drag(first, (100, 100), (200, 200))
    wait_saved(first)
    second = login(alice, context=first.context)
    open_label_page(second, live_server.url, f"/tasks/{task.pk}/label/")
    # The first tab saves again: the second tab's version is now stale.
    first.keyboard.press("v")
    drag(first, (150, 150), (170, 150))
    first.keyboard.press("Control+s")
    wait_saved(first)
    assert latest(task).version == 2
    drag(second, (300, 300), (400, 400))
    banner = second.locator("[data-banner=conflict]")
    expect(banner).to_be_visible(timeout=15_000)
    expect(banner).to_contain_text("version 2")
    shot(second, "409-conflict")
    expect(second.locator("#counts")).to_have_attribute("data-boxes", "2")
    assert latest(task).version == 2
    banner.get_by_role("button", name="Overwrite with my work").click()
    wait_saved(second)
    stored = latest(task)
    assert stored.version == 3 and stored.base_version == 1
    assert stored.boxes.count() == 2


def test_an_expired_session_keeps_the_draft_and_saves_after_logging_in_again(
    live_server, login, alice, project
):
    from django.conf import settings

    task = image_task(project, width=640, height=480, lease_user=alice)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    cookies = page.context.cookies()
    page.context.clear_cookies()
    drag(page, (100, 100), (200, 200))
    expect(page.locator("[data-banner=auth]")).to_be_visible(timeout=15_000)
    assert latest(task) is None
    assert any(c["name"] == settings.SESSION_COOKIE_NAME for c in cookies)
    page.context.add_cookies(cookies)  # logged in again (in another tab)
    wait_saved(page, timeout=20_000)
    assert latest(task).boxes.count() == 1
