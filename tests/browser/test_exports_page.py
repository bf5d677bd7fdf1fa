"""The Exports page with a real Celery worker: a manager starts a COCO export, watches it
finish and downloads it; an import with a bad record shows its per-record report; a missing
file is named next to the file field."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from playwright.sync_api import expect

from tests.annotate.exchange_builders import labeled_project
from tests.browser.conftest import ARTIFACTS

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def coco_with_one_bad_record() -> bytes:
    return json.dumps(
        {
            "images": [{"id": 1, "file_name": "b.jpg", "width": 800, "height": 600}],
            "annotations": [
                {"id": 1, "image_id": 1, "category_id": 1, "bbox": [10, 20, 30, 40]},
                {"id": 2, "image_id": 1, "category_id": 7, "bbox": [1, 2, 3, 4]},
            ],
            "categories": [{"id": 1, "name": "person"}, {"id": 7, "name": "dog"}],
        }
    ).encode()


def test_a_manager_exports_watches_it_finish_and_downloads_it(
    live_server, login, project, pat, celery_worker, shot
):
    labeled_project(project)
    page = login(pat)
    page.goto(f"{live_server.url}/projects/{project.pk}/exports/")
    expect(page.locator("#exports-empty")).to_be_visible()

    page.locator("#export-format").select_option("coco")
    page.get_by_role("button", name="Start export").click()
    expect(page.locator("#export-status")).to_contain_text("started")
    row = page.locator("#exports-table tbody tr").first
    expect(row).to_have_attribute("data-state", "done", timeout=30_000)
    expect(row).to_contain_text("3 of 3 tasks")
    link = row.get_by_role("link", name="Download")
    expect(link).to_be_visible()

    with page.expect_download() as download_info:
        link.click()
    download = download_info.value
    assert download.suggested_filename.startswith("pedestrians-coco-")
    data = json.loads(Path(download.path()).read_bytes())
    assert len(data["images"]) == 8 and data["annotations"]
    shot(page, "export-done")


def test_an_import_shows_each_refused_record(
    live_server, login, project, eve, celery_worker, tmp_path, shot
):
    labeled_project(project)
    upload = tmp_path / "labels.json"
    upload.write_bytes(coco_with_one_bad_record())
    page = login(eve)
    page.goto(f"{live_server.url}/projects/{project.pk}/exports/")

    # The version name is asked for only when predictions are imported.
    expect(page.locator("#import-version")).to_be_hidden()
    page.locator("#import-as").select_option("predictions")
    expect(page.locator("#import-version")).to_be_visible()
    page.locator("#import-as").select_option("ground_truth")

    page.get_by_role("button", name="Start import").click()  # no file yet
    file_error = page.locator("#import-file").locator("xpath=..").locator(".field-error")
    expect(file_error).to_have_text("No file was submitted.")

    page.locator("#import-file").set_input_files(str(upload))
    page.locator("#import-format").select_option("coco")
    page.locator("#import-skip").check()
    page.get_by_role("button", name="Start import").click()
    expect(file_error).to_have_count(0)

    row = page.locator("#imports-table tbody tr").first
    expect(row).to_have_attribute("data-state", "done", timeout=30_000)
    expect(row).to_contain_text("1 of 2 imported, 1 refused")
    report = row.locator(".import-errors tbody tr")
    expect(report).to_have_count(1)
    expect(report.first).to_contain_text("annotation id 2")
    expect(report.first).to_contain_text("Category 'dog' is not in the project's schema.")
    expect(row.locator(".import-summary li")).to_have_text(
        "1 record(s) not imported: invalid records."
    )
    assert not [m for m in page.console_messages if m.startswith("pageerror")]
    shot(page, "import-report")
    ARTIFACTS.mkdir(exist_ok=True)
    page.screenshot(path=str(ARTIFACTS / "exports-page-full.png"), full_page=True)


def test_a_cvat_export_without_skeletons_says_what_it_left_out(
    live_server, login, project, pat, celery_worker, shot
):
    labeled_project(project)
    page = login(pat)
    page.goto(f"{live_server.url}/projects/{project.pk}/exports/")

    # The skeletons option is offered for the CVAT formats only.
    expect(page.locator("#export-skeletons")).to_be_hidden()
    page.locator("#export-format").select_option("cvat_images")
    expect(page.locator("#export-skeletons")).to_be_visible()
    page.locator("#export-skeletons").select_option("omit")
    page.get_by_role("button", name="Start export").click()
    row = page.locator("#exports-table tbody tr").first
    expect(row).to_have_attribute("data-state", "done", timeout=30_000)
    expect(row).to_contain_text("skeletons: Left out (boxes only)")
    expect(row.locator(".export-summary li")).to_have_text(
        "2 skeleton(s) left out (skeletons: omit); the boxes are written."
    )
    page.locator("#export-format").select_option("coco")
    expect(page.locator("#export-skeletons")).to_be_hidden()
    assert not [m for m in page.console_messages if m.startswith("pageerror")]
    shot(page, "export-without-skeletons")
