"""A project points at a bucket and prefix on a real S3-compatible server (moto's server
process on loopback): its objects become assets and tasks without being copied, a real
worker decodes them, the pages serve them from the bucket, and the credentials never come
back. Loopback endpoints are allowed here by BUCKET_ALLOW_LOOPBACK (pyproject's test env)."""

from __future__ import annotations

import shutil
import time
from pathlib import Path

import pytest
from django.test import Client
from rest_framework.test import APIClient

from annotate.buckets.services import bucket_register, bucket_source_create
from annotate.models import AnnotationTask, Asset, BucketRegistration, Frame

from .ingest_media import jpeg_bytes, png_bytes, video_bytes
from .s3_server import ACCESS_KEY, SECRET_KEY

pytestmark = pytest.mark.django_db(transaction=True)


@pytest.fixture
def shared_media(settings, project):
    """The worker writes to the default MEDIA_ROOT; remove this project's files afterwards."""
    yield Path(settings.MEDIA_ROOT)
    shutil.rmtree(Path(settings.MEDIA_ROOT) / "projects" / str(project.pk), ignore_errors=True)


def _wait(check, what: str, seconds: float = 90):
    deadline = time.monotonic() + seconds
    while time.monotonic() < deadline:
        if found := check():
            return found
        time.sleep(0.2)
    raise AssertionError(f"{what} did not happen within {seconds:.0f} s")


def _api(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def _fill(s3_server, tmp_path) -> tuple[str, dict[str, bytes]]:
    bucket = s3_server.new_bucket()
    objects = {
        "shots/a.jpg": jpeg_bytes(64, 48, seed=1),
        "shots/day 2/b.PNG": png_bytes(40, 30),
        "shots/clip.avi": video_bytes(tmp_path, frames=12),
        "shots/notes.txt": b"not media",
        "shots/empty/": b"",
        "elsewhere/c.jpg": jpeg_bytes(32, 32, seed=2),
    }
    client = s3_server.client()
    for key, body in objects.items():
        client.put_object(Bucket=bucket, Key=key, Body=body)
    return bucket, objects


def _registration(pk: int) -> BucketRegistration:
    return BucketRegistration.objects.get(pk=pk)


@pytest.mark.worker
def test_a_bucket_prefix_becomes_assets_and_tasks_decoded_by_a_worker_without_copies(
    celery_worker, s3_server, project, pat, tmp_path, shared_media
):
    bucket, objects = _fill(s3_server, tmp_path)
    api = _api(pat)

    answer = api.post(
        f"/api/projects/{project.pk}/bucket-sources/",
        {
            "endpoint_url": s3_server.endpoint_url,
            "bucket": bucket,
            "prefix": "shots/",
            "access_key_id": ACCESS_KEY,
            "secret_access_key": SECRET_KEY,
        },
        format="json",
    )

    assert answer.status_code == 202, answer.json()
    assert ACCESS_KEY not in answer.content.decode() and SECRET_KEY not in answer.content.decode()
    body = answer.json()
    assert (body["bucket"], body["prefix"], body["has_credentials"]) == (bucket, "shots/", True)
    job_id = body["latest_registration"]["id"]
    job = _wait(lambda: _registration(job_id).state == "done" and _registration(job_id), "listing")
    assert (job.objects_listed, job.assets_created, job.tasks_created) == (5, 3, 2)
    assert job.objects_skipped == 2
    assert {e["key"]: e["reason"] for e in job.skipped_examples} == {
        "shots/notes.txt": "not an image or a video by its name",
        "shots/empty/": "a folder marker by its name",
    }

    assets = {a.object_key: a for a in Asset.objects.filter(project=project)}
    assert set(assets) == {"shots/a.jpg", "shots/day 2/b.PNG", "shots/clip.avi"}
    assert all(not a.file.name for a in assets.values())  # registered, not copied
    assert assets["shots/a.jpg"].size_bytes == len(objects["shots/a.jpg"])

    def decoded():
        states = set(Asset.objects.filter(project=project).values_list("state", flat=True))
        return states == {"ready"}

    _wait(decoded, "every asset decoded by the worker")
    image = Asset.objects.get(project=project, object_key="shots/a.jpg")
    assert (image.width, image.height, image.file.name) == (64, 48, "")
    assert image.thumbnail.name and image.features["color_histogram"]
    video = Asset.objects.get(project=project, object_key="shots/clip.avi")
    assert Frame.objects.filter(asset=video).exists()
    kinds = sorted(AnnotationTask.objects.filter(project=project).values_list("kind", flat=True))
    assert kinds.count("image") == 2 and "video" in kinds

    # The pages serve the object from the bucket, and the thumbnail made by the worker.
    page = Client()
    page.force_login(pat)
    original = page.get(f"/media/assets/{image.pk}/original/")
    assert original.status_code == 200
    assert b"".join(original.streaming_content) == objects["shots/a.jpg"]
    assert page.get(f"/media/assets/{image.pk}/thumbnail/").status_code == 200

    # The project's sources with their progress; never the credentials.
    listed = api.get(f"/api/projects/{project.pk}/bucket-sources/")
    assert SECRET_KEY not in listed.content.decode() and ACCESS_KEY not in listed.content.decode()
    (source,) = listed.json()
    assert source["assets"] == {"total": 3, "ready": 3, "pending": 0, "processing": 0, "failed": 0}

    # Listing again registers only what is new.
    s3_server.client().put_object(Bucket=bucket, Key="shots/d.jpg", Body=jpeg_bytes(seed=3))
    again = api.post(f"/api/bucket-sources/{source['id']}/registrations/")
    assert again.status_code == 202, again.json()
    second = _wait(
        lambda: (
            _registration(again.json()["id"]).state == "done" and _registration(again.json()["id"])
        ),
        "the second listing",
    )
    assert (second.objects_listed, second.assets_created, second.objects_skipped) == (6, 1, 5)
    assert Asset.objects.filter(project=project).count() == 4


def test_a_registration_run_twice_registers_each_object_once(s3_server, project, pat, tmp_path):
    bucket, _objects = _fill(s3_server, tmp_path)
    source, job = bucket_source_create(
        project=project, user=pat, endpoint_url=s3_server.endpoint_url, bucket=bucket,
        access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
    )  # fmt: skip
    first = bucket_register(job_id=job.pk)
    # The same message again (a redelivery): the job is done, nothing changes.
    assert bucket_register(job_id=job.pk).state == first.state == "done"
    # A run again of the same listing (the sweep, after a dead worker) adds nothing.
    BucketRegistration.objects.filter(pk=job.pk).update(state="queued")
    rerun = bucket_register(job_id=job.pk)
    assert (first.assets_created, rerun.assets_created, rerun.objects_skipped) == (4, 0, 6)
    assert Asset.objects.filter(source=source).count() == 4
    assert AnnotationTask.objects.filter(project=project).count() == 3  # the images


def test_an_unreadable_bucket_fails_the_registration_saying_why(s3_server, project, pat):
    _source, job = bucket_source_create(
        project=project, user=pat, endpoint_url=s3_server.endpoint_url,
        bucket="no-such-bucket-here", access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
    )  # fmt: skip
    failed = bucket_register(job_id=job.pk)
    assert failed.state == "failed"
    assert "NoSuchBucket" in failed.error and SECRET_KEY not in failed.error


@pytest.mark.parametrize(
    ("endpoint", "loopback", "reason"),
    [
        ("http://127.0.0.1:9000", False, "not a globally routable address"),
        ("http://10.1.2.3:9000", True, "not a globally routable address"),
        ("http://169.254.169.254/", True, "in the denied network"),
        ("http://[::ffff:127.0.0.1]:9000", False, "not a globally routable address"),
        ("http://user:pw@127.0.0.1:9000", True, "credentials in the URL"),
        ("ftp://example.com/", True, "http:// or https://"),
    ],
)
def test_an_endpoint_outside_the_allowed_addresses_is_refused_by_field(
    settings, project, pat, endpoint, loopback, reason
):
    settings.BUCKET_ALLOW_LOOPBACK = loopback
    answer = _api(pat).post(
        f"/api/projects/{project.pk}/bucket-sources/",
        {
            "endpoint_url": endpoint,
            "bucket": "media",
            "secret_access_key": "s",
            "access_key_id": "a",
        },
        format="json",
    )
    assert answer.status_code == 400
    assert reason in " ".join(answer.json()["endpoint_url"])
    assert not project.bucket_sources.exists()


def test_bad_input_is_refused_by_field(project, pat):
    answer = _api(pat).post(
        f"/api/projects/{project.pk}/bucket-sources/",
        {"bucket": "No_Such!", "access_key_id": "only-the-id"},
        format="json",
    )
    assert answer.status_code == 400
    assert "bucket" in answer.json()
    half = _api(pat).post(
        f"/api/projects/{project.pk}/bucket-sources/",
        {"bucket": "media", "access_key_id": "only-the-id"},
        format="json",
    )
    assert half.status_code == 400 and "secret_access_key" in half.json()


def test_only_managers_and_ml_engineers_of_the_project_reach_its_sources(
    s3_server, project, pat, alice, carol
):
    source, job = bucket_source_create(
        project=project, user=pat, endpoint_url=s3_server.endpoint_url, bucket="media"
    )
    assert _api(alice).get(f"/api/projects/{project.pk}/bucket-sources/").status_code == 403
    assert _api(alice).post(f"/api/bucket-sources/{source.pk}/registrations/").status_code == 403
    for path in (
        f"/api/projects/{project.pk}/bucket-sources/",
        f"/api/bucket-sources/{source.pk}/",
        f"/api/bucket-registrations/{job.pk}/",
    ):
        assert _api(carol).get(path).status_code == 404, path
    assert _api(carol).post(f"/api/bucket-sources/{source.pk}/registrations/").status_code == 404
    assert _api(pat).get(f"/api/bucket-registrations/{job.pk}/").status_code == 200


def test_the_project_page_shows_a_sources_registration_and_decoding_progress(
    s3_server, project, pat, alice, tmp_path, no_job_messages
):
    # The page shows what this test did, not what a stray worker took.
    bucket, _objects = _fill(s3_server, tmp_path)
    _source, job = bucket_source_create(
        project=project, user=pat, endpoint_url=s3_server.endpoint_url, bucket=bucket,
        prefix="shots/", access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
    )  # fmt: skip
    bucket_register(job_id=job.pk)
    page = Client()
    page.force_login(pat)
    html = page.get(f"/projects/{project.pk}/").content.decode()
    assert f"s3://{bucket}/shots/" in html
    assert "5 objects listed in 1 pages, 3 assets and 2 tasks made, 2 skipped" in html
    assert "Decoded 0 of 3" in html and SECRET_KEY not in html and ACCESS_KEY not in html
    page.force_login(alice)  # an annotator adds no media: no sources shown
    assert "Bucket sources" not in page.get(f"/projects/{project.pk}/").content.decode()
