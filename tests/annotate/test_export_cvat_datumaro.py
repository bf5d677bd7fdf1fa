"""Our CVAT exports read by datumaro's CVAT reader (datumaro 1.13.12, in the reference readers'
environment: tests/reference_readers).

What that reader reads (datumaro/plugins/data_formats/cvat/base.py): <box>, <polygon>,
<polyline>, <points> and <mask>, in <image> elements and in <track> elements (a track's shapes
carry track_id, keyframe and outside as attributes, its group_id as the group; outside shapes
are read too); <attribute> values ("true"/"false" as booleans, numbers as floats) and the
occluded flag. It has no <skeleton>: in a track, the <points> inside a skeleton have no frame
and the reader fails (KeyError 'frame'); on an image it reads each of a skeleton's points as a
points shape of its own, without the skeleton's group or attributes, and a point that is not
labeled (outside) as one placed at its coordinates. It needs the images of CVAT for images
next to annotations.xml (images/<name>), which include_images puts there.

So for such tools the CVAT exports have skeletons="points" (each keypoint a points shape or a
points track labeled "<class>_<keypoint>", in the object's group, with the skeleton's
attributes) and skeletons="omit" (boxes only, and the job's summary says what was left out).
"""

from __future__ import annotations

import io
import zipfile

import pytest

from annotate.models import Box, LabelClass

from ..reference_readers import run_reader
from .test_export_readers import export, store_real_images

SCHEMA = [
    {"name": "helmet", "input": "checkbox", "mutable": False},
    {"name": "pose", "input": "select", "values": ["walking", "standing"], "mutable": True},
    {"name": "age", "input": "number", "min": 0, "max": 120, "step": 1, "default": 30},
]

READ = """
import json, sys
from datumaro.components.annotation import AnnotationType
from datumaro.components.dataset import Dataset
ds = Dataset.import_from(sys.argv[1], "cvat")
names = [label.name for label in ds.categories()[AnnotationType.label]]
items = {}
for item in ds:
    rows = []
    for a in item.annotations:
        at = a.points if a.type == AnnotationType.points else a.get_bbox()
        rows.append({"type": a.type.name, "label": names[a.label], "group": a.group,
                     "attributes": a.attributes, "at": [round(v, 2) for v in at]})
    items[item.id] = sorted(rows, key=lambda r: (r["type"], r["label"], r["at"]))
print(json.dumps({"labels": names, "items": items}))
"""


@pytest.fixture
def labeled(project):
    """labeled_project with an attribute schema on person; the walker's box is occluded on
    frame 0, with a helmet, standing."""
    from .exchange_builders import labeled_project

    LabelClass.objects.filter(project=project, name="person").update(attributes=SCHEMA)
    made = labeled_project(project)
    Box.objects.filter(track__number=1, frame__index=0).update(
        occluded=True, attributes={"helmet": True, "pose": "standing", "age": 41}
    )
    return made


def read_in_datumaro(data: bytes, folder) -> dict:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        archive.extractall(folder)
    return run_reader(READ, str(folder))


def xml_of(data: bytes) -> str:
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        return "".join(archive.read(n).decode() for n in archive.namelist() if n.endswith(".xml"))


def inside(rows: list[dict]) -> list[dict]:
    return [r for r in rows if not r["attributes"].get("outside")]


def test_datumaro_cannot_read_skeleton_tracks_of_cvat_for_video(project, labeled, tmp_path):
    data = export(project, "cvat")
    assert "<skeleton " in xml_of(data)
    with pytest.raises(AssertionError, match="KeyError: 'frame'"):
        read_in_datumaro(data, tmp_path)


def test_cvat_for_video_with_skeletons_as_points_reads_in_datumaro(project, labeled, tmp_path):
    read = read_in_datumaro(export(project, "cvat", skeletons="points"), tmp_path)
    keypoints = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]
    assert read["labels"] == [
        "person",
        *(f"person_{k}" for k in keypoints),
        "bicycle",
        *(f"bicycle_{k}" for k in keypoints),
    ]
    frames = {int(key.split("_")[-1]): inside(rows) for key, rows in read["items"].items()}
    # Boxes per frame: the walker on 0-2, the bicycle on 1-2; on 3 every track ends (outside).
    boxes = {i: [r["label"] for r in rows if r["type"] == "bbox"] for i, rows in frames.items()}
    assert boxes == {0: ["person"], 1: ["bicycle", "person"], 2: ["bicycle", "person"], 3: []}
    # One box track per object, then one points track per keypoint of the walker's skeleton.
    walker_box = next(r for r in frames[0] if r["type"] == "bbox")
    assert walker_box["at"] == [50, 40, 60, 150]
    assert walker_box["group"] == 1  # our track number: the object
    assert walker_box["attributes"] == {
        "helmet": True,
        "pose": "standing",
        "age": 41.0,
        "occluded": True,
        "outside": False,
        "keyframe": True,
        "track_id": 0,
    }
    bicycle = next(r for r in frames[1] if r["label"] == "bicycle")
    assert (bicycle["group"], bicycle["attributes"]["track_id"]) == (2, 1)
    assert bicycle["attributes"]["occluded"] is False

    points = {
        i: {r["label"]: r for r in rows if r["type"] == "points"} for i, rows in frames.items()
    }
    # Visibility on frames 0-2 is (2,2,2,2), (2,1,2,0), (1,0,2,2): not labeled is outside.
    assert {i: sorted(p) for i, p in points.items()} == {
        0: sorted(f"person_{k}" for k in keypoints),
        1: ["person_left_hip", "person_left_shoulder", "person_right_shoulder"],
        2: ["person_left_hip", "person_left_shoulder", "person_right_hip"],
        3: [],
    }
    assert points[0]["person_left_shoulder"]["at"] == [60, 60]
    assert points[2]["person_right_hip"]["at"] == [110, 120]
    occluded = {
        (i, label)
        for i, p in points.items()
        for label, r in p.items()
        if r["attributes"]["occluded"]
    }
    assert occluded == {(1, "person_right_shoulder"), (2, "person_left_shoulder")}
    every_point = [r for p in points.values() for r in p.values()]
    assert {r["group"] for r in every_point} == {1}  # the walker's object, as its box
    assert {r["attributes"]["track_id"] for r in every_point} == {2, 3, 4, 5}
    assert {(r["attributes"]["helmet"], r["attributes"]["pose"]) for r in every_point} == {
        (False, "walking")
    }


def test_cvat_for_images_reads_in_datumaro_with_its_images(project, labeled, tmp_path):
    store_real_images(project)
    data = export(project, "cvat_images", include_images=True)
    with zipfile.ZipFile(io.BytesIO(data)) as archive:
        assert sorted(n for n in archive.namelist() if n.startswith("images/")) == [
            "images/b.jpg",
            "images/street/a.jpg",
        ]
    read = read_in_datumaro(data, tmp_path)
    assert sorted(read["items"]) == ["b", "street/a"]
    assert read["items"]["b"] == []
    street = read["items"]["street/a"]
    boxes = [r for r in street if r["type"] == "bbox"]
    assert [(r["label"], r["at"]) for r in boxes] == [
        ("bicycle", [300, 260, 120.75, 90]),
        ("person", [100.5, 50.25, 80, 200]),
    ]
    person = boxes[1]
    assert person["attributes"] == {
        "helmet": False,
        "pose": "walking",
        "age": 30.0,
        "occluded": False,
    }
    assert person["group"] != 0
    # The skeletons' points come out one by one, without the skeleton's group, and the point
    # that is not labeled (the first person's right hip) as if placed at 0, 0.
    points = [r for r in street if r["type"] == "points"]
    assert len(points) == 8
    assert {r["group"] for r in points} == {0}
    assert ["right_hip", [0, 0]] in [[r["label"], r["at"]] for r in points]


def test_cvat_for_images_with_skeletons_as_points_reads_in_datumaro(project, labeled, tmp_path):
    store_real_images(project)
    data = export(project, "cvat_images", include_images=True, skeletons="points")
    read = read_in_datumaro(data, tmp_path)
    street = read["items"]["street/a"]
    person = next(r for r in street if r["type"] == "bbox" and r["label"] == "person")
    groups: dict[int, dict] = {}
    for r in street:
        if r["type"] == "points":
            groups.setdefault(r["group"], {})[r["label"]] = r
    # The boxed person: three labeled points (the right hip is not labeled), in its box's group.
    boxed = groups.pop(person["group"])
    assert {label: r["at"] for label, r in boxed.items()} == {
        "person_left_shoulder": [120, 80.5],
        "person_right_shoulder": [160, 82],
        "person_left_hip": [125, 180],
    }
    assert boxed["person_left_hip"]["attributes"]["occluded"] is True
    assert boxed["person_left_shoulder"]["attributes"] == {
        "helmet": False,
        "pose": "walking",
        "age": 30.0,
        "occluded": False,
    }
    # The person with a skeleton and no box: four points in a group of their own.
    ((group, alone),) = groups.items()
    assert group != 0 and len(alone) == 4
    assert alone["person_right_shoulder"]["attributes"]["occluded"] is True


@pytest.mark.parametrize("format", ["cvat", "cvat_images"])
def test_skeletons_left_out_are_counted_and_the_boxes_read_in_datumaro(
    project, labeled, tmp_path, format
):
    store_real_images(project)
    summary: list = []
    options = {"include_images": True} if format == "cvat_images" else {}
    data = export(project, format, skeletons="omit", summary=summary, **options)
    text = xml_of(data)
    assert "skeleton" not in text and "<points" not in text
    read = read_in_datumaro(data, tmp_path)
    rows = [r for item in read["items"].values() for r in inside(item)]
    assert {r["type"] for r in rows} == {"bbox"}
    if format == "cvat":
        assert len(rows) == 3 + 2  # the walker on frames 0-2, the bicycle on 1-2
        assert [(s["kind"], s["count"]) for s in summary] == [("skeleton_track", 1)]
    else:
        assert len(rows) == 2
        assert [(s["kind"], s["count"]) for s in summary] == [("skeleton", 2)]
    assert "left out" in summary[0]["message"]


def test_points_form_refuses_label_names_it_would_make_twice(project, labeled):
    from annotate.exchange.writers.common import ExportError

    LabelClass.objects.create(project=project, name="person_left_hip", order=9)
    with pytest.raises(ExportError, match="'person_left_hip'"):
        export(project, "cvat", skeletons="points")
    assert "<skeleton " in xml_of(export(project, "cvat"))  # the skeleton form has no clash
