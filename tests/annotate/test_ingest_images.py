"""Images through ingest_files: stored under generated names, thumbnail, features, EXIF
orientation, one image task each, duplicates reported and not stored twice."""

from __future__ import annotations

import io

import pytest
from PIL import Image

from annotate.ingest.services import ingest_files
from annotate.models import AnnotationTask, Asset
from tests.annotate.ingest_media import jpeg_bytes, png_bytes, project_files

pytestmark = pytest.mark.django_db


@pytest.fixture
def media_root(settings, tmp_path):
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "django.core.files.storage.FileSystemStorage",
            "OPTIONS": {"location": str(tmp_path), "base_url": "/media/"},
        },
    }
    settings.MEDIA_ROOT = tmp_path
    return tmp_path


def test_an_image_becomes_a_ready_asset_with_a_thumbnail_and_one_task(project, pat, media_root):
    report = ingest_files(
        project=project, files=[("holiday photo.jpg", io.BytesIO(jpeg_bytes(640, 480)))], user=pat
    )

    assert [r.status for r in report.results] == ["created"]
    asset = Asset.objects.get(pk=report.created_ids[0])
    assert asset.state == Asset.State.READY and asset.progress == 1.0
    assert (asset.kind, asset.content_type) == ("image", "image/jpeg")
    assert (asset.width, asset.height) == (640, 480)
    assert asset.original_name == "holiday photo.jpg"
    assert "holiday" not in asset.file.name and asset.file.name.endswith(".jpg")
    assert asset.uploaded_by == pat
    with asset.thumbnail.open("rb") as handle, Image.open(handle) as thumb:
        assert max(thumb.size) == 256 and thumb.format == "JPEG"
    histogram = asset.features["color_histogram"]
    assert len(histogram) == 3 * asset.features["bins_per_channel"]
    assert sum(histogram) == pytest.approx(3.0, abs=1e-3)
    task = AnnotationTask.objects.get(asset=asset)
    assert (task.kind, task.frame_count, task.frame_start) == ("image", 1, None)


def test_exif_orientation_6_is_applied_so_width_and_height_swap(project, media_root):
    report = ingest_files(
        project=project, files=[("phone.jpg", io.BytesIO(jpeg_bytes(80, 60, orientation=6)))]
    )

    asset = Asset.objects.get(pk=report.created_ids[0])
    assert (asset.width, asset.height) == (60, 80)
    with asset.file.open("rb") as handle, Image.open(handle) as stored:
        assert stored.size == (60, 80)
        assert stored.getexif().get(0x0112, 1) == 1


def test_the_type_comes_from_the_content_not_the_name(project, media_root):
    report = ingest_files(project=project, files=[("looks-like.gif", io.BytesIO(png_bytes()))])

    asset = Asset.objects.get(pk=report.created_ids[0])
    assert asset.content_type == "image/png" and asset.file.name.endswith(".png")


def test_a_duplicate_is_reported_and_not_stored_twice(project, media_root):
    data = jpeg_bytes(seed=7)
    first = ingest_files(project=project, files=[("a.jpg", io.BytesIO(data))])
    files_after_first = project_files(media_root, project.pk)

    second = ingest_files(
        project=project, files=[("b.jpg", io.BytesIO(data)), ("c.jpg", io.BytesIO(data))]
    )

    assert [r.status for r in second.results] == ["duplicate", "duplicate"]
    assert all(r.asset_id == first.created_ids[0] for r in second.results)
    assert "already in the project" in second.results[0].message.lower()
    assert Asset.objects.filter(project=project).count() == 1
    assert AnnotationTask.objects.filter(project=project).count() == 1
    assert project_files(media_root, project.pk) == files_after_first


def test_the_same_file_in_another_project_is_not_a_duplicate(project, other_project, media_root):
    data = jpeg_bytes(seed=8)
    ingest_files(project=project, files=[("a.jpg", io.BytesIO(data))])

    report = ingest_files(project=other_project, files=[("a.jpg", io.BytesIO(data))])

    assert [r.status for r in report.results] == ["created"]


def test_good_files_are_kept_when_others_in_the_same_batch_are_refused(project, media_root):
    report = ingest_files(
        project=project,
        files=[
            ("good.jpg", io.BytesIO(jpeg_bytes(seed=1))),
            ("bad.jpg", io.BytesIO(b"not an image")),
            ("also-good.png", io.BytesIO(png_bytes())),
        ],
    )

    assert [r.status for r in report.results] == ["created", "error", "created"]
    assert Asset.objects.filter(project=project).count() == 2


def test_the_same_content_twice_in_one_upload_is_stored_once(project, media_root):
    data = jpeg_bytes(seed=9)

    report = ingest_files(
        project=project, files=[("one.jpg", io.BytesIO(data)), ("two.jpg", io.BytesIO(data))]
    )

    assert [r.status for r in report.results] == ["created", "duplicate"]
    assert report.results[1].asset_id == report.results[0].asset_id is not None
    assert f"asset {report.results[0].asset_id}" in report.results[1].message
    assert Asset.objects.filter(project=project).count() == 1
    assert len(project_files(media_root, project.pk)) == 2  # the image and its thumbnail


def test_many_images_in_one_call_all_get_their_own_asset_and_task(project, media_root):
    files = [(f"{i}.jpg", io.BytesIO(jpeg_bytes(16, 16, seed=100 + i))) for i in range(120)]

    report = ingest_files(project=project, files=files)

    assert len(set(report.created_ids)) == 120 and None not in report.created_ids
    assert AnnotationTask.objects.filter(asset_id__in=report.created_ids).count() == 120
