"""Videos: probe at upload and extract frames in a Celery task, both by running the decoder
(annotate/ingest/decoder.py) in a child process with a memory limit (RLIMIT_AS) and a
timeout, so a decoder crash or a runaway file fails that asset and not the worker.

`video_process(asset_id=...)` is the whole job behind the Celery task `annotate.process_video`:
idempotent (a compare-and-set claim; frames, tasks and the READY state are written in one
transaction at the end), progress reported on the Asset row while it runs.
"""

from __future__ import annotations

import ctypes
import ctypes.util
import json
import logging
import os
import posixpath
import resource
import shutil
import signal
import subprocess
import sys
import tempfile
import threading
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path

from django.conf import settings
from django.core.files import File
from django.core.files.base import ContentFile
from django.db import connection, transaction

from annotate.events import tasks_added
from annotate.models import AnnotationTask, Asset, Frame, frame_upload_to

from .images import ImageRejected, image_thumbnail_from_path
from .sniff import MediaRejected

log = logging.getLogger(__name__)

DECODER = Path(__file__).with_name("decoder.py")
FRAME_JPEG_QUALITY = 90
PROBE_TIMEOUT_S = 60
PROGRESS_EVERY_S = 0.5
LOCK_NAMESPACE = 0x766964  # "vid": first key of the advisory lock, the asset id the second


PR_SET_PDEATHSIG = 1
try:
    _libc = ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6", use_errno=True)
except OSError:  # not Linux/glibc: the child just outlives a killed worker
    _libc = None


class VideoRejected(MediaRejected):
    """The video cannot be used; the message is for the person who sent it."""


@dataclass(frozen=True)
class VideoProbe:
    width: int
    height: int
    fps: float | None
    claimed_frames: int | None


def _limits(memory_bytes: int, cpu_seconds: int):
    def apply() -> None:
        # In the child, before exec: cap address space and CPU time; no core dumps; and die
        # with the worker process if that is killed (Linux), so no decoder is left behind.
        resource.setrlimit(resource.RLIMIT_AS, (memory_bytes, memory_bytes))
        resource.setrlimit(resource.RLIMIT_CPU, (cpu_seconds, cpu_seconds + 5))
        resource.setrlimit(resource.RLIMIT_CORE, (0, 0))
        if _libc is not None:
            _libc.prctl(PR_SET_PDEATHSIG, signal.SIGKILL)

    return apply


def _crash_message(returncode: int, stderr: str, *, timed_out: bool, timeout: float) -> str:
    if timed_out:
        return f"Decoding the video took longer than the limit of {timeout:g} s."
    if returncode < 0:
        sig = -returncode
        if sig == signal.SIGXCPU:
            return "Decoding the video used more CPU time than allowed."
        name = signal.Signals(sig).name if sig in signal.Signals._value2member_map_ else sig
        return f"The video decoder crashed ({name}); the file is probably damaged."
    lowered = stderr.lower()
    if "memory" in lowered or "bad_alloc" in lowered or "cannot allocate" in lowered:
        return "Decoding the video needed more memory than allowed."
    return f"The video decoder failed (exit status {returncode}); the file is probably damaged."


def decoder_events(
    args: list[str], *, timeout: float | None = None, memory_bytes: int | None = None
) -> Iterator[dict]:
    """Run the decoder child with limits and yield its JSON events as they come.

    Raises VideoRejected with a human message on a crash, a timeout or an error event.
    """
    timeout = float(timeout or settings.MEDIA_VIDEO_TIMEOUT_S)
    memory_bytes = int(memory_bytes or settings.MEDIA_VIDEO_MEMORY_BYTES)
    process = subprocess.Popen(
        [sys.executable, str(DECODER), *args],
        stdout=subprocess.PIPE,
        stderr=subprocess.PIPE,
        stdin=subprocess.DEVNULL,
        preexec_fn=_limits(memory_bytes, int(timeout) + 1),
        close_fds=True,
        env={**os.environ, "OPENBLAS_NUM_THREADS": "1"},
        text=True,
        bufsize=1,
    )
    timed_out = threading.Event()

    def kill() -> None:
        timed_out.set()
        process.kill()

    watchdog = threading.Timer(timeout, kill)
    watchdog.daemon = True
    watchdog.start()
    stderr_chunks: list[str] = []
    reader = threading.Thread(target=lambda: stderr_chunks.append(process.stderr.read()))
    reader.daemon = True
    reader.start()
    finished = False
    try:
        for line in process.stdout:
            line = line.strip()
            if not line:
                continue
            try:
                event = json.loads(line)
            except ValueError:
                continue  # a library printed to stdout; not ours
            if "error" in event:
                raise VideoRejected(event["error"])
            yield event
        process.wait()
        reader.join(timeout=5)
        if process.returncode != 0 or timed_out.is_set():
            raise VideoRejected(
                _crash_message(
                    process.returncode,
                    "".join(stderr_chunks),
                    timed_out=timed_out.is_set(),
                    timeout=timeout,
                )
            )
        finished = True
    finally:
        watchdog.cancel()
        if not finished and process.poll() is None:
            process.kill()
        process.wait()
        process.stdout.close()


def video_limits() -> tuple[int, float, int, int]:
    """(frames, seconds, width, height): what a video may have, from the settings."""
    return (
        settings.MEDIA_VIDEO_MAX_FRAMES,
        float(settings.MEDIA_VIDEO_MAX_DURATION_S),
        settings.MEDIA_VIDEO_MAX_WIDTH,
        settings.MEDIA_VIDEO_MAX_HEIGHT,
    )


def _check_probe(probe: VideoProbe) -> None:
    """Refuse at upload what the header already shows to be too large; the extraction
    checks again on what it decodes, since a header can understate."""
    max_frames, max_seconds, max_width, max_height = video_limits()
    if probe.width > max_width or probe.height > max_height:
        raise VideoRejected(
            f"The video is {probe.width}x{probe.height} pixels; the limit is "
            f"{max_width}x{max_height}."
        )
    claimed = probe.claimed_frames
    if claimed and claimed > max_frames:
        raise VideoRejected(f"The video has {claimed} frames; the limit is {max_frames}.")
    if claimed and probe.fps and claimed / probe.fps > max_seconds:
        raise VideoRejected(
            f"The video lasts {round(claimed / probe.fps, 1):g} seconds; the limit is "
            f"{max_seconds:g} seconds."
        )


def video_probe(path: str | os.PathLike, *, memory_bytes: int | None = None) -> VideoProbe:
    """Open the video and decode its first frame in a child process, or raise VideoRejected
    (unreadable, or over the resolution, frame-count or duration limits)."""
    timeout = min(PROBE_TIMEOUT_S, settings.MEDIA_VIDEO_TIMEOUT_S)
    for event in decoder_events(["probe", str(path)], timeout=timeout, memory_bytes=memory_bytes):
        if event.get("ok"):
            probe = VideoProbe(
                width=event["width"],
                height=event["height"],
                fps=event.get("fps"),
                claimed_frames=event.get("claimed_frames"),
            )
            _check_probe(probe)
            return probe
        raise VideoRejected(event.get("error") or "The video cannot be read.")
    raise VideoRejected("The video decoder gave no answer.")


class _StagedFile(File):
    """A finished file on local disk: FileSystemStorage moves it instead of copying."""

    def temporary_file_path(self) -> str:
        return self.file.name


@contextmanager
def _local_copy(asset: Asset) -> Iterator[str]:
    """A local path to the asset's file: the file itself on a file-system storage, else a
    temporary download."""
    try:
        path = asset.file.path
    except NotImplementedError:  # a remote storage (S3)
        path = None
    if path is not None:
        yield path
        return
    suffix = Path(asset.file.name).suffix
    with tempfile.NamedTemporaryFile(suffix=suffix) as tmp, asset.file.open("rb") as source:
        shutil.copyfileobj(source, tmp, 1024 * 1024)
        tmp.flush()
        yield tmp.name


def _set_progress(asset_id: int, progress: float) -> None:
    Asset.objects.filter(pk=asset_id, state=Asset.State.PROCESSING).update(
        progress=max(0.0, min(progress, 0.99))
    )


def _fail(asset_id: int, reason: str) -> None:
    Asset.objects.filter(pk=asset_id).exclude(state=Asset.State.READY).update(
        state=Asset.State.FAILED, failure_reason=reason[:2000] or "Processing failed.", progress=0
    )


def _segments(frames: list[Frame], length: int) -> list[tuple[int, int, int]]:
    """(first source index, last source index, frames) per run of `length` extracted frames."""
    out = []
    for start in range(0, len(frames), length):
        chunk = frames[start : start + length]
        out.append((chunk[0].index, chunk[-1].index, len(chunk)))
    return out


def video_process(*, asset_id: int, memory_bytes: int | None = None) -> str:
    """Extract the frames of a pending video asset, then make its segment tasks.

    Returns what happened: "ready", "failed", or "skipped" (already done, gone, failed
    before, or being processed right now by another run).
    """
    with _run_alone(asset_id) as alone:
        if not alone:
            return "skipped"  # another live run has it; a dead one's lock died with it
        return _video_process_claimed(asset_id, memory_bytes)


@contextmanager
def _run_alone(asset_id: int) -> Iterator[bool]:
    """Hold a PostgreSQL session advisory lock on the asset for the run. A duplicate delivery
    finds it taken; a killed worker's connection closes and frees it."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_try_advisory_lock(%s, %s)", [LOCK_NAMESPACE, asset_id])
        taken = cursor.fetchone()[0]
    try:
        yield taken
    finally:
        if taken:
            with connection.cursor() as cursor:
                cursor.execute("SELECT pg_advisory_unlock(%s, %s)", [LOCK_NAMESPACE, asset_id])


def _video_process_claimed(asset_id: int, memory_bytes: int | None) -> str:
    claimed = Asset.objects.filter(
        pk=asset_id,
        kind=Asset.Kind.VIDEO,
        state__in=[Asset.State.PENDING, Asset.State.PROCESSING],
    ).update(state=Asset.State.PROCESSING, progress=0, failure_reason="")
    if not claimed:
        return "skipped"
    asset = Asset.objects.select_related("project").get(pk=asset_id)
    project = asset.project
    stored_names: list[str] = []
    storage = Frame._meta.get_field("image").storage
    _delete_unreferenced_frames(asset)
    try:
        with tempfile.TemporaryDirectory(prefix="frames-") as outdir:
            frames, info = _extract_and_store(asset, outdir, memory_bytes, stored_names)
            thumbnail = _video_thumbnail(outdir, frames)
        if not frames:
            raise VideoRejected("The video contains no frames that can be decoded.")
        fps = info.get("fps")
        frame_total = info["frames"]
        with transaction.atomic():
            # Idempotent re-run (worker lost mid-way): whatever an earlier run left goes.
            Frame.objects.filter(asset=asset).delete()
            AnnotationTask.objects.filter(asset=asset).delete()
            Frame.objects.bulk_create(frames, batch_size=1000)
            AnnotationTask.objects.bulk_create(
                [
                    AnnotationTask(
                        project=project,
                        asset=asset,
                        kind=AnnotationTask.Kind.VIDEO,
                        frame_start=first,
                        frame_end=last,
                        frame_count=count,
                    )
                    for first, last, count in _segments(frames, project.segment_length)
                ]
            )
            fields = {
                "state": Asset.State.READY,
                "progress": 1.0,
                "failure_reason": "",
                "frame_count": frame_total,
                "fps": fps,
                "duration": frame_total / fps if fps else frames[-1].timestamp,
                "width": info.get("w") or frames[0].width,
                "height": info.get("h") or frames[0].height,
            }
            if thumbnail is not None:
                asset.thumbnail.save("thumb.jpg", ContentFile(thumbnail.jpeg), save=False)
                stored_names.append(asset.thumbnail.name)
                fields["thumbnail"] = asset.thumbnail.name
                fields["features"] = thumbnail.features
            updated = Asset.objects.filter(pk=asset_id, state=Asset.State.PROCESSING).update(
                **fields
            )
            if updated != 1:
                raise _LostClaim()
            tasks_added(project_id=project.pk)
        return "ready"
    except _LostClaim:
        _delete_files(storage, stored_names)
        return "skipped"
    except VideoRejected as error:
        _delete_files(storage, stored_names)
        _fail(asset_id, str(error))
        return "failed"
    except Exception as error:
        _delete_files(storage, stored_names)
        log.exception("video %s failed", asset_id)
        _fail(asset_id, f"Processing failed unexpectedly: {type(error).__name__}.")
        raise


def _delete_unreferenced_frames(asset: Asset) -> None:
    """Frame files a killed earlier run stored without ever writing their rows."""
    storage = Frame._meta.get_field("image").storage
    folder = posixpath.dirname(frame_upload_to(Frame(asset=asset), "x.jpg"))
    try:
        _dirs, names = storage.listdir(folder)
    except (FileNotFoundError, NotImplementedError):
        return
    referenced = set(Frame.objects.filter(asset=asset).values_list("image", flat=True))
    orphans = [f"{folder}/{name}" for name in names if f"{folder}/{name}" not in referenced]
    _delete_files(storage, orphans)


class _LostClaim(Exception):
    pass


def _delete_files(storage, names: list[str]) -> None:
    for name in names:
        try:
            storage.delete(name)
        except Exception:  # best effort: the row never pointed at it
            log.warning("could not delete %s", name, exc_info=True)


def _extract_and_store(
    asset: Asset, outdir: str, memory_bytes: int | None, stored_names: list[str]
) -> tuple[list[Frame], dict]:
    """Run the extractor child; move each frame into storage as soon as it is announced,
    so storing overlaps decoding."""
    stride = asset.project.frame_stride
    frames: list[Frame] = []
    info: dict = {}
    storage = Frame._meta.get_field("image").storage
    field = Frame._meta.get_field("image")
    last_progress = time.monotonic()
    keep_first = None
    with _local_copy(asset) as path:
        args = ["extract", path, outdir, str(stride), str(FRAME_JPEG_QUALITY)]
        args += [str(limit) for limit in video_limits()]
        for event in decoder_events(args, memory_bytes=memory_bytes):
            if "frame" in event:
                frame = Frame(
                    asset=asset,
                    index=event["frame"],
                    timestamp=float(event["t"] or 0.0),
                    width=event["w"],
                    height=event["h"],
                )
                local = os.path.join(outdir, event["file"])
                if keep_first is None:
                    # Keep a copy of the first frame for the thumbnail; the move takes it.
                    keep_first = os.path.join(outdir, "first.jpg")
                    shutil.copyfile(local, keep_first)
                name = field.generate_filename(frame, "frame.jpg")
                with open(local, "rb") as handle:
                    frame.image.name = storage.save(name, _StagedFile(handle, name=local))
                stored_names.append(frame.image.name)
                if os.path.exists(local):
                    os.unlink(local)
                frames.append(frame)
            elif "progress" in event:
                now = time.monotonic()
                if now - last_progress >= PROGRESS_EVERY_S:
                    last_progress = now
                    _set_progress(asset.pk, event["progress"])
            elif "done" in event:
                info = event
    return frames, info


def _video_thumbnail(outdir: str, frames: list[Frame]):
    first = os.path.join(outdir, "first.jpg")
    if not frames or not os.path.exists(first):
        return None
    try:
        return image_thumbnail_from_path(first)
    except ImageRejected:
        return None


def video_frames_add(
    *, asset_id: int, indices: set[int] | list[int], memory_bytes: int | None = None
) -> list[int]:
    """Decode and store frames of a ready video that the extraction left out (off the
    project's frame stride) because something needs them: an import that annotates them.
    Creates their Frame rows and images; a frame past its segment's last one widens that
    segment's task to reach it. Returns the indices added. Raises VideoRejected when the
    video cannot be decoded now (or another run holds it)."""
    asset = Asset.objects.get(pk=asset_id)
    if asset.kind != Asset.Kind.VIDEO or asset.state != Asset.State.READY:
        raise VideoRejected("The video is not processed yet.")
    have = set(
        Frame.objects.filter(asset_id=asset_id, index__in=list(indices)).values_list(
            "index", flat=True
        )
    )
    total = asset.frame_count
    wanted = sorted(
        i for i in set(indices) if i >= 0 and i not in have and (not total or i < total)
    )
    if not wanted:
        return []
    storage = Frame._meta.get_field("image").storage
    field = Frame._meta.get_field("image")
    stored_names: list[str] = []
    frames: list[Frame] = []
    with _run_alone(asset_id) as alone:
        if not alone:
            raise VideoRejected("The video is being processed right now; import again later.")
        try:
            with (
                tempfile.TemporaryDirectory(prefix="frames-") as outdir,
                _local_copy(asset) as path,
            ):
                args = ["frames", path, outdir, str(FRAME_JPEG_QUALITY), ",".join(map(str, wanted))]
                for event in decoder_events(args, memory_bytes=memory_bytes):
                    if "frame" not in event:
                        continue
                    frame = Frame(
                        asset=asset,
                        index=event["frame"],
                        timestamp=float(event["t"] or 0.0),
                        width=event["w"],
                        height=event["h"],
                    )
                    local = os.path.join(outdir, event["file"])
                    name = field.generate_filename(frame, "frame.jpg")
                    with open(local, "rb") as handle:
                        frame.image.name = storage.save(name, _StagedFile(handle, name=local))
                    stored_names.append(frame.image.name)
                    frames.append(frame)
            with transaction.atomic():
                Frame.objects.bulk_create(frames, ignore_conflicts=True)
                tasks = list(
                    AnnotationTask.objects.select_for_update()
                    .filter(asset_id=asset_id, kind=AnnotationTask.Kind.VIDEO)
                    .order_by("frame_start")
                )
                for frame in frames:
                    owner = None
                    for task in tasks:
                        if task.frame_start <= frame.index:
                            owner = task
                    if owner is not None and frame.index > owner.frame_end:
                        owner.frame_end = frame.index
                        owner.save(update_fields=["frame_end", "updated_at"])
        except Exception:
            _delete_files(storage, stored_names)
            raise
    kept = set(
        Frame.objects.filter(asset_id=asset_id, image__in=stored_names).values_list(
            "index", flat=True
        )
    )
    # A concurrent run stored the same frame first: its row won, this file is unused.
    _delete_files(storage, [f.image.name for f in frames if f.index not in kept])
    return sorted(kept)
