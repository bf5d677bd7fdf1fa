"""Writes of bucket sources: a source is created with its first registration; a registration
lists the bucket under the prefix a page at a time and makes assets (and an image's task) of
the objects, with the listing's metadata, in one transaction per page; images are decoded
afterwards by workers (size, thumbnail, features: `bucket_decode`), videos go through the
video pipeline, which reads the object from the bucket (annotate.ingest.video).

Nothing is copied: the object stays the asset's media. Nothing is dropped silently either:
an object that is not an image or a video by its name is counted as skipped, with examples.
Listing and writing overlap: threads list key ranges side by side (annotate.buckets.listing)
while this one writes each page with two INSERT statements.
"""

from __future__ import annotations

import contextlib
import io
import logging
import queue
import threading
from concurrent.futures import ThreadPoolExecutor
from pathlib import PurePosixPath

from botocore.exceptions import BotoCoreError, ClientError
from django.conf import settings
from django.core.files.base import ContentFile
from django.db import IntegrityError, connection, transaction
from django.db.models import F

from annotate.bucket_objects import BucketUnreadable, endpoint_refusal, object_read, s3_client
from annotate.buckets.listing import list_in_ranges
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


def _column_defaults(model, given: set[str]) -> tuple[list[str], list[str], list]:
    """The columns of `model` other than its id and `given` (attnames), with what a new row
    holds in them: now() for auto_now_add, else the field's default as Django would save it
    (so a field added later is filled as bulk_create would fill it)."""
    columns, selects, params = [], [], []
    for field in model._meta.concrete_fields:
        if field.primary_key or field.attname in given:
            continue
        columns.append(connection.ops.quote_name(field.column))
        if getattr(field, "auto_now_add", False) or getattr(field, "auto_now", False):
            selects.append("now()")
        else:
            selects.append("%s")
            params.append(field.get_db_prep_save(field.get_default(), connection))
    return columns, selects, params


def _insert_assets(registration: BucketRegistration, media: dict[str, tuple[dict, object]]):
    """Insert one page's objects as assets in one statement (arrays unnested), leaving out
    keys this source has already (the unique (source, object_key) index decides, so a run
    again after a dead worker adds only what is missing). Returns [(id, kind)] of the new."""
    source = registration.source
    given = {
        "project_id": source.project_id,
        "source_id": source.pk,
        "uploaded_by_id": registration.requested_by_id,
        "state": Asset.State.PENDING,
        "sha256": "",
        "progress": 0.0,
    }
    varying = {  # attname: (array type, values)
        "object_key": ("text[]", list(media)),
        "original_name": ("text[]", [_name_of(key) for key in media]),
        "kind": ("text[]", [kind.kind for _item, kind in media.values()]),
        "content_type": ("text[]", [kind.content_type for _item, kind in media.values()]),
        "size_bytes": ("bigint[]", [int(item.get("Size") or 0) for item, _kind in media.values()]),
        "external_key": (
            "text[]",
            [str(item.get("ETag") or "").strip('"')[:255] for item, _kind in media.values()],
        ),
    }
    rest, rest_selects, rest_params = _column_defaults(Asset, set(given) | set(varying))
    quote = connection.ops.quote_name
    fields = {field.attname: field for field in Asset._meta.concrete_fields}
    columns = [quote(fields[name].column) for name in [*given, *varying]] + rest
    selects = ["%s"] * len(given) + [f"v.{name}" for name in varying] + rest_selects
    table = quote(Asset._meta.db_table)
    sql = (
        f"INSERT INTO {table} ({', '.join(columns)}) "  # noqa: S608 (names from the model)
        f"SELECT {', '.join(selects)} FROM unnest("
        + ", ".join(f"%s::{array}" for array, _values in varying.values())
        + f") AS v({', '.join(varying)}) "
        f"ON CONFLICT ({quote('source_id')}, {quote('object_key')}) "
        f"WHERE {quote('source_id')} IS NOT NULL DO NOTHING RETURNING id, kind"
    )
    # The placeholders in order: the constants', the defaults' (SELECT list), the arrays.
    params = [
        *[fields[name].get_db_prep_save(value, connection) for name, value in given.items()],
        *rest_params,
        *[values for _array, values in varying.values()],
    ]
    with connection.cursor() as cursor:
        cursor.execute(sql, params)
        return cursor.fetchall()


def _insert_image_tasks(project_id: int, asset_ids: list[int]) -> None:
    """One image task per new image asset, in one statement."""
    given = {"project_id": project_id, "kind": AnnotationTask.Kind.IMAGE}
    rest, rest_selects, rest_params = _column_defaults(AnnotationTask, {*given, "asset_id"})
    quote = connection.ops.quote_name
    fields = {field.attname: field for field in AnnotationTask._meta.concrete_fields}
    columns = [quote(fields[name].column) for name in [*given, "asset_id"]] + rest
    sql = (
        f"INSERT INTO {quote(AnnotationTask._meta.db_table)} ({', '.join(columns)}) "  # noqa: S608
        f"SELECT %s, %s, v.asset_id, {', '.join(rest_selects)} "
        "FROM unnest(%s::bigint[]) AS v(asset_id)"
    )
    constants = [fields[name].get_db_prep_save(value, connection) for name, value in given.items()]
    with connection.cursor() as cursor:
        cursor.execute(sql, [*constants, *rest_params, asset_ids])


def _register_page(
    registration: BucketRegistration, objects: list[dict], skipped: list[dict]
) -> tuple[list[int], list[int]]:
    """Assets (and images' tasks) of one page's new objects; returns the new image and
    video asset ids. One transaction with the job's counters (the progress display reads
    them), two INSERT statements whatever the page's size."""
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
        created = _insert_assets(registration, media) if media else []
        images = [pk for pk, kind in created if kind == Asset.Kind.IMAGE]
        videos = [pk for pk, kind in created if kind == Asset.Kind.VIDEO]
        if images:
            _insert_image_tasks(registration.source.project_id, images)
        BucketRegistration.objects.filter(pk=registration.pk).update(
            pages_listed=F("pages_listed") + 1,
            objects_listed=F("objects_listed") + len(objects),
            assets_created=F("assets_created") + len(created),
            tasks_created=F("tasks_created") + len(images),
            objects_skipped=F("objects_skipped") + skipped_here + len(media) - len(created),
            skipped_examples=skipped,
        )
        for start in range(0, len(images), settings.BUCKET_DECODE_BATCH):
            enqueue_on_commit(
                "annotate.bucket_decode", images[start : start + settings.BUCKET_DECODE_BATCH]
            )
        for pk in videos:
            enqueue_on_commit("annotate.process_video", pk)
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
    pages: queue.Queue = queue.Queue(maxsize=2 * settings.BUCKET_LIST_WORKERS)
    stop = threading.Event()
    lister = threading.Thread(
        target=list_in_ranges,
        args=(s3_client(source, check=False),),  # checked above
        kwargs={
            "bucket": source.bucket,
            "prefix": source.prefix,
            "page_size": settings.BUCKET_LIST_PAGE,
            "workers": settings.BUCKET_LIST_WORKERS,
            "out": pages,
            "stop": stop,
        },
        daemon=True,
    )
    lister.start()
    skipped: list[dict] = []
    told = False  # the queue hears of new tasks after the first page with images, and at the end
    try:
        while (page := pages.get()) is not None:
            if isinstance(page, Exception):
                raise page
            images, _videos = _register_page(registration, page, skipped)
            if images and not told:
                tasks_added(project_id=source.project_id)
                told = True
    except (BotoCoreError, ClientError, BucketUnreadable) as error:
        job_fail(BucketRegistration, job_id, f"Listing s3://{source.bucket} failed: {error}")
    except Exception as error:
        job_fail(BucketRegistration, job_id, f"The registration failed: {error}")
        raise
    else:
        job_finish(BucketRegistration, job_id)
        if told:
            tasks_added(project_id=source.project_id)
    finally:
        stop.set()
        while lister.is_alive():  # unblock a lister waiting to hand over a page
            with contextlib.suppress(queue.Empty):
                pages.get(timeout=0.1)
    return BucketRegistration.objects.get(pk=job_id)


def _read(asset: Asset) -> bytes | BucketUnreadable:
    try:
        return object_read(
            asset.source, asset.object_key, max_bytes=settings.MEDIA_MAX_UPLOAD_BYTES
        )
    except BucketUnreadable as error:
        return error


def _decoded(asset: Asset, data: bytes) -> dict:
    """Size, thumbnail and features of a registered image, from its object's bytes."""
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
    their size, thumbnail and colour features, as an upload gets them at ingest. The objects
    are read BUCKET_DECODE_READERS at a time (a bucket answers each read after a round trip;
    the decoding waits on none but the first), and the message's assets are written in one
    transaction (one commit, not one per image). Idempotent: an asset decoded already is
    skipped; a redelivery only redoes those not written. An object that cannot be read or
    decoded fails its asset with the reason. Returns how many were decoded."""
    assets = list(
        Asset.objects.filter(
            pk__in=asset_ids,
            source__isnull=False,
            kind=Asset.Kind.IMAGE,
            state=Asset.State.PENDING,
        ).select_related("source")
    )
    done = 0
    readers = max(1, settings.BUCKET_DECODE_READERS)
    with ThreadPoolExecutor(readers) as pool, transaction.atomic():
        # A window of reads ahead of the decoding: at most `readers` objects in memory.
        reads = [pool.submit(_read, asset) for asset in assets[:readers]]
        for index, asset in enumerate(assets):
            if index + readers < len(assets):
                reads.append(pool.submit(_read, assets[index + readers]))
            data = reads[index].result()
            reads[index] = None
            try:
                if isinstance(data, BucketUnreadable):
                    raise data
                values = _decoded(asset, data)
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
