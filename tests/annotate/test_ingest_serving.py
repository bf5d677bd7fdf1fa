"""Served media: stored content type, nosniff, inline with a generated name; other
projects' media does not exist (404), whatever the method."""

from __future__ import annotations

import io

import pytest
from django.urls import reverse

from annotate.ingest.services import ingest_files
from annotate.ingest.video import video_process
from annotate.models import Frame
from tests.annotate.ingest_media import jpeg_bytes, png_bytes, video_bytes

pytestmark = pytest.mark.django_db


@pytest.fixture
def image_id(project, media_root):
    name = "<img src=x onerror=alert(1)>.png"
    report = ingest_files(project=project, files=[(name, io.BytesIO(png_bytes()))])
    return report.created_ids[0]


def _body(response) -> bytes:
    return b"".join(response.streaming_content)


def test_an_original_is_served_with_its_stored_type_nosniff_and_a_safe_inline_name(
    client, alice, image_id
):
    client.force_login(alice)

    response = client.get(reverse("asset-original", args=[image_id]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/png"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'inline; filename="asset-{image_id}.png"'
    assert "sandbox" in response["Content-Security-Policy"]
    assert _body(response) == png_bytes()


def test_a_thumbnail_is_served_as_jpeg(client, alice, image_id):
    client.force_login(alice)

    response = client.get(reverse("asset-thumbnail", args=[image_id]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert _body(response)[:3] == b"\xff\xd8\xff"


def test_a_frame_is_served_as_jpeg(client, alice, project, media_root, tmp_path, monkeypatch):
    monkeypatch.setattr("annotate.ingest.services._enqueue_video", lambda *args: None)
    report = ingest_files(
        project=project, files=[("v.avi", io.BytesIO(video_bytes(tmp_path, frames=3)))]
    )
    video_process(asset_id=report.created_ids[0])
    frame = Frame.objects.filter(asset_id=report.created_ids[0]).first()
    client.force_login(alice)

    response = client.get(reverse("frame-image", args=[frame.pk]))

    assert response.status_code == 200
    assert response["Content-Type"] == "image/jpeg"
    assert response["X-Content-Type-Options"] == "nosniff"
    assert response["Content-Disposition"] == f'inline; filename="frame-{frame.pk}.jpg"'


@pytest.mark.parametrize("url_name", ["asset-original", "asset-thumbnail"])
@pytest.mark.parametrize("method", ["get", "head", "post", "put", "delete"])
def test_another_projects_member_gets_404_for_media(client, carol, image_id, url_name, method):
    client.force_login(carol)

    response = getattr(client, method)(reverse(url_name, args=[image_id]))

    assert response.status_code == 404


def test_a_member_may_only_read_media(client, alice, image_id):
    client.force_login(alice)

    response = client.delete(reverse("asset-original", args=[image_id]))

    assert response.status_code == 405


def test_another_projects_member_gets_404_for_a_frame(
    client, carol, project, media_root, tmp_path, monkeypatch
):
    monkeypatch.setattr("annotate.ingest.services._enqueue_video", lambda *args: None)
    report = ingest_files(
        project=project, files=[("v.avi", io.BytesIO(video_bytes(tmp_path, frames=2)))]
    )
    video_process(asset_id=report.created_ids[0])
    frame = Frame.objects.filter(asset_id=report.created_ids[0]).first()
    client.force_login(carol)

    assert client.get(reverse("frame-image", args=[frame.pk])).status_code == 404


def test_an_anonymous_visitor_is_sent_to_log_in(client, image_id):
    response = client.get(reverse("asset-original", args=[image_id]))

    assert response.status_code == 302
    assert "/accounts/login/" in response["Location"]


def test_a_rotated_jpeg_is_served_as_the_upright_jpeg(client, alice, project, media_root):
    report = ingest_files(
        project=project, files=[("r.jpg", io.BytesIO(jpeg_bytes(80, 60, orientation=6)))]
    )
    client.force_login(alice)

    response = client.get(reverse("asset-original", args=[report.created_ids[0]]))

    assert response["Content-Type"] == "image/jpeg"
