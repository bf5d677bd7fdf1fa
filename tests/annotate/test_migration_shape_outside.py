"""Migration 0008 keeps what stored versions meant: a track used to end at its last stored
row and have nothing where a frame had no row; now a track lasts until an outside keyframe,
so each stretch of stored rows gets keyframes at both ends and an outside keyframe after."""

from __future__ import annotations

import pytest
from django.db import connection
from django.db.migrations.executor import MigrationExecutor

BEFORE = [("annotate", "0007_queue_leases_ledger")]


def migrate(target):
    executor = MigrationExecutor(connection)
    executor.loader.build_graph()
    executor.migrate(target)
    return executor.loader.project_state(target).apps


def migrate_to_the_latest():
    """0008 and every migration after it (of both apps), as the database the other tests
    on this worker expect: migrating annotate back to 0007 also unapplied later ones."""
    executor = MigrationExecutor(connection)
    executor.migrate(executor.loader.graph.leaf_nodes())


@pytest.fixture
def back_to_the_latest():
    yield
    migrate_to_the_latest()


@pytest.mark.django_db(transaction=True)
def test_stored_tracks_end_where_their_rows_end_after_the_migration(back_to_the_latest):
    apps = migrate(BEFORE)
    Project = apps.get_model("annotate", "Project")
    LabelClass = apps.get_model("annotate", "LabelClass")
    Asset = apps.get_model("annotate", "Asset")
    Frame = apps.get_model("annotate", "Frame")
    Task = apps.get_model("annotate", "AnnotationTask")
    Annotation = apps.get_model("annotate", "Annotation")
    Track = apps.get_model("annotate", "Track")
    Box = apps.get_model("annotate", "Box")
    project = Project.objects.create(name="Old", tracks_enabled=True, frame_stride=2)
    person = LabelClass.objects.create(project=project, name="person")
    video = Asset.objects.create(
        project=project, kind="video", file="v.mp4", sha256="0" * 64, state="ready"
    )
    # Extracted frames 0, 2, 4, ... 18 (stride 2): segments 0-8 and 10-18.
    frames = [
        Frame.objects.create(asset=video, index=2 * i, timestamp=i, image=f"{i}.jpg", width=99,
                             height=99)
        for i in range(10)
    ]  # fmt: skip
    first = Task.objects.create(
        project=project, asset=video, kind="video", frame_start=0, frame_end=8, frame_count=5
    )
    second = Task.objects.create(
        project=project, asset=video, kind="video", frame_start=10, frame_end=18, frame_count=5
    )
    track = Track.objects.create(asset=video, number=1, label_class=person)
    old = Annotation.objects.create(task=first, version=1)
    later = Annotation.objects.create(task=second, version=1)

    def row(annotation, i, keyframe=True):
        Box.objects.create(annotation=annotation, frame=frames[i], label_class=person,
                           track=track, x=i, y=0, w=5, h=5, keyframe=keyframe)  # fmt: skip

    # Segment one: frames 0-2 (an interpolated row last), a gap, frame 4 (the segment's last).
    row(old, 0)
    row(old, 1, keyframe=False)
    row(old, 2, keyframe=False)
    row(old, 4)
    # Segment two starts with a row that is not a keyframe (a CVAT file split by segment).
    row(later, 5, keyframe=False)
    row(later, 6)
    Box.objects.create(annotation=old, frame=frames[3], label_class=person, x=1, y=1, w=1, h=1)

    migrate_to_the_latest()
    from annotate.models import Box as NewBox

    def rows(annotation_id):
        return [
            (b.frame.index, b.keyframe, b.outside, b.x)
            for b in NewBox.objects.filter(annotation_id=annotation_id, track__isnull=False)
            .select_related("frame")
            .order_by("frame__index", "id")
        ]

    assert rows(old.pk) == [
        (0, True, False, 0),
        (2, False, False, 1),
        (4, True, False, 2),  # the end of a stretch is a keyframe
        (6, True, True, 2),  # and the next frame an outside one
        (8, True, False, 4),  # the segment's last frame needs none
    ]
    assert rows(later.pk) == [
        (10, True, False, 5),  # a stretch starts with a keyframe
        (12, True, False, 6),
        (14, True, True, 6),
    ]
    assert NewBox.objects.filter(track__isnull=True).count() == 1  # untracked: untouched
