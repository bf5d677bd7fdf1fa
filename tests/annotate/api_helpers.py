"""Small builders of assets, tasks and annotations for the API, admin and selector tests.

Rows are made directly (no media files): these tests are about access and shapes, not ingest.
"""

from __future__ import annotations

import itertools

from django.contrib.auth.models import User

from annotate.models import (
    Annotation,
    AnnotationTask,
    Asset,
    Box,
    Frame,
    KeypointInstance,
    Membership,
    Project,
    Track,
)
from annotate.queue.priorities import priorities_write_bulk
from tests.conftest import make_user

_numbers = itertools.count(1)


def make_asset(project: Project, *, kind: str = "image", state: str = "ready", **extra) -> Asset:
    n = next(_numbers)
    fields = {
        "project": project,
        "kind": kind,
        "file": f"projects/{project.id}/assets/{n:08d}.jpg",
        "original_name": f"photo-{n}.jpg",
        "sha256": f"{n:064x}",
        "content_type": "image/jpeg" if kind == "image" else "video/mp4",
        "width": 640,
        "height": 480,
        "state": state,
    }
    if state == "failed":
        fields["failure_reason"] = "The file is not an image."
    if kind == "video":
        fields.update(fps=25.0, frame_count=20, duration=0.8)
    fields.update(extra)
    return Asset.objects.create(**fields)


def make_frames(asset: Asset, count: int = 3) -> list[Frame]:
    return [
        Frame.objects.create(
            asset=asset,
            index=i,
            timestamp=i / 25,
            image=f"projects/{asset.project_id}/frames/{asset.id}/{i}.jpg",
            width=640,
            height=480,
        )
        for i in range(count)
    ]


def make_task(
    project: Project,
    *,
    annotator: User | None = None,
    state: str = "pending",
    priority: float = 0.0,
    asset: Asset | None = None,
    frames: int | None = None,
) -> AnnotationTask:
    """An image task, or a video segment of `frames` frames when `frames` is given, at
    `priority` in the queue."""
    if frames is None:
        asset = asset or make_asset(project)
        task = AnnotationTask.objects.create(
            project=project, asset=asset, kind="image", annotator=annotator, state=state
        )
    else:
        asset = asset or make_asset(project, kind="video")
        start = next(_numbers) * 1000
        task = AnnotationTask.objects.create(
            project=project,
            asset=asset,
            kind="video",
            frame_start=start,
            frame_end=start + frames - 1,
            frame_count=frames,
            annotator=annotator,
            state=state,
        )
    if priority:
        priorities_write_bulk(project=project, priorities=[(task.pk, float(priority))])
    task.priority = float(priority)
    return task


def make_annotation(
    task: AnnotationTask, *, author: User | None = None, version: int = 1, boxes: int = 2
) -> Annotation:
    """A version with `boxes` boxes (the second on a track) and one keypoint skeleton."""
    annotation = Annotation.objects.create(
        task=task,
        author=author,
        version=version,
        base_version=version - 1 or None,
        kind="submission",
    )
    label_class = task.project.label_classes.order_by("order").first()
    track, _ = Track.objects.get_or_create(
        asset=task.asset, number=1, defaults={"label_class": label_class}
    )
    for i in range(boxes):
        Box.objects.create(
            annotation=annotation,
            label_class=label_class,
            track=track if i == 1 else None,
            x=10 * i,
            y=5,
            w=20,
            h=30,
        )
    KeypointInstance.objects.create(
        annotation=annotation,
        label_class=label_class,
        track=track,
        points={"left_shoulder": [1, 2, 2], "right_shoulder": [3, 4, 1]},
    )
    return annotation


def add_member(project: Project, username: str, role: str = "annotator") -> User:
    user = make_user(username)
    Membership.objects.create(project=project, user=user, role=role)
    return user
