"""Writes of bucket sources: a source is created with its first registration; a registration
lists the bucket under the prefix a page at a time and makes assets (and an image's task) of
the objects, with the listing's metadata, in one transaction per page; images are decoded
afterwards by workers (size, thumbnail, features: `bucket_decode`), videos go through the
video pipeline, which reads the object from the bucket (annotate.ingest.video).

Nothing is copied: the object stays the asset's media. Nothing is dropped silently either:
an object that is not an image or a video by its name is counted as skipped, with examples.
Listing and writing overlap: a thread fetches the next page while this one writes.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import threading
from pathlib import PurePosixPath

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction
from django.db.models import F

from annotate.bucket_objects import BucketUnreadable, endpoint_refusal, object_read, s3_client
from annotate.events import tasks_added
from annotate.ingest.images import image_process
from annotate.ingest.sniff import ACCEPTED, MediaRejected
from annotate.jobs import enqueue_on_commit, job_claim, job_enqueue, job_fail, job_finish
from annotate.models import AnnotationTask, Asset, BucketRegistration, BucketSource, Project
from annotate.services.errors import InvalidFields, ServiceError

log = logging.getLogger(__name__)

# A media type by the key's suffix (objects are not read while listing).
BY_SUFFIX = {media.suffix: media for media in ACCEPTED.values()}
BY_SUFFIX.update({".jpeg": ACCEPTED["image/jpeg"], ".jpe": ACCEPTED["image/jpeg"]})
SKIPPED_EXAMPLES = 20


class RegistrationRunning(ServiceError):
    status = 409
    code = "registration_running"


def bucket_source_create(
    *,
    project: Project,
    user,
    bucket: str,
    prefix: str = "",
    endpoint_url: str = "",
    region: str = "",
    access_key_id: str = "",
    secret_access_key: str = "",
) -> tuple[BucketSource, BucketRegistration]:
    """A new source and its first registration (queued, sent after commit). The endpoint is
    checked first; a refused one is a field error."""
    if reason := endpoint_refusal(endpoint_url):
        raise InvalidFields({"endpoint_url": [f"Refused: {reason}."]})
    if bool(access_key_id) != bool(secret_access_key):
        raise InvalidFields(
            {"secret_access_key": ["Give both the access key id and the secret, or neither."]}
        )
    if BucketSource.objects.filter(
        project=project, endpoint_url=endpoint_url, bucket=bucket, prefix=prefix
    ).exists():
        raise InvalidFields({"prefix": ["This project has this bucket and prefix already."]})
    with transaction.atomic():
        source = BucketSource.objects.create(
            project=project,
            endpoint_url=endpoint_url,
            region=region,
            bucket=bucket,
            prefix=prefix,
            access_key_id=access_key_id,
            secret_access_key=secret_access_key,
            created_by=user,
        )
        registration = BucketRegistration.objects.create(source=source, requested_by=user)
        job_enqueue(registration)
    return source, registration


def bucket_registration_start(*, source: BucketSource, user) -> BucketRegistration:
    """List the source again (new objects become assets; registered ones are left alone)."""
    try:
        with transaction.atomic():
            registration = BucketRegistration.objects.create(source=source, requested_by=user)
            job_enqueue(registration)
    except IntegrityError:
        raise RegistrationRunning(
            "A registration of this source is still running; wait for it."
        ) from None
    return registration


def _name_of(key: str) -> str:
    return key if len(key) <= 255 else "…" + key[-254:]


def _pages(source: BucketSource, out: queue.Queue) -> None:
    """The listing, a page at a time, into `out` (then None, or the error)."""
    try:
        paginator = s3_client(source).get_paginator("list_objects_v2")
        for page in paginator.paginate(
            Bucket=source.bucket,
            Prefix=source.prefix,
            PaginationConfig={"PageSize": settings.BUCKET_LIST_PAGE},
        ):
            out.put(page.get("Contents", []))
        out.put(None)
    except Exception as error:  # handed to the writer, which fails the job saying why
        out.put(error)


def _register_page(
    registration: BucketRegistration, objects: list[dict], skipped: list[dict]
) -> tuple[list[int], list[int]]:
    """Assets (and images' tasks) of one page's new objects; returns the new image and
    video asset ids. One transaction with the job's counters."""
    source = registration.source
    media: dict[str, tuple[dict, object]] = {}
    skipped_here = 0
    for item in objects:
        key = item["Key"]
        kind = BY_SUFFIX.get(PurePosixPath(key).suffix.lower())
        if key.endswith("/") or kind is None:
            skipped_here += 1
            if len(skipped) < SKIPPED_EXAMPLES:
                reason = "a folder marker" if key.endswith("/") else "not an image or a video"
                skipped.append({"key": key, "reason": f"{reason} by its name"})
            continue
        media[key] = (item, kind)
    with transaction.atomic():
        known = set(
            Asset.objects.filter(source=source, object_key__in=list(media)).values_list(
                "object_key", flat=True
            )
        )
        rows = [
            Asset(
                project_id=source.project_id,
                kind=kind.kind,
                source=source,
                object_key=key,
                original_name=_name_of(key),
                sha256="",
                size_bytes=int(item.get("Size") or 0),
                content_type=kind.content_type,
                external_key=str(item.get("ETag") or "").strip('"')[:255],
                state=Asset.State.PENDING,
                uploaded_by=registration.requested_by,
            )
            for key, (item, kind) in media.items()
            if key not in known
        ]
        Asset.objects.bulk_create(rows, batch_size=1000)
        images = [row.pk for row in rows if row.kind == Asset.Kind.IMAGE]
        videos = [row.pk for row in rows if row.kind == Asset.Kind.VIDEO]
        AnnotationTask.objects.bulk_create(
            [
                AnnotationTask(
                    project_id=source.project_id, asset_id=pk, kind=AnnotationTask.Kind.IMAGE
                )
                for pk in images
            ],
            batch_size=1000,
        )
        BucketRegistration.objects.filter(pk=registration.pk).update(
            pages_listed=F("pages_listed") + 1,
            objects_listed=F("objects_listed") + len(objects),
            assets_created=F("assets_created") + len(rows),
            tasks_created=F("tasks_created") + len(images),
            objects_skipped=F("objects_skipped") + skipped_here + len(known),
            skipped_examples=skipped,
        )
        for start in range(0, len(images), settings.BUCKET_DECODE_BATCH):
            enqueue_on_commit(
                "annotate.bucket_decode", images[start : start + settings.BUCKET_DECODE_BATCH]
            )
        for pk in videos:
            enqueue_on_commit("annotate.process_video", pk)
        if images:
            tasks_added(project_id=source.project_id)
    return images, videos


def bucket_register(*, job_id: int) -> BucketRegistration:
    """Run a registration (the Celery task `annotate.bucket_register`). Idempotent: a run
    again after a dead worker registers only the keys not registered yet."""
    if not job_claim(BucketRegistration, job_id):
        return BucketRegistration.objects.get(pk=job_id)
    registration = BucketRegistration.objects.select_related("source").get(pk=job_id)
    source = registration.source
    if reason := endpoint_refusal(source.endpoint_url):
        job_fail(BucketRegistration, job_id, f"The endpoint is refused: {reason}.")
        return BucketRegistration.objects.get(pk=job_id)
    # Counters start again with this attempt (an earlier one's pages are "known" now).
    BucketRegistration.objects.filter(pk=job_id).update(
        pages_listed=0, objects_listed=0, assets_created=0, tasks_created=0, objects_skipped=0
    )
    pages: queue.Queue = queue.Queue(maxsize=2)
    lister = threading.Thread(target=_pages, args=(source, pages), daemon=True)
    lister.start()
    skipped: list[dict] = []
    try:
        while (page := pages.get()) is not None:
            if isinstance(page, Exception):
                raise page
            _register_page(registration, page, skipped)
    except (BotoCoreError, ClientError, BucketUnreadable) as error:
        job_fail(BucketRegistration, job_id, f"Listing s3://{source.bucket} failed: {error}")
    except Exception as error:
        job_fail(BucketRegistration, job_id, f"The registration failed: {error}")
        raise
    else:
        job_finish(BucketRegistration, job_id)
    finally:
        while lister.is_alive():  # unblock a lister waiting to hand over a page
            with contextlib.suppress(queue.Empty):
                pages.get(timeout=0.1)
    return BucketRegistration.objects.get(pk=job_id)


def _decoded(asset: Asset) -> dict:
    """Size, thumbnail and features of a registered image, read from its bucket."""
    data = object_read(asset.source, asset.object_key, max_bytes=settings.MEDIA_MAX_UPLOAD_BYTES)
    processed = image_process(io.BytesIO(data))
    asset.thumbnail.save("thumb.jpg", ContentFile(processed.thumbnail.jpeg), save=False)
    return {
        "width": processed.width,
        "height": processed.height,
        "features": processed.thumbnail.features,
        "thumbnail": asset.thumbnail.name,
        "size_bytes": len(data),
        "state": Asset.State.READY,
        "progress": 1.0,
        "failure_reason": "",
    }


def bucket_decode(*, asset_ids: list[int]) -> int:
    """Decode registered images still pending (the Celery task `annotate.bucket_decode`):
    their size, thumbnail and colour features, as an upload gets them at ingest. Idempotent:
    an asset decoded already is skipped; a redelivery only redoes those not written. An
    object that cannot be read or decoded fails its asset with the reason. Returns how many
    were decoded."""
    assets = list(
        Asset.objects.filter(
            pk__in=asset_ids,
            source__isnull=False,
            kind=Asset.Kind.IMAGE,
            state=Asset.State.PENDING,
        ).select_related("source")
    )
    done = 0
    for asset in assets:
        try:
            values = _decoded(asset)
        except (MediaRejected, BucketUnreadable) as error:
            values = {"state": Asset.State.FAILED, "failure_reason": str(error)[:2000]}
        changed = Asset.objects.filter(pk=asset.pk, state=Asset.State.PENDING).update(**values)
        if not changed and values.get("thumbnail"):
            asset.thumbnail.storage.delete(values["thumbnail"])  # another delivery won
        done += bool(changed) and values["state"] == Asset.State.READY
    if (
        assets
        and not Asset.objects.filter(
            source_id=assets[0].source_id, state=Asset.State.PENDING, kind=Asset.Kind.IMAGE
        ).exists()
    ):
        # The source's last images have their features: coverage can use them now.
        tasks_added(project_id=assets[0].project_id)
    return done
