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
from collections.abc import Iterable, Iterator
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import BinaryIO

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import IntegrityError, transaction

from annotate.models import AnnotationTask, Asset, Project

from .images import image_process
from .sniff import HEAD_BYTES, ZIP, MediaRejected, media_type_of, sniff
from .video import VideoRejected, _StagedFile, video_probe
from .zips import ZipRejected, iter_zip

log = logging.getLogger(__name__)

CHUNK = 1024 * 1024
SPOOL_BYTES = 16 * 1024 * 1024
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


def _ingest_image(project, name, staged: _Staged, media_type, user) -> FileResult:
    processed = image_process(staged.file)
    asset = Asset(
        project=project,
        kind=Asset.Kind.IMAGE,
        original_name=name,
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
    duplicate = _save_rows(asset, make_task=True)
    if duplicate:
        return duplicate
    return FileResult(
        name=name,
        status="created",
        message=f"Image {asset.width}x{asset.height} ready.",
        asset_id=asset.pk,
        kind=asset.kind,
        state=asset.state,
    )


def _enqueue_video(asset_id: int, result: FileResult) -> None:
    """Runs after commit. If the queue is down the asset stays visibly pending; say so."""
    from annotate.tasks import process_video

    try:
        process_video.apply_async(
            (asset_id,),
            retry=True,
            retry_policy={"max_retries": 2, "interval_start": 0.2, "interval_step": 0.5},
        )
    except Exception:
        log.exception("could not enqueue video %s", asset_id)
        result.message = (
            "Video stored, but the task queue is unavailable: it stays pending until it is "
            "queued again."
        )


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
    transaction.on_commit(lambda: _enqueue_video(asset.pk, result))
    return result


def _ingest_zip(project, name, source, user, report: IngestReport) -> None:
    try:
        for entry_name, stream in iter_zip(source):
            _ingest_stream(project, f"{name}/{entry_name}", stream, user, report, in_zip=True)
    except ZipRejected as error:
        report.results.append(FileResult(name=name, status="error", message=str(error)))


def _ingest_stream(project, name, stream, user, report: IngestReport, *, in_zip=False) -> None:
    name = _clean_name(name)
    try:
        staged = _stage(stream)
    except MediaRejected as error:
        report.results.append(FileResult(name=name, status="error", message=str(error)))
        return
    with staged.file:
        try:
            if sniff(staged.head) == ZIP:
                if in_zip:
                    raise MediaRejected("Archives inside archives are not unpacked.")
                _ingest_zip(project, name, staged.file, user, report)
                return
            media_type = media_type_of(staged.head)
            existing = _existing_asset_id(project, staged.sha256)
            if existing is not None:
                report.results.append(_duplicate(name, existing))
                return
            if media_type.kind == "image":
                result = _ingest_image(project, name, staged, media_type, user)
            else:
                result = _ingest_video(project, name, staged, media_type, user)
        except (MediaRejected, VideoRejected) as error:
            result = FileResult(name=name, status="error", message=str(error))
        report.results.append(result)


def ingest_files(
    *, project: Project, files: Iterable[tuple[str, BinaryIO]], user=None
) -> IngestReport:
    """Ingest each (name, stream): images become READY with a task; videos are queued.

    Zip archives among the files are checked as a whole and unpacked (not recursively).
    """
    report = IngestReport()
    for name, stream in files:
        _ingest_stream(project, name, stream, user, report)
    return report


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
        report = IngestReport()
        for name, stream in _folder_files(path, report):
            _ingest_stream(project, name, stream, user, report)
        return report
    if not path.is_file():
        raise IngestError(f"{path} is neither a folder nor a file.")
    with path.open("rb") as handle:
        if sniff(handle.read(HEAD_BYTES)) != ZIP:
            handle.seek(0)
            return ingest_files(project=project, files=[(path.name, handle)], user=user)
        handle.seek(0)
        report = IngestReport()
        try:
            for entry_name, stream in iter_zip(handle):
                _ingest_stream(project, entry_name, stream, user, report, in_zip=True)
        except ZipRejected as error:
            raise IngestError(f"{path.name}: {error}") from None
        return report
