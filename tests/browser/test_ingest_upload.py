"""A project manager uploads media on the upload page: picked files and dropped files go up
in one XHR with the CSRF token, the progress bar fills, and each file's result is listed."""

from __future__ import annotations

import base64

import pytest
from playwright.sync_api import expect

from annotate.models import Asset
from tests.annotate.ingest_media import jpeg_bytes, png_bytes

pytestmark = [pytest.mark.browser, pytest.mark.django_db(transaction=True)]


def test_a_manager_uploads_picked_files_and_sees_each_result(
    live_server, login, pat, project, tmp_path, shot
):
    good = tmp_path / "street.jpg"
    good.write_bytes(jpeg_bytes(320, 240, seed=11))
    fake = tmp_path / "<i>notes<i>.jpg"
    fake.write_text("not an image at all")
    page = login(pat)
    page.goto(f"{live_server.url}/projects/{project.pk}/upload/")

    page.locator("#upload-files").set_input_files([str(good), str(fake)])
    page.get_by_role("button", name="Upload").click()

    rows = page.locator("#upload-results tbody tr")
    expect(rows).to_have_count(2)
    expect(rows.nth(0)).to_contain_text("created")
    expect(rows.nth(1)).to_contain_text("<i>notes<i>.jpg")
    expect(rows.nth(1)).to_contain_text("looks like text")
    expect(page.locator("#upload-status")).to_contain_text("1 created, 0 duplicate(s), 1 error(s)")
    expect(page.locator("#upload-bar")).to_have_attribute("value", "100")
    shot(page, "uploaded")
    assert Asset.objects.filter(project=project, uploaded_by=pat).count() == 1
    assert not [m for m in page.console_messages if m.startswith("pageerror")]


def test_dropped_files_are_uploaded_too(live_server, login, pat, project):
    page = login(pat)
    page.goto(f"{live_server.url}/projects/{project.pk}/upload/")
    encoded = base64.b64encode(png_bytes()).decode()

    page.evaluate(
        """(encoded) => {
            const bytes = Uint8Array.from(atob(encoded), (c) => c.charCodeAt(0));
            const transfer = new DataTransfer();
            transfer.items.add(new File([bytes], "dropped.png", { type: "image/png" }));
            const zone = document.getElementById("dropzone");
            const init = { dataTransfer: transfer, bubbles: true };
            zone.dispatchEvent(new DragEvent("dragover", init));
            zone.dispatchEvent(new DragEvent("drop", init));
        }""",
        encoded,
    )

    expect(page.locator("#upload-results tbody tr")).to_have_count(1)
    expect(page.locator("#upload-results tbody tr")).to_contain_text("dropped.png")
    expect(page.locator("#upload-results tbody tr")).to_contain_text("created")
    assert Asset.objects.get(project=project).original_name == "dropped.png"
