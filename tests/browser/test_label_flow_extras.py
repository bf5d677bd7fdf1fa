"""Smaller parts of the flow: skipping needs a reason, the shortcuts overlay, and a class
removed while someone labels gives a clear 409 that keeps the draft."""

from __future__ import annotations

import pytest
from playwright.sync_api import expect

from annotate.models import Annotation, AnnotationTask, LabelClass
from tests.browser.helpers import drag, open_label_page, wait_ready, wait_saved
from tests.browser.media import image_task

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_skipping_a_task_needs_a_reason_and_moves_on(live_server, login, alice, project, shot):
    image_task(project, priority=5)
    image_task(project, priority=1)
    page = login(alice)
    open_label_page(page, live_server.url, f"/projects/{project.pk}/label/")
    first = page.evaluate("() => window.labelApp.task.id")
    page.get_by_role("button", name="Skip…").click()
    dialog = page.locator("#skip-dialog")
    expect(dialog).to_be_visible()
    dialog.get_by_role("button", name="Skip task").click()
    expect(dialog).to_be_visible()  # the browser asks for the required reason
    page.locator("#skip-reason").fill("Too blurry to tell people apart")
    shot(page, "skip-reason")
    dialog.get_by_role("button", name="Skip task").click()
    wait_ready(page, loads=2)
    assert page.evaluate("() => window.labelApp.task.id") != first
    skipped = AnnotationTask.objects.get(pk=first)
    assert skipped.skip_reason == "Too blurry to tell people apart"


def test_the_shortcuts_overlay_opens_on_question_mark(live_server, login, alice, project, shot):
    task = image_task(project, lease_user=alice)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    page.keyboard.press("?")
    overlay = page.locator("#shortcuts")
    expect(overlay).to_be_visible()
    expect(overlay).to_contain_text("Next frame")
    expect(overlay).to_contain_text("Class “bicycle”")
    shot(page, "shortcuts")
    page.keyboard.press("?")
    expect(overlay).to_be_hidden()


def test_a_class_removed_while_labeling_gives_409_and_keeps_the_draft(
    live_server, login, alice, project, shot
):
    task = image_task(project, width=640, height=480, lease_user=alice)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    page.keyboard.press("2")  # bicycle
    drag(page, (100, 100), (200, 200))
    wait_saved(page)
    LabelClass.objects.filter(project=project, name="bicycle").update(is_active=False)
    page.keyboard.press("v")
    drag(page, (150, 150), (170, 170))
    banner = page.locator("[data-banner=schema]")
    expect(banner).to_be_visible(timeout=15_000)
    expect(banner).to_contain_text("schema changed")
    expect(page.locator("#error-list li").first).to_contain_text("no longer in this project")
    shot(page, "schema-changed")
    assert Annotation.objects.filter(task=task).count() == 1
    draft = page.evaluate("() => JSON.parse(localStorage.getItem('annotate:draft:' + arguments[0]))"
                          .replace("arguments[0]", str(task.pk)))  # fmt: skip
    assert draft["dirty"] and draft["doc"]["shapes"][0]["label"] == "bicycle"
    # Reload the schema, give the box a class that exists, and saving resumes.
    banner.get_by_role("button", name="Reload the schema (keep my shapes)").click()
    expect(banner).to_be_hidden()
    expect(page.locator("#palette button[data-label=bicycle]")).to_have_count(0)
    page.locator("#palette button[data-label=person]").click()
    wait_saved(page)
    latest = Annotation.objects.filter(task=task).order_by("-version").first()
    assert latest.boxes.get().label_class.name == "person"


def test_wheel_zooms_at_the_pointer_empty_space_pans_and_f_fits(live_server, login, alice, project):
    from tests.browser.helpers import screen

    task = image_task(project, width=640, height=480, lease_user=alice)
    page = login(alice)
    open_label_page(page, live_server.url, f"/tasks/{task.pk}/label/")
    fitted = page.evaluate("() => ({...window.labelApp.view})")
    sx, sy = screen(page, 320, 240)
    page.mouse.move(sx, sy)
    page.mouse.wheel(0, -400)
    page.wait_for_function(f"() => window.labelApp.view.scale > {fitted['scale']} * 1.5")
    # The image point under the pointer stays under it.
    ix, iy = page.evaluate(
        """([sx, sy]) => {
            const app = window.labelApp, r = app.stage.getBoundingClientRect(), v = app.view;
            return [(sx - r.left - v.x) / v.scale, (sy - r.top - v.y) / v.scale];
        }""",
        [sx, sy],
    )
    assert abs(ix - 320) < 1 and abs(iy - 240) < 1
    page.keyboard.press("v")
    before = page.evaluate("() => window.labelApp.view.x")
    page.mouse.move(sx, sy)  # no shape there: a drag pans
    page.mouse.down()
    page.mouse.move(sx + 50, sy, steps=5)
    page.mouse.up()
    after = page.evaluate("() => window.labelApp.view.x")
    assert after > before
    page.keyboard.press("f")
    view, fit = page.evaluate(
        """async () => {
            const g = await import("/static/annotate/geometry.js");
            const app = window.labelApp;
            return [app.view, g.fitView(640, 480, app.renderer.width, app.renderer.height)];
        }"""
    )
    assert view == fit


def test_a_task_whose_frames_are_not_extracted_yet_says_so(live_server, login, alice, project):
    from annotate.models import Frame
    from tests.browser.media import video_task

    task = video_task(project, frames=2, write_file=False, lease_user=alice)
    Frame.objects.filter(asset=task.asset).delete()
    page = login(alice)
    page.goto(f"{live_server.url}/tasks/{task.pk}/label/")
    expect(page.locator("#empty")).to_contain_text("still being processed")
    page.keyboard.press("d")  # keys do nothing on an empty page, and nothing breaks
    assert not [m for m in page.console_messages if m.startswith("pageerror")]
