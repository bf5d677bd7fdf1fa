"""A registration lists its prefix in key ranges side by side (annotate.buckets.listing) on a
real S3-compatible server (moto's server process on loopback): every object is registered
exactly once whatever its key (beside the sub-prefixes, between them, folder markers,
deeper levels), pages of 2 keys and 3 listing threads; an error in one range fails the
registration saying why; decoding reads ahead and writes the message's assets together."""

from __future__ import annotations

import queue
import threading

import pytest
from botocore.exceptions import ClientError

from annotate.buckets.listing import key_ranges, list_in_ranges
from annotate.buckets.services import bucket_decode, bucket_register, bucket_source_create
from annotate.models import AnnotationTask, Asset
from annotate.queue.selectors import with_priority

from .ingest_media import jpeg_bytes
from .s3_server import ACCESS_KEY, SECRET_KEY

# no_job_messages: a worker another test left running could take the decoding these tests
# run themselves.
pytestmark = [pytest.mark.django_db(transaction=True), pytest.mark.usefixtures("no_job_messages")]

KEYS = [
    "cams/a.jpg",  # beside the sub-prefixes
    "cams/a/1.jpg",
    "cams/a/2.jpg",
    "cams/a/3.jpg",
    "cams/a/deeper/4.jpg",
    "cams/a.b.jpg",  # sorts between cams/a/... and cams/b/... ("." < "/")
    "cams/b/",  # a folder marker: skipped, said so
    "cams/b/5.jpg",
    "cams/b0.jpg",  # sorts after cams/b/ ("0" > "/")
    "cams/c/6.jpg",
    "cams/c/7.jpg",
    "cams/c/8.jpg",
    "cams/c/9.jpg",
    "cams/d/10.jpg",
    "cams/e/11.jpg",
    "cams/z.jpg",
]
OUTSIDE = ["cam/x.jpg", "camsx.jpg", "other/cams/y.jpg"]


@pytest.fixture
def ranges(settings):
    settings.BUCKET_LIST_PAGE = 2
    settings.BUCKET_LIST_WORKERS = 3


def _filled(s3_server, keys) -> str:
    bucket = s3_server.new_bucket()
    client = s3_server.client()
    body = jpeg_bytes(16, 12, seed=3)
    for key in keys:
        client.put_object(Bucket=bucket, Key=key, Body=b"" if key.endswith("/") else body)
    return bucket


def test_key_ranges_cover_every_key_once():
    cuts = ["p/a/", "p/b/", "p/c/", "p/d/", "p/e/"]
    keys = ["p/", "p/0.jpg", "p/a/", "p/a/1", "p/a.jpg", "p/b/", "p/b/2", "p/c/3", "p/e/9", "p/z"]
    for count in (1, 2, 3, 5, 9):
        for start in (None, "p/a/1", "p/c/3"):
            spans = key_ranges(cuts, count, start=start)
            assert len(spans) <= count + 1
            for key in keys:
                inside = [
                    (after, up_to)
                    for after, up_to in spans
                    if (after is None or key > after) and (up_to is None or key <= up_to)
                ]
                expected = 0 if start is not None and key <= start else 1
                assert len(inside) == expected, (count, start, key, spans)


def test_a_prefix_listed_in_ranges_registers_every_object_once(s3_server, project, pat, ranges):
    bucket = _filled(s3_server, KEYS + OUTSIDE)
    _source, job = bucket_source_create(
        project=project, user=pat, endpoint_url=s3_server.endpoint_url, bucket=bucket,
        prefix="cams/", access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
    )  # fmt: skip
    done = bucket_register(job_id=job.pk)
    assert done.state == "done", done.error
    media = sorted(key for key in KEYS if not key.endswith("/"))
    registered = list(
        Asset.objects.filter(project=project)
        .order_by("object_key")
        .values_list("object_key", flat=True)
    )
    assert registered == media
    assert AnnotationTask.objects.filter(project=project).count() == len(media)
    assert done.objects_listed == len(KEYS)
    assert (done.assets_created, done.tasks_created, done.objects_skipped) == (15, 15, 1)
    assert done.skipped_examples == [{"key": "cams/b/", "reason": "a folder marker by its name"}]
    # Pages of 2 keys: more than one page per range, and more than one range.
    assert done.pages_listed >= len(KEYS) // 2
    # Every column bulk_create would fill is filled (defaults, the listing's metadata).
    asset = Asset.objects.get(project=project, object_key="cams/c/6.jpg")
    assert (asset.kind, asset.state, asset.content_type, asset.sha256) == (
        "image", "pending", "image/jpeg", "", )  # fmt: skip
    assert asset.size_bytes == len(jpeg_bytes(16, 12, seed=3)) and len(asset.external_key) == 32
    assert asset.uploaded_by == pat and asset.created_at is not None and asset.progress == 0
    task = with_priority(AnnotationTask.objects.filter(asset=asset)).get()
    assert (task.kind, task.state, task.frame_count, task.priority) == ("image", "pending", 1, 0)


def test_a_prefix_of_one_page_costs_one_request(s3_server, settings):
    settings.BUCKET_LIST_WORKERS = 3
    bucket = _filled(s3_server, ["one/a/1.jpg", "one/b/2.jpg"])
    calls: list[str] = []
    client = s3_server.client()
    client.meta.events.register(
        "before-call.s3.ListObjectsV2", lambda params, **_: calls.append(params["url_path"])
    )
    out: queue.Queue = queue.Queue()
    list_in_ranges(
        client, bucket=bucket, prefix="one/", page_size=1000, workers=3, out=out,
        stop=threading.Event(),
    )  # fmt: skip
    assert [item["Key"] for item in out.get()] == ["one/a/1.jpg", "one/b/2.jpg"]
    assert out.get() is None and len(calls) == 1


def test_an_error_in_one_range_ends_the_listing_with_that_error(s3_server, ranges):
    bucket = _filled(s3_server, KEYS)
    client = s3_server.client()
    lock, failed = threading.Lock(), []

    def fail_one_range(params, **_):
        # The second range's first request (each range starts with StartAfter) is refused.
        if "start-after" not in params["query_string"]:
            return
        with lock:
            failed.append(params["query_string"]["start-after"])
            if len(failed) == 2:
                raise ClientError({"Error": {"Code": "AccessDenied", "Message": "no"}}, "List")

    client.meta.events.register("before-call.s3.ListObjectsV2", fail_one_range)
    out: queue.Queue = queue.Queue()
    list_in_ranges(
        client, bucket=bucket, prefix="cams/", page_size=2, workers=3, out=out,
        stop=threading.Event(),
    )  # fmt: skip
    while not isinstance(item := out.get(), Exception):
        assert item is not None, "the listing ended as if complete"
    assert "AccessDenied" in str(item) and len(failed) >= 2


def test_decoding_a_message_reads_ahead_and_fails_only_the_unreadable(
    s3_server, project, pat, settings
):
    settings.BUCKET_DECODE_READERS = 3
    bucket = _filled(s3_server, [f"dec/{i}.jpg" for i in range(7)])
    source, job = bucket_source_create(
        project=project, user=pat, endpoint_url=s3_server.endpoint_url, bucket=bucket,
        prefix="dec/", access_key_id=ACCESS_KEY, secret_access_key=SECRET_KEY,
    )  # fmt: skip
    bucket_register(job_id=job.pk)
    s3_server.client().delete_object(Bucket=bucket, Key="dec/3.jpg")
    ids = list(
        Asset.objects.filter(source=source).order_by("object_key").values_list("pk", flat=True)
    )
    assert bucket_decode(asset_ids=ids) == 6
    states = dict(Asset.objects.filter(source=source).values_list("object_key", "state"))
    assert states.pop("dec/3.jpg") == "failed" and set(states.values()) == {"ready"}
    ready = Asset.objects.get(source=source, object_key="dec/0.jpg")
    assert (ready.width, ready.height) == (16, 12) and ready.thumbnail and ready.features
    assert bucket_decode(asset_ids=ids) == 0  # a redelivery redoes nothing
