"""Test media made directly (Pillow images through default_storage plus Asset, Frame and
AnnotationTask rows), so labeling tests do not depend on the ingestion pipeline."""

from __future__ import annotations

import hashlib
import io
import uuid

from django.core.files.base import ContentFile
from django.core.files.storage import default_storage

from annotate.models import AnnotationTask, Asset, Frame, Project, TaskLease
from annotate.queue.priorities import priorities_write_bulk


def _jpeg(width: int, height: int, shade: int) -> bytes:
    from PIL import Image, ImageDraw

    image = Image.new("RGB", (width, height), (40 + shade % 150, 90, 140))
    draw = ImageDraw.Draw(image)
    step = max(width // 16, 8)
    for x in range(0, width, step):
        draw.line([(x, 0), (x, height)], fill=(200, 200, 200), width=1)
    draw.rectangle(
        [width // 4, height // 4, width // 2, height // 2], outline=(255, 255, 0), width=3
    )
    buffer = io.BytesIO()
    image.save(buffer, "JPEG", quality=80)
    return buffer.getvalue()


def _store(path: str, data: bytes) -> str:
    return default_storage.save(path, ContentFile(data))


def image_task(
    project: Project,
    *,
    width: int = 640,
    height: int = 480,
    write_file: bool = True,
    lease_user=None,
    priority: float = 0.0,
) -> AnnotationTask:
    data = _jpeg(width, height, 0) if write_file else uuid.uuid4().bytes
    name = (
        _store(f"projects/{project.pk}/assets/{uuid.uuid4().hex}.jpg", data)
        if write_file
        else f"projects/{project.pk}/assets/{uuid.uuid4().hex}.jpg"
    )
    asset = Asset.objects.create(
        project=project,
        kind=Asset.Kind.IMAGE,
        file=name,
        original_name="street.jpg",
        sha256=hashlib.sha256(data + uuid.uuid4().bytes).hexdigest(),
        size_bytes=len(data),
        content_type="image/jpeg",
        width=width,
        height=height,
        state=Asset.State.READY,
        progress=1.0,
    )
    return _task(project, asset, AnnotationTask.Kind.IMAGE, None, None, 1, lease_user, priority)


def video_task(
    project: Project,
    *,
    frames: int = 3,
    width: int = 640,
    height: int = 360,
    write_file: bool = True,
    lease_user=None,
    priority: float = 0.0,
) -> AnnotationTask:
    asset = Asset.objects.create(
        project=project,
        kind=Asset.Kind.VIDEO,
        file=f"projects/{project.pk}/assets/{uuid.uuid4().hex}.mp4",
        original_name="crossing.mp4",
        sha256=uuid.uuid4().hex * 2,
        size_bytes=1,
        content_type="video/mp4",
        width=width,
        height=height,
        fps=25.0,
        frame_count=frames,
        duration=frames / 25.0,
        state=Asset.State.READY,
        progress=1.0,
    )
    for index in range(frames):
        path = f"projects/{project.pk}/frames/{asset.pk}/{uuid.uuid4().hex}.jpg"
        name = _store(path, _jpeg(width, height, index * 30)) if write_file else path
        Frame.objects.create(
            asset=asset, index=index, timestamp=index / 25.0, image=name, width=width, height=height
        )
    return _task(
        project, asset, AnnotationTask.Kind.VIDEO, 0, frames - 1, frames, lease_user, priority
    )


def _task(project, asset, kind, start, end, count, lease_user, priority) -> AnnotationTask:
    from datetime import timedelta

    from django.utils import timezone

    expires_at = timezone.now() + timedelta(minutes=30) if lease_user else None
    task = AnnotationTask.objects.create(
        project=project,
        asset=asset,
        kind=kind,
        frame_start=start,
        frame_end=end,
        frame_count=count,
        state=(AnnotationTask.State.IN_PROGRESS if lease_user else AnnotationTask.State.PENDING),
        lease_user=lease_user,
        lease_expires_at=expires_at,
    )
    if priority:
        priorities_write_bulk(project=project, priorities=[(task.pk, float(priority))])
    if lease_user is not None:
        # Held as the claim leaves a task: the lease row is what says who holds it.
        TaskLease.objects.create(
            task=task, user=lease_user, expires_at=expires_at, claimed_at=timezone.now()
        )
    return task
