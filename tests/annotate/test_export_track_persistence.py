"""Exports write a track wherever its keyframes say it is (annotate.track_shapes): on every
frame after its last keyframe to the end of the segment, nowhere from an outside keyframe to
the next keyframe; CVAT files carry outside both ways."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile

import pytest

from annotate.exchange.importing import import_file
from annotate.models import Box, KeypointInstance, Track

from .exchange_builders import fresh_copy, mark, version
from .test_export_formats import export


@pytest.fixture
def walk(project):
    """walk.mp4, frames 0-5 in one accepted segment: person track 1 with keyframes on frames
    0 (x 0) and 2 (x 20), outside on frame 3, back on frame 4 (x 40) and never closed; its
    skeleton from frame 1 on, outside on frame 3 too."""
    made = fresh_copy(project)
    person = project.label_classes.get(name="person")
    frames = made["frames"]
    segment = version(made["tasks"]["video"], 1, "submission")
    track = Track.objects.create(asset=made["video"], number=1, label_class=person)
    common = {"annotation": segment, "track": track, "label_class": person}
    for i, x, outside in ((0, 0, False), (2, 20, False), (3, 20, True), (4, 40, False)):
        Box.objects.create(**common, frame=frames[i], x=x, y=10, w=30, h=60, outside=outside)
    points = {n: [15, 20 + 10 * j, 2] for j, n in enumerate(project.keypoint_names)}
    for i, outside in ((1, False), (3, True), (4, False)):
        KeypointInstance.objects.create(**common, frame=frames[i], points=points, outside=outside)
    mark(made["tasks"]["video"], "accepted")
    return made


def mot_lines(project) -> list[str]:
    with zipfile.ZipFile(io.BytesIO(export(project, "mot"))) as z:
        return z.read("walk/gt/gt.txt").decode().splitlines()


def test_mot_writes_interpolated_frames_nothing_while_outside_and_the_rest_of_the_segment(
    project, walk
):
    assert mot_lines(project) == [
        "1,1,0,10,30,60,1,1,1",
        "2,1,10,10,30,60,1,1,1",
        "3,1,20,10,30,60,1,1,1",
        # frame 4 (index 3): outside
        "5,1,40,10,30,60,1,1,1",
        "6,1,40,10,30,60,1,1,1",
    ]


def test_coco_video_frames_hold_the_track_where_it_is_present(project, walk):
    coco = json.loads(export(project, "coco"))
    frame_of = {i["id"]: i["frame_index"] for i in coco["images"] if "frame_index" in i}
    tracked = [a for a in coco["annotations"] if a.get("track_id") == 1]
    assert sorted(frame_of[a["image_id"]] for a in tracked) == [0, 1, 2, 4, 5]
    # The skeleton (from frame 1 on) pairs with the box wherever both are present.
    with_points = sorted(frame_of[a["image_id"]] for a in tracked if a["num_keypoints"])
    assert with_points == [1, 2, 4, 5]


def test_yolo_leaves_an_outside_frame_empty(project, walk):
    with zipfile.ZipFile(io.BytesIO(export(project, "yolo"))) as z:
        lines = {i: z.read(f"labels/walk/{i:06d}.txt").decode().splitlines() for i in range(6)}
    assert [len(lines[i]) for i in range(6)] == [1, 1, 1, 0, 1, 1]


def test_cvat_writes_outside_where_the_track_goes_and_a_keyframe_where_it_comes_back(project, walk):
    with zipfile.ZipFile(io.BytesIO(export(project, "cvat"))) as z:
        root = ET.fromstring(z.read("walk.xml"))
    boxes = root.findall("track")[0].findall("box")
    assert [(b.get("frame"), b.get("keyframe"), b.get("outside"), b.get("xtl")) for b in boxes] == [
        ("0", "1", "0", "0.00"),
        ("1", "0", "0", "10.00"),
        ("2", "1", "0", "20.00"),
        ("3", "1", "1", "20.00"),
        ("4", "1", "0", "40.00"),
        ("5", "0", "0", "40.00"),
    ]


def test_a_cvat_file_with_keyframes_and_outside_only_imports_as_that_track(project):
    made = fresh_copy(project)
    xml = b"""<?xml version="1.0"?><annotations><version>1.1</version>
    <meta><task><name>walk.mp4</name></task></meta>
    <track id="3" label="person" source="manual">
      <box frame="0" keyframe="1" outside="0" occluded="0" xtl="0" ytl="0" xbr="10" ybr="10"/>
      <box frame="2" keyframe="1" outside="0" occluded="0" xtl="20" ytl="0" xbr="30" ybr="10"/>
      <box frame="4" keyframe="1" outside="1" occluded="0" xtl="20" ytl="0" xbr="30" ybr="10"/>
    </track></annotations>"""
    result = import_file(io.BytesIO(xml), project=project, format="cvat", mode="ground_truth")
    assert result.errors == []
    rows = Box.objects.filter(annotation__task=made["tasks"]["video"]).order_by("frame__index")
    assert [(b.frame.index, b.keyframe, b.outside) for b in rows] == [
        (0, True, False),
        (2, True, False),
        (4, True, True),
    ]
    mark(made["tasks"]["video"], "accepted")
    assert mot_lines(project) == [
        "1,3,0,0,10,10,1,1,1",
        "2,3,10,0,10,10,1,1,1",
        "3,3,20,0,10,10,1,1,1",
        "4,3,20,0,10,10,1,1,1",
    ]


def test_a_mot_track_that_ends_before_the_segment_does_ends_there_after_import(project):
    fresh_copy(project)
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("walk.mp4/gt/gt.txt", "1,4,10,10,20,20,1,1,1\n2,4,12,10,20,20,1,1,1\n")
    result = import_file(
        io.BytesIO(out.getvalue()), project=project, format="mot", mode="ground_truth"
    )
    assert result.errors == []
    rows = Box.objects.filter(track__number=4).order_by("frame__index")
    assert [(b.frame.index, b.outside) for b in rows] == [(0, False), (1, False), (2, True)]
    # And it exports as it came in: two frames, not six.
    assert mot_lines(project) == ["1,4,10,10,20,20,1,1,1", "2,4,12,10,20,20,1,1,1"]
