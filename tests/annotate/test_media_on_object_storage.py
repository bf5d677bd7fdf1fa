"""Media on object storage (settings S3_BUCKET: django-storages' S3 backend) against a real
S3-compatible server (moto's server process on loopback): uploads land in the bucket, a real
worker configured the same way extracts a video's frames into it and writes an export there,
and the pages serve and download them from it. Nothing reaches the local media folder."""

from __future__ import annotations

import json
import uuid
from pathlib import Path

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.test import Client
from rest_framework.test import APIClient

from annotate.models import Asset, Frame
from annotate.models.exchange_jobs import ExportJob
from config.celery import work_queue
from tests.workers import Worker, wait_until

from .exchange_builders import labeled_project
from .ingest_media import jpeg_bytes, video_bytes
from .s3_server import ACCESS_KEY, REGION, SECRET_KEY

pytestmark = [pytest.mark.worker, pytest.mark.django_db(transaction=True)]


@pytest.fixture
def s3_media(settings, s3_server, tmp_path):
    """This test's media in a bucket of its own, for the test process and a real worker
    (its queues this test's alone)."""
    bucket = s3_server.new_bucket()
    settings.WORK_QUEUE_PREFIX = f"s3{uuid.uuid4().hex[:8]}."
    settings.MEDIA_ROOT = tmp_path / "local-media"  # must stay empty
    settings.STORAGES = {
        **settings.STORAGES,
        "default": {
            "BACKEND": "storages.backends.s3.S3Storage",
            "OPTIONS": {
                "bucket_name": bucket,
                "endpoint_url": s3_server.endpoint_url,
                "region_name": REGION,
                "access_key": ACCESS_KEY,
                "secret_key": SECRET_KEY,
                "default_acl": None,
                "querystring_auth": True,
                "file_overwrite": False,
            },
        },
    }
    worker = Worker(
        "s3",
        [work_queue("ingest"), work_queue("exchange")],
        tmp_path / "worker.log",
        env={
            "S3_BUCKET": bucket,
            "S3_ENDPOINT_URL": s3_server.endpoint_url,
            "S3_REGION": REGION,
            "S3_ACCESS_KEY_ID": ACCESS_KEY,
            "S3_SECRET_ACCESS_KEY": SECRET_KEY,
            "MEDIA_ROOT": str(settings.MEDIA_ROOT),
        },
        app_module="config",
    )
    yield bucket
    worker.stop()


def _keys(s3_server, bucket: str, prefix: str) -> list[str]:
    answer = s3_server.client().list_objects_v2(Bucket=bucket, Prefix=prefix)
    return [item["Key"] for item in answer.get("Contents", [])]


def _local_files(root: Path) -> list[Path]:
    return [path for path in root.rglob("*") if path.is_file()] if root.exists() else []


def test_uploads_frames_serving_and_exports_all_go_through_the_bucket(
    s3_media, s3_server, settings, project, pat, tmp_path
):
    bucket = s3_media
    api = APIClient()
    api.force_authenticate(pat)
    picture = jpeg_bytes(64, 48, seed=7)
    clip = video_bytes(tmp_path, frames=15)

    upload = api.post(
        f"/api/projects/{project.pk}/assets/upload/",
        {
            "files": [
                SimpleUploadedFile("a.jpg", picture),
                SimpleUploadedFile("clip.avi", clip),
            ]
        },
        format="multipart",
    )

    assert upload.status_code == 201, upload.json()
    image = Asset.objects.get(project=project, kind="image")
    video = Asset.objects.get(project=project, kind="video")
    stored = _keys(s3_server, bucket, f"projects/{project.pk}/")
    assert image.file.name in stored and image.thumbnail.name in stored
    assert video.file.name in stored
    body = s3_server.client().get_object(Bucket=bucket, Key=image.file.name)["Body"].read()
    assert body == picture

    # The worker reads the video from the bucket and writes its frames there.
    wait_until(lambda: Asset.objects.get(pk=video.pk).state == "ready", "frames extracted", 120)
    frames = list(Frame.objects.filter(asset=video))
    assert frames
    frame_keys = set(_keys(s3_server, bucket, f"projects/{project.pk}/frames/"))
    assert {frame.image.name for frame in frames} <= frame_keys

    # Served from the bucket through the pages' access checks.
    page = Client()
    page.force_login(pat)
    served = page.get(f"/media/assets/{image.pk}/original/")
    assert served.status_code == 200 and b"".join(served.streaming_content) == picture
    frame_page = page.get(f"/media/frames/{frames[0].pk}/")
    assert frame_page.status_code == 200
    assert b"".join(frame_page.streaming_content)[:2] == b"\xff\xd8"  # a JPEG

    # An export written by the worker into the bucket, downloaded through the API.
    labeled_project(project)
    started = api.post(f"/api/projects/{project.pk}/exports/", {"format": "coco"})
    assert started.status_code == 202
    job_id = started.json()["id"]
    wait_until(lambda: ExportJob.objects.get(pk=job_id).state == "done", "the export", 120)
    export = ExportJob.objects.get(pk=job_id)
    assert export.file.name in _keys(s3_server, bucket, f"projects/{project.pk}/exports/")
    download = api.get(f"/api/exports/{job_id}/download/")
    coco = json.loads(b"".join(download.streaming_content))
    assert len(coco["images"]) >= 3

    assert _local_files(Path(settings.MEDIA_ROOT)) == []  # nothing went to the local disk
