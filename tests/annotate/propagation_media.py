"""A real small video for the propagation tests: textured patches moving with known speed
(tests/annotate/moving_textures.py), written as an MJPG AVI and taken in by the real ingest
(probe, frames decoded by the sandboxed decoder, segment tasks), run in this process."""

from __future__ import annotations

import io
from datetime import timedelta
from pathlib import Path

import cv2
from django.utils import timezone

from annotate.ingest.services import ingest_files
from annotate.ingest.video import video_process
from annotate.models import Annotation, AnnotationTask, Asset, Frame, TaskLease
from annotate.services.annotations import annotation_save
from tests.annotate.moving_textures import Sprite, render

WIDTH, HEIGHT = 320, 240
# Two players: one walks right, one walks down-left. Keypoints at fixed places on them.
SPRITES = [
    Sprite(x=40, y=60, width=56, height=80, velocity=(2.5, 0.6), seed=11),
    Sprite(x=220, y=40, width=48, height=64, velocity=(-1.5, 1.8), seed=12),
]
LAYOUT = {"left_shoulder": (0.25, 0.25), "right_shoulder": (0.75, 0.25),
          "left_hip": (0.3, 0.7), "right_hip": (0.7, 0.7)}  # fmt: skip


# Walks up with the first player, in front of its left hip from frame 6 on (a small part of
# its box, away from its other keypoints).
PASSER = Sprite(x=50, y=170, width=14, height=24, velocity=(2.5, -8.0), seed=13)


def video_project_task(
    project, tmp_path: Path, monkeypatch, *, frames: int = 20, replaced=None, passer=False
):
    """Ingest the video into `project` (stride 1, segments of the project's length) and
    return its segment tasks, first first. `replaced`: see moving_textures.render; `passer`:
    PASSER walks through too."""
    sprites = [*SPRITES, PASSER] if passer else SPRITES
    images = render(sprites, frames, size=(WIDTH, HEIGHT), replaced=replaced)
    path = tmp_path / "players.avi"
    writer = cv2.VideoWriter(str(path), cv2.VideoWriter_fourcc(*"MJPG"), 10.0, (WIDTH, HEIGHT))
    assert writer.isOpened()
    for image in images:
        writer.write(cv2.cvtColor(image, cv2.COLOR_GRAY2BGR))
    writer.release()
    monkeypatch.setattr("annotate.ingest.services._enqueue_video", lambda *args: None)
    report = ingest_files(project=project, files=[("players.avi", io.BytesIO(path.read_bytes()))])
    asset = Asset.objects.get(pk=report.created_ids[0])
    assert video_process(asset_id=asset.pk) == "ready"
    return list(AnnotationTask.objects.filter(asset=asset).order_by("frame_start"))


def hold(task: AnnotationTask, user) -> None:
    """`user` holds the task, as the queue's claim leaves it."""
    expires = timezone.now() + timedelta(minutes=30)
    AnnotationTask.objects.filter(pk=task.pk).update(
        state=AnnotationTask.State.IN_PROGRESS, lease_user=user, lease_expires_at=expires
    )
    TaskLease.objects.create(task=task, user=user, expires_at=expires, claimed_at=timezone.now())


def frame_ids(task: AnnotationTask) -> dict[int, int]:
    """Source frame index -> frame id, for the task's video."""
    return dict(Frame.objects.filter(asset_id=task.asset_id).values_list("index", "id"))


def box_shape(frame_id: int, box, *, track: int = 1, label: str = "person", **extra) -> dict:
    x, y, w, h = box
    return {"frame": frame_id, "label": label, "track": track, "x": x, "y": y, "w": w, "h": h,
            "keyframe": True, "source": "human", "confidence": None, **extra}  # fmt: skip


def skeleton_shape(frame_id: int, points: dict, *, track: int = 1, **extra) -> dict:
    return {"frame": frame_id, "label": "person", "track": track, "keyframe": True,
            "source": "human", "confidence": None,
            "points": {n: [x, y, 2] for n, (x, y) in points.items()}, **extra}  # fmt: skip


def sprite_points(sprite: Sprite, frame: int) -> dict[str, tuple[float, float]]:
    return {name: sprite.point(frame, u, v) for name, (u, v) in LAYOUT.items()}


def save(task, user, *, boxes=(), keypoints=(), tracks=None, base=None) -> Annotation:
    numbers = {s["track"] for s in [*boxes, *keypoints] if s["track"] is not None}
    payload = {
        "tracks": tracks or [{"number": n, "label": "person"} for n in sorted(numbers)],
        "boxes": list(boxes),
        "keypoints": list(keypoints),
    }
    return annotation_save(task=task, user=user, payload=payload, base_version=base)
