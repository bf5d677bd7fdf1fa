"""Projects with labeled images and a tracked video, built straight with the ORM, for the
export and import tests.

`labeled_project(project)` gives the conftest project (upper-body skeleton: left_shoulder,
right_shoulder, left_hip, right_hip) two accepted images, one submitted image, one image
with only a draft, and an accepted video segment where person track 1 has a box and a
skeleton on frames 0-2 with points visible (2), occluded (1) and not labeled (0), and is
outside from frame 3 on.
"""

from __future__ import annotations

import datetime as dt
import hashlib

from django.utils import timezone

from annotate.models import (
    Annotation,
    AnnotationTask,
    Asset,
    Box,
    Frame,
    KeypointInstance,
    Project,
    Track,
)

NOW = timezone.make_aware(dt.datetime(2026, 11, 20, 12, 0))


def _sha(text: str) -> str:
    return hashlib.sha256(text.encode()).hexdigest()


def make_image_asset(project: Project, name: str, width: int = 640, height: int = 480) -> Asset:
    return Asset.objects.create(
        project=project,
        kind="image",
        file=f"{name}.bin",
        original_name=name,
        sha256=_sha(f"{project.pk}-{name}"),
        content_type="image/jpeg",
        width=width,
        height=height,
        state="ready",
    )


def make_video_asset(project: Project, name: str, frames: int = 6) -> tuple[Asset, list[Frame]]:
    asset = Asset.objects.create(
        project=project,
        kind="video",
        file=f"{name}.bin",
        original_name=name,
        sha256=_sha(f"{project.pk}-{name}"),
        content_type="video/mp4",
        width=320,
        height=240,
        fps=25.0,
        frame_count=frames,
        duration=frames / 25,
        state="ready",
    )
    made = [
        Frame.objects.create(
            asset=asset, index=i, timestamp=i / 25, image=f"f{i}.jpg", width=320, height=240
        )
        for i in range(frames)
    ]
    return asset, made


def image_task(project: Project, asset: Asset, state: str = "pending") -> AnnotationTask:
    return AnnotationTask.objects.create(project=project, asset=asset, kind="image", state=state)


def video_task(project: Project, asset: Asset, start: int, end: int, state="pending"):
    return AnnotationTask.objects.create(
        project=project,
        asset=asset,
        kind="video",
        frame_start=start,
        frame_end=end,
        frame_count=end - start + 1,
        state=state,
    )


def version(task: AnnotationTask, number: int, kind: str, when=NOW) -> Annotation:
    annotation = Annotation.objects.create(task=task, version=number, kind=kind)
    Annotation.objects.filter(pk=annotation.pk).update(created_at=when)
    return annotation


def mark(task: AnnotationTask, state: str, when=NOW) -> None:
    AnnotationTask.objects.filter(pk=task.pk).update(
        state=state,
        submitted_at=when,
        reviewed_at=when if state == "accepted" else None,
    )


def fresh_copy(project: Project) -> dict:
    """The same assets, frames and (pending) tasks as labeled_project made, in `project`."""
    street = make_image_asset(project, "street/a.jpg")
    empty = make_image_asset(project, "b.jpg", 800, 600)
    video, frames = make_video_asset(project, "walk.mp4")
    tasks = {
        "street": image_task(project, street),
        "empty": image_task(project, empty),
        "video": video_task(project, video, 0, 5),
    }
    return {"street": street, "empty": empty, "video": video, "frames": frames, "tasks": tasks}


def labeled_project(project: Project) -> dict:
    person = project.label_classes.get(name="person")
    bicycle = project.label_classes.get(name="bicycle")
    made = fresh_copy(project)
    video, frames = made["video"], made["frames"]
    tasks = made["tasks"]

    # Image "street/a.jpg": v1 draft, v2 submission (exported), v3 a later draft.
    version(tasks["street"], 1, "draft")
    submitted = version(tasks["street"], 2, "submission")
    draft = version(tasks["street"], 3, "draft")
    Box.objects.create(annotation=draft, label_class=person, x=1, y=1, w=5, h=5)
    Box.objects.create(annotation=submitted, label_class=person, x=100.5, y=50.25, w=80, h=200)
    Box.objects.create(annotation=submitted, label_class=bicycle, x=300, y=260, w=120.75, h=90)
    KeypointInstance.objects.create(  # inside the person box: pairs with it
        annotation=submitted,
        label_class=person,
        points={
            "left_shoulder": [120, 80.5, 2],
            "right_shoulder": [160, 82, 2],
            "left_hip": [125, 180, 1],
            "right_hip": [0, 0, 0],
        },
    )
    KeypointInstance.objects.create(  # a second person with a skeleton but no box
        annotation=submitted,
        label_class=person,
        points={
            "left_shoulder": [420, 40, 2],
            "right_shoulder": [470, 42.5, 1],
            "left_hip": [425, 140, 2],
            "right_hip": [468, 139, 2],
        },
    )
    mark(tasks["street"], "accepted")

    # Image "b.jpg": accepted with nothing on it (a negative example).
    version(tasks["empty"], 1, "submission")
    mark(tasks["empty"], "accepted")

    # Image "c.jpg": only a draft; never exported.
    drafty = image_task(project, make_image_asset(project, "c.jpg"), state="in_progress")
    Box.objects.create(
        annotation=version(drafty, 1, "draft"), label_class=person, x=1, y=1, w=9, h=9
    )

    # Image "d.jpg": submitted, waiting for review; exported only with state "submitted".
    waiting = image_task(project, make_image_asset(project, "d.jpg"))
    Box.objects.create(
        annotation=version(waiting, 1, "submission"), label_class=bicycle, x=10, y=10, w=30, h=20
    )
    mark(waiting, "submitted")

    # Video "walk.mp4", frames 0-5 in one segment: person track 1 on frames 0-2 with a box
    # (frame 1 interpolated) and a skeleton whose points change visibility; bicycle track 2 on
    # frames 1-2. Both are outside from frame 3 on (else they would last to the segment's end).
    segment = version(tasks["video"], 1, "submission")
    walker = Track.objects.create(asset=video, number=1, label_class=person)
    rider = Track.objects.create(asset=video, number=2, label_class=bicycle)
    visibility = [(2, 2, 2, 2), (2, 1, 2, 0), (1, 0, 2, 2)]
    for i in range(3):
        Box.objects.create(
            annotation=segment,
            frame=frames[i],
            track=walker,
            label_class=person,
            x=50 + 10 * i,
            y=40,
            w=60,
            h=150,
            keyframe=i != 1,
        )
        names = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]
        points = {}
        for j, name in enumerate(names):
            v = visibility[i][j]
            points[name] = [0, 0, 0] if v == 0 else [60 + 10 * i + 10 * j, 60 + 20 * j, v]
        KeypointInstance.objects.create(
            annotation=segment, frame=frames[i], track=walker, label_class=person, points=points
        )
    for i in (1, 2):
        Box.objects.create(
            annotation=segment,
            frame=frames[i],
            track=rider,
            label_class=bicycle,
            x=200 + 5 * i,
            y=150,
            w=70.5,
            h=40,
        )
    gone = {"annotation": segment, "frame": frames[3], "outside": True}
    Box.objects.create(**gone, track=walker, label_class=person, x=70, y=40, w=60, h=150)
    KeypointInstance.objects.create(**gone, track=walker, label_class=person, points=points)
    Box.objects.create(**gone, track=rider, label_class=bicycle, x=210, y=150, w=70.5, h=40)
    mark(tasks["video"], "accepted")
    made["tasks"].update({"draft": drafty, "waiting": waiting})
    return made
