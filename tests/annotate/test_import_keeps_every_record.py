"""Migrating from CVAT or Label Studio loses nothing: every annotated frame is kept (frames off
the project's stride are decoded for the import), what cannot be stored is said per record
and in a summary, track ids are mapped, and one person's box and skeleton tracks stay one."""

from __future__ import annotations

import io
import json

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotate.exchange.importing import ImportRefused, import_file
from annotate.exchange.services import import_create, import_run
from annotate.ingest.services import ingest_files
from annotate.ingest.video import video_process
from annotate.models import AnnotationTask, Asset, Box, Frame, KeypointInstance, Track

from .cvat_files import box, cvat_video, skeleton, track
from .exchange_builders import fresh_copy, make_video_asset, video_task
from .ingest_media import video_bytes

pytestmark = pytest.mark.django_db


def load(project, data: bytes, format="cvat", **kw):
    return import_file(io.BytesIO(data), project=project, format=format, mode="ground_truth", **kw)


def refused(project, data: bytes, format="cvat", **kw) -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        load(project, data, format, **kw)
    return caught.value


@pytest.fixture
def fresh(project):
    return fresh_copy(project)


@pytest.fixture
def strided_video(project, media_root, tmp_path, monkeypatch):
    """A real 35-frame video (64x48) in a project that extracts every 4th frame."""
    project.frame_stride = 4
    project.save(update_fields=["frame_stride"])
    monkeypatch.setattr("annotate.ingest.services._enqueue_video", lambda *args: None)
    data = video_bytes(tmp_path, name="walk.avi", frames=35, fps=10.0, size=(64, 48))
    report = ingest_files(project=project, files=[("walk.avi", io.BytesIO(data))])
    asset = Asset.objects.get(pk=report.created_ids[0])
    assert video_process(asset_id=asset.pk) == "ready"
    assert Frame.objects.filter(asset=asset).count() == 9  # 0, 4, ..., 32
    return asset


def test_a_cvat_video_annotated_on_every_frame_keeps_all_35_records(project, strided_video):
    shapes = [box(i, 1 + i, 2, 20, 20) for i in range(35)]
    data = cvat_video([track(0, "person", shapes)], name="Crossing", source="walk.avi")

    result = load(project, data)

    assert result.errors == []
    assert (result.records_total, result.records_imported) == (35, 35)
    frames = Frame.objects.filter(asset=strided_video).order_by("index")
    assert [f.index for f in frames] == list(range(35))
    assert all(f.image.storage.exists(f.image.name) for f in frames)
    stored = Box.objects.filter(frame__asset=strided_video).order_by("frame__index")
    assert [b.frame.index for b in stored] == list(range(35))
    assert [b.x for b in stored] == [1.0 + i for i in range(35)]
    # Frames 33 and 34 lay past the last extracted frame (32): its task now reaches them.
    tasks = AnnotationTask.objects.filter(asset=strided_video)
    assert [(t.frame_start, t.frame_end) for t in tasks] == [(0, 34)]


def test_a_frame_the_video_does_not_have_is_reported_as_a_missing_frame(project, strided_video):
    data = cvat_video(
        [track(0, "person", [box(3, 1, 1), box(40, 1, 1)])], name="x", source="walk.avi"
    )

    result = load(project, data, skip_invalid=True)

    assert result.records_imported == 1
    assert result.errors == [
        {
            "record": "annotations.xml track 0 frame 40",
            "message": "Video 'walk.avi' has no frame 40: it has 35 frames.",
            "kind": "frame",
        }
    ]
    assert {"kind": "frame", "count": 1, "message": "1 record(s) not imported: frames the "
            "video does not have."} in result.summary  # fmt: skip


def test_a_task_whose_name_is_not_its_source_file_is_matched_by_the_source(project, fresh):
    data = cvat_video(
        [track(0, "person", [box(0, 5, 5), box(1, 6, 5, outside=1)])],
        name="Crossing at dawn",
        source="walk.mp4",
    )

    result = load(project, data)

    assert result.errors == []
    assert Box.objects.filter(frame__asset=fresh["video"], outside=False).count() == 1


def test_an_unknown_video_names_both_the_source_and_the_task_name(project, fresh):
    data = cvat_video([track(0, "person", [box(0, 5, 5)])], name="Crossing", source="run.mp4")

    error = refused(project, data)

    assert "Unknown image 'run.mp4' or 'Crossing'" in error.errors[0]["message"]


def test_cvat_polygons_under_skip_invalid_are_reported_per_record_and_in_the_summary(
    project, fresh
):
    polygon = '<polygon frame="0" keyframe="1" outside="0" occluded="0" points="1,1;5,1;5,5"/>'
    data = cvat_video(
        [
            track(0, "person", [box(0, 5, 5), box(1, 6, 5)]),
            track(1, "person", [polygon, polygon.replace('frame="0"', 'frame="1"')]),
        ],
        name="walk.mp4",
    )

    result = load(project, data, skip_invalid=True)

    assert result.records_imported == 2
    assert [(e["record"], e.get("kind")) for e in result.errors] == [
        ("annotations.xml track 1 frame 0", "polygon"),
        ("annotations.xml track 1 frame 1", "polygon"),
    ]
    assert "A CVAT polygon cannot be stored" in result.errors[0]["message"]
    assert result.summary == [
        {"kind": "polygon", "count": 2, "message": "2 record(s) not imported: polygons."}
    ]


def test_the_import_job_keeps_the_summary_and_the_warnings(project, fresh, pat):
    polygon = '<polygon frame="0" keyframe="1" outside="0" occluded="0" points="1,1;5,1;5,5"/>'
    data = cvat_video(
        [
            track(0, "person", [box(0, 5, 5, attributes={"helmet": "true"})]),
            track(1, "person", [polygon]),
        ],
        name="walk.mp4",
    )
    job = import_create(
        project=project,
        user=pat,
        format="cvat",
        skip_invalid=True,
        upload=SimpleUploadedFile("walk.xml", data, content_type="application/xml"),
    )

    job = import_run(job_id=job.pk)

    assert job.state == "done", job.error
    assert (job.records_total, job.records_imported, job.records_failed) == (2, 1, 1)
    assert [w["kind"] for w in job.warnings] == ["attribute"]
    assert "'helmet'" in job.warnings[0]["message"]
    assert [(line["kind"], line["count"]) for line in job.summary] == [
        ("polygon", 1),
        ("attribute", 1),
    ]


def test_an_iscrowd_rle_region_is_refused_not_imported_as_a_box(project, fresh):
    image = {"id": 1, "file_name": "street/a.jpg", "width": 640, "height": 480}
    crowd = {
        "id": 4,
        "image_id": 1,
        "category_id": 1,
        "bbox": [10, 10, 100, 50],
        "iscrowd": 1,
        "segmentation": {"size": [480, 640], "counts": "abc"},
    }
    single = {"id": 5, "image_id": 1, "category_id": 1, "bbox": [1, 1, 5, 5], "iscrowd": 0}
    data = json.dumps(
        {
            "images": [image],
            "annotations": [crowd, single],
            "categories": [{"id": 1, "name": "person"}],
        }
    ).encode()

    result = load(project, data, "coco", skip_invalid=True)

    assert [(e["record"], e.get("kind")) for e in result.errors] == [("annotation id 4", "rle")]
    assert list(Box.objects.values_list("x", "w")) == [(1.0, 5.0)]


def test_a_coco_polygon_segmentation_is_said_to_be_dropped_while_its_box_is_kept(project, fresh):
    data = json.dumps(
        {
            "images": [{"id": 1, "file_name": "street/a.jpg", "width": 640, "height": 480}],
            "annotations": [
                {
                    "id": 5,
                    "image_id": 1,
                    "category_id": 1,
                    "bbox": [1, 1, 5, 5],
                    "segmentation": [[1, 1, 6, 1, 6, 6]],
                }
            ],
            "categories": [{"id": 1, "name": "person"}],
        }
    ).encode()

    result = load(project, data, "coco")

    assert result.errors == []
    assert [(w["record"], w["kind"]) for w in result.warnings] == [("annotation id 5", "polygon")]
    assert Box.objects.count() == 1


def test_box_attributes_the_class_does_not_have_are_reported_not_dropped_silently(project, fresh):
    data = cvat_video(
        [track(0, "person", [box(0, 5, 5, occluded=1, attributes={"helmet": "true"})])],
        name="walk.mp4",
    )

    result = load(project, data)

    assert result.errors == []
    assert len(result.warnings) == 1
    assert result.warnings[0]["record"] == "annotations.xml track 0 frame 0"
    assert "'helmet'" in result.warnings[0]["message"]
    assert "person" in result.warnings[0]["message"]
    stored = Box.objects.get(outside=False)
    assert stored.occluded is True  # the occluded flag is kept as CVAT has it


def test_a_cvat_track_id_0_is_mapped_to_a_track_number_from_1(project, fresh):
    data = cvat_video([track(0, "person", [box(0, 5, 5), box(2, 7, 5)])], name="walk.mp4")

    load(project, data)

    assert list(Track.objects.filter(asset=fresh["video"]).values_list("number", flat=True)) == [1]


def test_track_ids_another_segment_uses_are_not_taken_over(project, fresh):
    video, frames = make_video_asset(project, "long.mp4", frames=12)
    first, _second = video_task(project, video, 0, 5), video_task(project, video, 6, 11)
    data = cvat_video([track(1, "person", [box(0, 5, 5)])], name="long.mp4")
    load(project, data)  # track 1 now labels the first segment
    assert Track.objects.get(asset=video).number == 1
    other = cvat_video([track(1, "person", [box(7, 5, 5)])], name="long.mp4")

    # The file names only the second segment: its track 1 is another object.
    load(project, other)

    numbers = Box.objects.filter(frame__asset=video).values_list(
        "annotation__task_id", "track__number"
    )
    assert sorted(numbers) == [(first.pk, 1), (_second.pk, 2)]


def test_a_box_track_and_a_skeleton_track_of_one_person_become_one_track(project, fresh):
    points = {"left_shoulder": (12, 12), "right_shoulder": (20, 12), "left_hip": (13, 25)}
    moved = {name: (x + 4, y) for name, (x, y) in points.items()}
    stranger = {name: (x + 200, y) for name, (x, y) in points.items()}
    data = cvat_video(
        [
            track(0, "person", [box(0, 10, 10, 15, 20), box(1, 14, 10, 15, 20)]),
            track(1, "person", [box(0, 200, 10, 25, 20)]),
            track(2, "person", [skeleton(0, points), skeleton(1, moved)]),
            track(3, "person", [skeleton(0, stranger)]),
        ],
        name="walk.mp4",
    )

    load(project, data)

    boxes = Box.objects.filter(outside=False)
    skeletons = KeypointInstance.objects.filter(outside=False)
    near = {b.track.number for b in boxes if b.x < 100}
    far = {b.track.number for b in boxes if b.x >= 100}
    assert len(near) == len(far) == 1 and near != far
    assert {k.track.number for k in skeletons if k.points["left_shoulder"][0] < 100} == near
    assert {k.track.number for k in skeletons if k.points["left_shoulder"][0] >= 100} == far
    assert Track.objects.filter(asset=fresh["video"]).count() == 2
