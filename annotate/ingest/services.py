"""Ingestion writes: turn uploaded or imported files into Assets, their files and tasks.

    ingest_files(project=..., files=[(name, stream), ...], user=...) -> IngestReport
    ingest_path(project=..., path=..., user=...) -> IngestReport   # a folder or a zip

Each file is handled on its own: it becomes an asset, is reported as a duplicate (same
sha256 in the project), or is refused with a human message. A refused file leaves nothing
behind: stored files are written before the rows and deleted again if the rows fail.
Images are READY at once with one image AnnotationTask; videos are probed, stored PENDING,
and the Celery task `annotate.process_video` is enqueued after commit.
"""

from __future__ import annotations

import hashlib
import logging
import os
import re
import tempfile
import zipfile
import zlib
from collections import deque
from collections.abc import Iterable, Iterator
from concurrent.futures import Future, ThreadPoolExecutor, wait
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from annotate.events import tasks_added
from annotate.jobs import enqueue_on_commit, job_send_now
from annotate.models import AnnotationTask, Asset, Project

from .images import ProcessedImage, image_process
from .sniff import HEAD_BYTES, ZIP, MediaRejected, media_type_of, sniff
from .video import VideoRejected, _StagedFile, video_probe
from .zips import ZipRejected, iter_zip

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
SPOOL_BYTES = 16 * 1024 * 1024
IMAGE_BATCH = 50  # image rows written per transaction
IMAGE_THREADS = 2  # images decoded at once (Pillow releases the GIL)
IMAGES_IN_FLIGHT = 4  # staged images waiting for or in decoding
_CONTROL = re.compile(r"[\x00-\x1f\x7f]")


class IngestError(Exception):
    """Input refused as a whole (a missing path, a refused zip); nothing was stored."""


@dataclass
class FileResult:
    name: str
    status: str  # "created", "duplicate" or "error"
    message: str
    asset_id: int | None = None
    kind: str | None = None
    state: str | None = None


@dataclass
class IngestReport:
    results: list[FileResult] = field(default_factory=list)

    @property
    def created_ids(self) -> list[int]:
        return [r.asset_id for r in self.results if r.status == "created"]

    @property
    def duplicates(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "duplicate"]

    @property
    def errors(self) -> list[FileResult]:
        return [r for r in self.results if r.status == "error"]

    def summary(self) -> str:
        return (
            f"{len(self.created_ids)} created, {len(self.duplicates)} duplicate(s), "
            f"{len(self.errors)} error(s)"
        )

    def as_dict(self) -> dict:
        return {
            "created": len(self.created_ids),
            "duplicates": len(self.duplicates),
            "errors": len(self.errors),
            "results": [asdict(r) for r in self.results],
        }


def _clean_name(name: str) -> str:
    """The name as sent, for display only (escaped by templates; never a path)."""
    return _CONTROL.sub("?", str(name or "unnamed"))[:255]


@dataclass
class _Staged:
    file: BinaryIO
    sha256: str
    size: int
    head: bytes


def _read(stream: BinaryIO) -> bytes:
    try:
        return stream.read(CHUNK)
    except (zipfile.BadZipFile, zlib.error, EOFError, OSError) as error:
        raise MediaRejected(f"The file could not be read ({error}).") from None


def _stage(stream: BinaryIO) -> _Staged:
    """Copy the stream once into a spooled temp file, hashing it on the way."""
    limit = settings.MEDIA_MAX_UPLOAD_BYTES
    spool = tempfile.SpooledTemporaryFile(max_size=SPOOL_BYTES)  # noqa: SIM115 (caller closes)
    digest = hashlib.sha256()
    size = 0
    try:
        while chunk := _read(stream):
            size += len(chunk)
            if size > limit:
                raise MediaRejected(f"The file is larger than the limit of {limit / 1e9:g} GB.")
            digest.update(chunk)
            spool.write(chunk)
        spool.seek(0)
        head = spool.read(HEAD_BYTES)
        spool.seek(0)
    except BaseException:
        spool.close()
        raise
    return _Staged(file=spool, sha256=digest.hexdigest(), size=size, head=head)


def _existing_asset_id(project: Project, sha256: str) -> int | None:
    return Asset.objects.filter(project=project, sha256=sha256).values_list("pk", flat=True).first()


def _duplicate(name: str, asset_id: int) -> FileResult:
    return FileResult(
        name=name,
        status="duplicate",
        message=f"Already in the project as asset {asset_id} (same content); not stored again.",
        asset_id=asset_id,
    )


def _delete_stored(asset: Asset) -> None:
    for field_file in (asset.file, asset.thumbnail):
        if field_file and field_file.name:
            try:
                field_file.storage.delete(field_file.name)
            except Exception:
                log.warning("could not delete %s", field_file.name, exc_info=True)


def _save_rows(asset: Asset, *, make_task: bool) -> FileResult | None:
    """Insert the asset (and its image task); on a duplicate race report the winner."""
    try:
        with transaction.atomic():
            asset.save(force_insert=True)
            if make_task:
                AnnotationTask.objects.create(
                    project_id=asset.project_id, asset=asset, kind=AnnotationTask.Kind.IMAGE
                )
    except IntegrityError:
        _delete_stored(asset)
        existing = _existing_asset_id(asset.project, asset.sha256)
        if existing is None:
            raise
        return _duplicate(asset.original_name, existing)
    except BaseException:
        _delete_stored(asset)
        raise
    return None


class _ImageRows:
    """Rows of stored images, written a batch at a time: one transaction per batch, not per
    image. Results are filled in with asset ids when their batch is written."""

    def __init__(self) -> None:
        self.pending: list[tuple[Asset, FileResult]] = []

    def add(self, asset: Asset, result: FileResult) -> None:
        self.pending.append((asset, result))
        if len(self.pending) >= IMAGE_BATCH:
            self.flush()

    def flush(self) -> None:
        pending, self.pending = self.pending, []
        if pending:
            try:
                with transaction.atomic():
                    Asset.objects.bulk_create([asset for asset, _ in pending])
                    AnnotationTask.objects.bulk_create(
                        [
                            AnnotationTask(
                                project_id=asset.project_id,
                                asset=asset,
                                kind=AnnotationTask.Kind.IMAGE,
                            )
                            for asset, _ in pending
                        ]
                    )
            except IntegrityError:
                # A concurrent upload stored one of these meanwhile: settle them one by one.
                for asset, result in pending:
                    asset.pk = None
                    duplicate = _save_rows(asset, make_task=True)
                    if duplicate:
                        result.status, result.message = duplicate.status, duplicate.message
                        result.kind = result.state = None
                        result.asset_id = duplicate.asset_id
                    else:
                        result.asset_id = asset.pk
            except BaseException:
                for asset, _ in pending:
                    _delete_stored(asset)
                raise
            else:
                for asset, result in pending:
                    result.asset_id = asset.pk

    def discard(self) -> None:
        """Delete the stored files of rows never written (an unexpected error)."""
        for asset, _ in self.pending:
            _delete_stored(asset)
        self.pending = []


def _store_image(
    project, staged: _Staged, media_type, user, processed: ProcessedImage, result: FileResult
) -> Asset:
    """Store the image's files and fill in its result; the row is written by _ImageRows."""
    asset = Asset(
        project=project,
        kind=Asset.Kind.IMAGE,
        original_name=result.name,
        sha256=staged.sha256,
        size_bytes=staged.size,
        content_type=processed.upright_content_type or media_type.content_type,
        width=processed.width,
        height=processed.height,
        features=processed.thumbnail.features,
        state=Asset.State.READY,
        progress=1.0,
        uploaded_by=user,
    )
    try:
        if processed.upright is not None:
            asset.file.save(
                f"image{processed.upright_suffix}", ContentFile(processed.upright), save=False
            )
        else:
            staged.file.seek(0)
            asset.file.save(
                f"image{media_type.suffix}", File(staged.file, name="upload"), save=False
            )
        asset.thumbnail.save("thumb.jpg", ContentFile(processed.thumbnail.jpeg), save=False)
    except BaseException:
        _delete_stored(asset)
        raise
    result.status = "created"
    result.message = f"Image {asset.width}x{asset.height} ready."
    result.kind, result.state = asset.kind, asset.state
    return asset


def _enqueue_video(asset_id: int, result: FileResult) -> None:
    """If the queue is down the asset stays visibly pending (and the periodic job sends it
    again); say so."""

    def not_sent(_error: Exception) -> None:
        result.message = (
            "Video stored, but the task queue is unavailable: it stays pending until it is "
            "queued again."
        )

    enqueue_on_commit("annotate.process_video", asset_id, on_failure=not_sent)


def videos_enqueue_pending(*, project: Project | None = None) -> int:
    """Queue every video still pending or processing again (after the queue was down, or a
    worker died). Safe to repeat: a run already going holds the asset's lock and the other
    delivery skips; a finished one is skipped by its state."""
    videos = Asset.objects.filter(
        kind=Asset.Kind.VIDEO, state__in=[Asset.State.PENDING, Asset.State.PROCESSING]
    )
    if project is not None:
        videos = videos.filter(project=project)
    ids = list(videos.values_list("pk", flat=True))
    for asset_id in ids:
        job_send_now("annotate.process_video", asset_id)
    return len(ids)


def _ingest_video(project, name, staged: _Staged, media_type, user) -> FileResult:
    with tempfile.TemporaryDirectory(prefix="ingest-") as workdir:
        local = os.path.join(workdir, f"video{media_type.suffix}")
        staged.file.seek(0)
        with open(local, "wb") as out:
            while chunk := staged.file.read(CHUNK):
                out.write(chunk)
        probe = video_probe(local)
        asset = Asset(
            project=project,
            kind=Asset.Kind.VIDEO,
            original_name=name,
            sha256=staged.sha256,
            size_bytes=staged.size,
            content_type=media_type.content_type,
            width=probe.width,
            height=probe.height,
            fps=probe.fps,
            state=Asset.State.PENDING,
            progress=0.0,
            uploaded_by=user,
        )
        try:
            with open(local, "rb") as handle:
                asset.file.save(
                    f"video{media_type.suffix}", _StagedFile(handle, name=local), save=False
                )
        except BaseException:
            _delete_stored(asset)
            raise
    duplicate = _save_rows(asset, make_task=False)
    if duplicate:
        return duplicate
    result = FileResult(
        name=name,
        status="created",
        message="Video stored; frames are being extracted.",
        asset_id=asset.pk,
        kind=asset.kind,
        state=asset.state,
    )
    _enqueue_video(asset.pk, result)
    return result


@dataclass
class _InFlight:
    result: FileResult
    staged: _Staged
    media_type: object
    future: Future


class _Run:
    """One ingestion call: the project, the report, the images being decoded on worker
    threads (Pillow releases the GIL), and the image rows not yet written.

    Results keep the order the files came in; an image's slot is filled when its decoding
    is collected, its asset id when its batch of rows is written.
    """

    def __init__(self, project: Project, user) -> None:
        self.project = project
        self.user = user
        self.report = IngestReport()
        self.rows = _ImageRows()
        self.first_with_sha: dict[str, FileResult] = {}
        self.copies: list[tuple[FileResult, FileResult]] = []
        self.in_flight: deque[_InFlight] = deque()
        self.pool = ThreadPoolExecutor(max_workers=IMAGE_THREADS, thread_name_prefix="ingest")

    def add(self, result: FileResult) -> None:
        self.report.results.append(result)

    def zip(self, name: str, source) -> None:
        try:
            for entry_name, stream in iter_zip(source):
                self.stream(f"{name}/{entry_name}", stream, in_zip=True)
        except ZipRejected as error:
            self.add(FileResult(name=name, status="error", message=str(error)))

    def stream(self, name: str, stream: BinaryIO, *, in_zip: bool = False) -> None:
        name = _clean_name(name)
        try:
            staged = _stage(stream)
        except MediaRejected as error:
            self.add(FileResult(name=name, status="error", message=str(error)))
            return
        handed_over = False
        try:
            if sniff(staged.head) == ZIP:
                if in_zip:
                    raise MediaRejected("Archives inside archives are not unpacked.")
                self.zip(name, staged.file)
                return
            media_type = media_type_of(staged.head)
            result = self._duplicate_or_none(name, staged.sha256)
            if result is None:
                if media_type.kind == "image":
                    self._decode_image(name, staged, media_type)
                    handed_over = True
                    return
                result = _ingest_video(self.project, name, staged, media_type, self.user)
                self.first_with_sha[staged.sha256] = result
        except (MediaRejected, VideoRejected) as error:
            result = FileResult(name=name, status="error", message=str(error))
        finally:
            if not handed_over:
                staged.file.close()
        self.add(result)

    def _duplicate_or_none(self, name: str, sha256: str) -> FileResult | None:
        original = self.first_with_sha.get(sha256)
        if original is not None:
            copy = FileResult(name=name, status="duplicate", message="")
            self.copies.append((copy, original))
            return copy
        existing = _existing_asset_id(self.project, sha256)
        return _duplicate(name, existing) if existing is not None else None

    def _decode_image(self, name: str, staged: _Staged, media_type) -> None:
        result = FileResult(name=name, status="created", message="")
        self.add(result)
        self.first_with_sha[staged.sha256] = result
        future = self.pool.submit(image_process, staged.file)
        self.in_flight.append(_InFlight(result, staged, media_type, future))
        self._collect(IMAGES_IN_FLIGHT)

    def _collect(self, keep: int) -> None:
        while len(self.in_flight) > keep:
            item = self.in_flight.popleft()
            try:
                processed = item.future.result()
                asset = _store_image(
                    self.project, item.staged, item.media_type, self.user, processed, item.result
                )
                self.rows.add(asset, item.result)
            except MediaRejected as error:
                item.result.status, item.result.message = "error", str(error)
            finally:
                item.staged.file.close()

    def finish(self) -> None:
        self._collect(0)
        self.rows.flush()
        # Images have their tasks now; a video's come when its frames are extracted.
        if any(r.status == "created" and r.kind == "image" for r in self.report.results):
            tasks_added(project_id=self.project.pk)
        for copy, original in self.copies:
            if original.status == "error":
                copy.status, copy.message = "error", original.message
            else:
                copy.asset_id = original.asset_id
                copy.message = _duplicate(copy.name, original.asset_id).message

    def abandon(self) -> None:
        """An unexpected error: wait for the threads, delete files of rows never written."""
        for item in self.in_flight:
            item.future.cancel()
        wait([item.future for item in self.in_flight])
        for item in self.in_flight:
            item.staged.file.close()
        self.in_flight.clear()
        self.rows.discard()

    def __enter__(self) -> _Run:
        return self

    def __exit__(self, exc_type, exc, tb) -> None:
        try:
            if exc_type is None:
                self.finish()
            else:
                self.abandon()
        except BaseException:
            self.abandon()
            raise
        finally:
            self.pool.shutdown(wait=True)


def ingest_files(
    *, project: Project, files: Iterable[tuple[str, BinaryIO]], user=None
) -> IngestReport:
    """Ingest each (name, stream): images become READY with a task; videos are queued.

    Zip archives among the files are checked as a whole and unpacked (not recursively).
    """
    with _Run(project, user) as run:
        for name, stream in files:
            run.stream(name, stream)
    return run.report


def _folder_files(root: Path, report: IngestReport) -> Iterator[tuple[str, BinaryIO]]:
    for dirpath, dirnames, filenames in os.walk(root, followlinks=False):
        dirnames[:] = sorted(d for d in dirnames if not d.startswith("."))
        for filename in sorted(filenames):
            if filename.startswith("."):
                continue
            path = Path(dirpath) / filename
            shown = str(path.relative_to(root))
            if path.is_symlink():
                report.results.append(
                    FileResult(name=shown, status="error", message="Symbolic links are skipped.")
                )
                continue
            if not path.is_file():
                continue
            with path.open("rb") as handle:
                yield shown, handle


def ingest_path(*, project: Project, path: str | os.PathLike, user=None) -> IngestReport:
    """Ingest every file under a folder, or every entry of a zip file.

    Raises IngestError for a path that does not exist or a zip refused as a whole.
    """
    path = Path(path)
    if not path.exists():
        raise IngestError(f"{path} does not exist.")
    if path.is_dir():
        with _Run(project, user) as run:
            for name, stream in _folder_files(path, run.report):
                run.stream(name, stream)
        return run.report
    if not path.is_file():
        raise IngestError(f"{path} is neither a folder nor a file.")
    with path.open("rb") as handle:
        if sniff(handle.read(HEAD_BYTES)) != ZIP:
            handle.seek(0)
            return ingest_files(project=project, files=[(path.name, handle)], user=user)
        handle.seek(0)
        try:
            with _Run(project, user) as run:
                for entry_name, stream in iter_zip(handle):
                    run.stream(entry_name, stream, in_zip=True)
        except ZipRejected as error:
            raise IngestError(f"{path.name}: {error}") from None
        return run.report
