"""Hostile and broken input: each gets a clear message and leaves nothing half-written
(no Asset row, no stored file)."""

from __future__ import annotations

import io

import pytest

from annotate.ingest.services import ingest_files
from annotate.models import Asset
from tests.annotate.ingest_media import (
    fake_mp4_bytes,
    huge_png_bytes,
    jpeg_bytes,
    nothing_left,
    video_bytes,
)

pytestmark = pytest.mark.django_db


def _ingest_one(project, name: str, data: bytes):
    report = ingest_files(project=project, files=[(name, io.BytesIO(data))])
    assert len(report.results) == 1
    return report.results[0]


def test_a_truncated_jpeg_is_refused(project, media_root):
    data = jpeg_bytes(200, 200)
    result = _ingest_one(project, "cut.jpg", data[: len(data) // 2])

    assert result.status == "error"
    assert "truncated" in result.message
    assert nothing_left(media_root, project)


def test_a_20000_by_20000_png_is_refused_by_the_pixel_limit(project, media_root):
    result = _ingest_one(project, "flood.png", huge_png_bytes())

    assert result.status == "error"
    assert "megapixels" in result.message
    assert nothing_left(media_root, project)


def test_a_lower_pixel_limit_from_settings_is_enforced(project, media_root, settings):
    settings.MEDIA_MAX_IMAGE_PIXELS = 1000

    result = _ingest_one(project, "small.jpg", jpeg_bytes(40, 30))  # 1200 px

    assert result.status == "error"
    assert "more pixels than the limit" in result.message
    assert nothing_left(media_root, project)


def test_a_text_file_named_jpg_is_refused(project, media_root):
    result = _ingest_one(project, "notes.jpg", b"Shopping list:\n- eggs\n- milk\n")

    assert result.status == "error"
    assert "looks like text" in result.message
    assert nothing_left(media_root, project)


def test_an_html_file_named_png_is_refused(project, media_root):
    result = _ingest_one(project, "x.png", b"<html><script>alert(1)</script></html>")

    assert result.status == "error"
    assert nothing_left(media_root, project)


def test_an_empty_file_is_refused(project, media_root):
    result = _ingest_one(project, "empty.jpg", b"")

    assert result.status == "error"
    assert "empty" in result.message and "0 bytes" in result.message
    assert nothing_left(media_root, project)


def test_a_video_opencv_cannot_open_is_refused(project, media_root):
    result = _ingest_one(project, "broken.mp4", fake_mp4_bytes())

    assert result.status == "error"
    assert "cannot open this video" in result.message
    assert nothing_left(media_root, project)


def test_a_video_with_zero_frames_is_refused(project, media_root, tmp_path):
    result = _ingest_one(project, "empty.avi", video_bytes(tmp_path, frames=0))

    assert result.status == "error"
    assert "no frames" in result.message
    assert nothing_left(media_root, project)


def test_a_file_over_the_upload_limit_is_refused(project, media_root, settings):
    settings.MEDIA_MAX_UPLOAD_BYTES = 100

    result = _ingest_one(project, "big.jpg", jpeg_bytes(64, 64))

    assert result.status == "error"
    assert "larger than the limit" in result.message
    assert nothing_left(media_root, project)


def test_a_file_name_is_kept_only_as_display_text(project, media_root):
    name = "../../etc/passwd\x00<script>.jpg"
    report = ingest_files(project=project, files=[(name, io.BytesIO(jpeg_bytes(seed=3)))])

    asset = Asset.objects.get(pk=report.created_ids[0])
    assert asset.original_name == "../../etc/passwd?<script>.jpg"
    assert asset.file.name.startswith(f"projects/{project.pk}/assets/")
    assert ".." not in asset.file.name and "passwd" not in asset.file.name
