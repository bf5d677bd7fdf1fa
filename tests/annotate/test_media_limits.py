"""Media over the size limits is refused with a clear message per file: images by their
longest side and their shape, videos by resolution, duration and frame count, both from the
header at upload and from what the decoder actually reads (headers can understate)."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from annotate.ingest.services import ingest_files
from annotate.ingest.video import video_process
from annotate.models import Asset, Frame
from tests.annotate.ingest_media import avi_claiming_frames, jpeg_bytes, nothing_left, video_bytes

pytestmark = pytest.mark.django_db


def upload(project, name: str, data: bytes):
    report = ingest_files(project=project, files=[(name, io.BytesIO(data))])
    (result,) = report.results
    return result


def strip_png(width: int, height: int) -> bytes:
    out = io.BytesIO()
    Image.new("1", (width, height)).save(out, "PNG")
    return out.getvalue()


def test_a_1_by_10_million_pixel_strip_is_refused(project, media_root):
    result = upload(project, "strip.png", strip_png(1, 10_000_000))

    assert result.status == "error"
    assert "1x10000000 pixels: a side is longer than the limit of 32768 pixels" in result.message
    assert nothing_left(media_root, project)


def test_an_image_far_longer_than_wide_is_refused_by_its_aspect_ratio(project, media_root):
    result = upload(project, "strip.png", strip_png(10, 2000))

    assert result.status == "error"
    assert "longer than 20 times its width" in result.message
    assert nothing_left(media_root, project)


def test_an_image_within_the_limits_is_still_accepted(project, media_root):
    assert upload(project, "ok.jpg", jpeg_bytes(width=64, height=48)).status == "created"


def test_a_video_over_the_resolution_limit_is_refused_at_upload(
    project, media_root, tmp_path, settings
):
    settings.MEDIA_VIDEO_MAX_WIDTH = 32
    result = upload(project, "wide.avi", video_bytes(tmp_path, frames=5, size=(64, 48)))

    assert result.status == "error"
    assert result.message == "The video is 64x48 pixels; the limit is 32x4096."
    assert nothing_left(media_root, project)


def test_a_video_over_the_duration_limit_is_refused_at_upload(
    project, media_root, tmp_path, settings
):
    settings.MEDIA_VIDEO_MAX_DURATION_S = 2
    result = upload(project, "long.avi", video_bytes(tmp_path, frames=25, fps=10.0))

    assert result.status == "error"
    assert result.message == "The video lasts 2.5 seconds; the limit is 2 seconds."
    assert nothing_left(media_root, project)


def test_a_video_over_the_frame_limit_is_refused_at_upload(project, media_root, tmp_path, settings):
    settings.MEDIA_VIDEO_MAX_FRAMES = 10
    result = upload(project, "many.avi", video_bytes(tmp_path, frames=25))

    assert (result.status, result.message) == ("error", "The video has 25 frames; the limit is 10.")
    assert nothing_left(media_root, project)


def test_a_video_whose_header_understates_its_frames_fails_when_extracted(
    project, media_root, tmp_path, settings, monkeypatch
):
    monkeypatch.setattr("annotate.ingest.services._enqueue_video", lambda *args: None)
    settings.MEDIA_VIDEO_MAX_FRAMES = 10
    data = avi_claiming_frames(video_bytes(tmp_path, frames=25), claimed=5)
    result = upload(project, "liar.avi", data)
    assert result.status == "created"

    assert video_process(asset_id=result.asset_id) == "failed"

    asset = Asset.objects.get(pk=result.asset_id)
    assert asset.failure_reason == "The video has more than 10 frames, the limit."
    assert not Frame.objects.filter(asset=asset).exists()


def test_a_video_longer_than_the_limit_by_its_decoded_frames_fails_when_extracted(
    project, media_root, tmp_path, settings, monkeypatch
):
    monkeypatch.setattr("annotate.ingest.services._enqueue_video", lambda *args: None)
    data = avi_claiming_frames(video_bytes(tmp_path, frames=25, fps=10.0), claimed=5)
    result = upload(project, "liar.avi", data)
    settings.MEDIA_VIDEO_MAX_DURATION_S = 1

    assert video_process(asset_id=result.asset_id) == "failed"

    asset = Asset.objects.get(pk=result.asset_id)
    assert asset.failure_reason == "The video is longer than the limit of 1 seconds."
