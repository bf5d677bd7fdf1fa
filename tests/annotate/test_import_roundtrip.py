"""Round trips: export, import into a fresh project as ground truth, export again: the same
bytes, for every format that can be read back."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotate.exchange.importing import import_file
from annotate.exchange.selectors import ExportFilter
from annotate.exchange.services import export_write, import_create, import_run
from annotate.models import Annotation, AnnotationTask, Box, KeypointInstance
from annotate.models.exchange_jobs import ImportJob
from tests.conftest import make_project

from .exchange_builders import fresh_copy, labeled_project


def export(project, format: str) -> bytes:
    out = io.BytesIO()
    export_write(project=project, format=format, export_filter=ExportFilter(), out=out)
    return out.getvalue()


@pytest.fixture
def original(project):
    labeled_project(project)
    return project


@pytest.fixture
def fresh(db):
    project = make_project("Fresh")
    fresh_copy(project)
    return project


@pytest.mark.parametrize("format", ["coco", "yolo", "mot", "cvat"])
def test_export_import_export_gives_the_same_file(original, fresh, pat, format):
    first = export(original, format)
    result = import_file(io.BytesIO(first), project=fresh, format=format, mode="ground_truth")
    assert result.errors == []
    assert export(fresh, format) == first


def test_round_trip_through_the_job_records_an_import_version_and_accepts_tasks(
    original, fresh, pat
):
    first = export(original, "coco")
    job = import_create(
        project=fresh,
        user=pat,
        format="coco",
        upload=SimpleUploadedFile("labels.json", first, content_type="application/json"),
    )
    job = import_run(job_id=job.pk)
    assert job.state == "done", job.error
    assert (job.records_total, job.records_imported, job.records_failed) == (8, 8, 0)
    assert job.tasks_written == 3
    assert set(AnnotationTask.objects.filter(project=fresh).values_list("state", flat=True)) == {
        "accepted"
    }
    versions = Annotation.objects.filter(task__project=fresh)
    assert {(a.kind, a.version, a.author_id) for a in versions} == {("import", 1, pat.pk)}
    assert export(fresh, "coco") == first


def test_video_keypoint_track_survives_the_round_trip_with_its_visibility(original, fresh):
    import_file(
        io.BytesIO(export(original, "coco")), project=fresh, format="coco", mode="ground_truth"
    )
    skeletons = KeypointInstance.objects.filter(
        annotation__task__project=fresh, track__number=1, outside=False
    ).order_by("frame__index")
    assert [k.frame.index for k in skeletons] == [0, 1, 2]
    assert [
        [k.points[name][2] for name in ("left_shoulder", "right_shoulder", "left_hip", "right_hip")]
        for k in skeletons
    ] == [[2, 2, 2, 2], [2, 1, 2, 0], [1, 0, 2, 2]]


def test_cvat_round_trip_keeps_box_and_skeleton_of_one_object_on_one_track(original, fresh):
    import_file(
        io.BytesIO(export(original, "cvat")), project=fresh, format="cvat", mode="ground_truth"
    )
    walker = KeypointInstance.objects.filter(annotation__task__project=fresh, track__number=1)
    boxes = Box.objects.filter(annotation__task__project=fresh, track__number=1)
    # Frames 0-2, then the outside keyframe that ends the track on frame 3.
    assert [(k.frame.index, k.outside) for k in walker.order_by("frame__index")] == [
        (0, False),
        (1, False),
        (2, False),
        (3, True),
    ]
    assert [(b.keyframe, b.outside) for b in boxes.order_by("frame__index")] == [
        (True, False),
        (False, False),
        (True, False),
        (True, True),
    ]


def test_importing_the_same_file_twice_adds_a_version_with_the_same_labels(original, fresh):
    first = export(original, "coco")
    import_file(io.BytesIO(first), project=fresh, format="coco", mode="ground_truth")
    import_file(io.BytesIO(first), project=fresh, format="coco", mode="ground_truth")
    assert sorted(
        Annotation.objects.filter(task__project=fresh).values_list("version", "base_version")
    ) == [(1, None), (1, None), (1, None), (2, 1), (2, 1), (2, 1)]
    assert export(fresh, "coco") == first


def test_running_an_import_job_twice_writes_it_once(original, fresh, pat):
    job = import_create(
        project=fresh,
        user=pat,
        format="coco",
        upload=SimpleUploadedFile("labels.json", export(original, "coco")),
    )
    assert import_run(job_id=job.pk).state == "done"
    assert import_run(job_id=job.pk).state == "done"
    assert Annotation.objects.filter(task__project=fresh).count() == 3
    assert ImportJob.objects.get(pk=job.pk).tasks_written == 3


def test_coco_frames_named_by_folder_and_number_find_their_video(fresh):
    data = {
        "images": [{"id": 7, "file_name": "clips/walk/000002.jpg"}],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [
            {"id": 1, "image_id": 7, "category_id": 1, "bbox": [1, 2, 3, 4], "track_id": 5}
        ],
    }
    result = import_file(
        io.BytesIO(json.dumps(data).encode()), project=fresh, format="coco", mode="ground_truth"
    )
    assert result.errors == []
    box = Box.objects.get(annotation__task__project=fresh, outside=False)
    assert (box.frame.asset.original_name, box.frame.index, box.track.number) == ("walk.mp4", 2, 5)
