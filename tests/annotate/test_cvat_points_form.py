"""The points form of our CVAT exports (skeletons="points": each keypoint a <points> shape or
points track labeled "<class>_<keypoint>", grouped with the object's box) reads back into
the same skeletons as the skeleton form; a <points> shape that is no keypoint of the schema is
reported per record."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

import pytest

from annotate.exchange.importing import ImportRefused, import_file
from annotate.exchange.selectors import ExportFilter
from annotate.exchange.services import export_write
from annotate.models import Box, KeypointInstance, LabelClass
from tests.conftest import make_project

from .exchange_builders import fresh_copy, labeled_project

pytestmark = pytest.mark.django_db

SCHEMA = [
    {"name": "helmet", "input": "checkbox", "mutable": False},
    {"name": "pose", "input": "select", "values": ["walking", "standing"], "mutable": True},
]
NAMES = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]


def export(project, format: str, skeletons: str = "skeleton") -> bytes:
    out = io.BytesIO()
    export_write(
        project=project,
        format=format,
        export_filter=ExportFilter(),
        out=out,
        skeletons=skeletons,
    )
    return out.getvalue()


def with_schema(project):
    LabelClass.objects.filter(project=project, name="person").update(attributes=SCHEMA)
    return project


@pytest.fixture
def original(project):
    """labeled_project with attributes on the person class, the walker's skeleton and the
    image skeleton without a box carrying values of their own."""
    with_schema(project)
    labeled_project(project)
    for k in KeypointInstance.objects.filter(track__number=1, outside=False):
        pose = "standing" if k.frame.index == 1 else "walking"
        KeypointInstance.objects.filter(pk=k.pk).update(attributes={"helmet": True, "pose": pose})
    KeypointInstance.objects.filter(frame__isnull=True, points__right_hip__2=2).update(
        attributes={"helmet": True, "pose": "standing"}
    )
    return project


def fresh(name: str):
    project = with_schema(make_project(name))
    fresh_copy(project)
    return project


def stored(project) -> list[tuple]:
    """Every imported shape: what it is, where, its track, flags, geometry, attributes."""
    rows = []
    for model in (Box, KeypointInstance):
        for shape in model.objects.filter(annotation__task__project=project).select_related(
            "frame", "track", "label_class", "annotation__task__asset"
        ):
            geometry = (
                (shape.x, shape.y, shape.w, shape.h)
                if model is Box
                else sorted(shape.points.items())
            )
            rows.append(
                (
                    model.__name__,
                    shape.annotation.task.asset.original_name,
                    shape.frame.index if shape.frame else None,
                    shape.track.number if shape.track else None,
                    shape.label_class.name,
                    shape.keyframe,
                    shape.outside,
                    shape.occluded,
                    repr(geometry),
                    sorted(shape.attributes.items()),
                )
            )
    return sorted(rows, key=repr)


def images_of(archive: bytes) -> list[bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        root = ET.fromstring(z.read("annotations.xml"))
    return [ET.tostring(image) for image in root.findall("image")]


def round_trips(original, format: str) -> tuple:
    as_skeletons, as_points = fresh("Skeleton form"), fresh("Points form")
    for project, skeletons in ((as_skeletons, "skeleton"), (as_points, "points")):
        data = export(original, format, skeletons)
        result = import_file(io.BytesIO(data), project=project, format=format, mode="ground_truth")
        assert (result.errors, result.warnings) == ([], [])
    return as_skeletons, as_points


def test_video_points_form_reads_back_as_the_skeleton_form_does(original):
    as_skeletons, as_points = round_trips(original, "cvat")
    assert stored(as_points) == stored(as_skeletons)
    walker = KeypointInstance.objects.filter(
        annotation__task__project=as_points, track__number=1
    ).order_by("frame__index")
    assert [(k.frame.index, k.outside) for k in walker] == [(0, 0), (1, 0), (2, 0), (3, 1)]
    assert [[k.points[n][2] for n in NAMES] for k in walker][:3] == [
        [2, 2, 2, 2],
        [2, 1, 2, 0],
        [1, 0, 2, 2],
    ]
    assert [k.attributes["pose"] for k in walker][:3] == ["walking", "standing", "walking"]
    # The box and the skeleton of one object are one track (group_id), its number kept.
    assert set(
        Box.objects.filter(annotation__task__project=as_points, label_class__name="person")
        .exclude(frame=None)
        .values_list("track__number", flat=True)
    ) == {1}
    assert export(as_points, "cvat", "points") == export(original, "cvat", "points")
    assert export(as_points, "cvat") == export(as_skeletons, "cvat")


def test_image_points_form_reads_back_as_the_skeleton_form_does(original):
    as_skeletons, as_points = round_trips(original, "cvat_images")
    assert stored(as_points) == stored(as_skeletons)
    street = KeypointInstance.objects.filter(
        annotation__task__project=as_points, frame__isnull=True
    )
    assert sorted([k.points[n][2] for n in NAMES] for k in street) == [
        [2, 1, 2, 2],
        [2, 2, 1, 0],
    ]
    # The skeleton without a box keeps its own values; the one grouped with a box takes the
    # box's, as in the skeleton form.
    unboxed = next(k for k in street if k.points["right_hip"][2])
    assert unboxed.attributes == {"helmet": True, "pose": "standing"}
    assert images_of(export(as_points, "cvat_images", "points")) == images_of(
        export(original, "cvat_images", "points")
    )
    assert images_of(export(as_points, "cvat_images")) == images_of(
        export(as_skeletons, "cvat_images")
    )


VIDEO_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version>
<meta><task><name>walk.mp4</name><mode>interpolation</mode></task></meta>
<track id="0" label="person" source="manual" group_id="5">
  <box frame="0" keyframe="1" outside="0" occluded="0" xtl="10" ytl="10" xbr="200" ybr="230"
       z_order="0"></box>
  <box frame="2" keyframe="1" outside="1" occluded="0" xtl="10" ytl="10" xbr="200" ybr="230"
       z_order="0"></box>
</track>
<track id="1" label="person_left_shoulder" source="manual" group_id="5">
  <points frame="0" keyframe="1" outside="0" occluded="1" points="20,30" z_order="0">
    <attribute name="pose">standing</attribute></points>
  <points frame="1" keyframe="1" outside="0" occluded="0" points="40,50" z_order="0">
    <attribute name="pose">standing</attribute></points>
  <points frame="2" keyframe="1" outside="1" occluded="0" points="40,50" z_order="0">
    <attribute name="pose">standing</attribute></points>
</track>
<track id="2" label="person_right_hip" source="manual" group_id="5">
  <points frame="0" keyframe="1" outside="1" occluded="0" points="0,0" z_order="0"></points>
  <points frame="1" keyframe="1" outside="0" occluded="0" points="100,180" z_order="0"></points>
  <points frame="2" keyframe="1" outside="1" occluded="0" points="100,180" z_order="0"></points>
</track>
<track id="3" label="ball" source="manual">
  <points frame="0" keyframe="1" outside="0" occluded="0" points="5,5" z_order="0"></points>
</track>
<track id="4" label="person_left_hip" source="manual">
  <points frame="0" keyframe="1" outside="0" occluded="0" points="5,5;6,6" z_order="0"></points>
</track>
</annotations>
"""


def test_video_points_tracks_of_one_group_are_one_object_and_foreign_points_are_reported():
    project = fresh("Foreign video")
    with pytest.raises(ImportRefused) as refused:
        import_file(io.BytesIO(VIDEO_XML), project=project, format="cvat", mode="ground_truth")
    errors = refused.value.errors
    assert [(e["record"], e.get("kind")) for e in errors] == [
        ("annotations.xml track 3 frame 0", "points"),
        ("annotations.xml track 4 frame 0", "points"),
    ]
    assert "'ball'" in errors[0]["message"] and "'<class>_<keypoint>'" in errors[0]["message"]
    assert "2 points (label 'person_left_hip')" in errors[1]["message"]
    result = import_file(
        io.BytesIO(VIDEO_XML),
        project=project,
        format="cvat",
        mode="ground_truth",
        skip_invalid=True,
    )
    assert len(result.errors) == 2
    skeletons = KeypointInstance.objects.filter(annotation__task__project=project).order_by(
        "frame__index"
    )
    assert [(k.frame.index, k.track.number, k.outside) for k in skeletons] == [
        (0, 5, False),
        (1, 5, False),
        (2, 5, True),
    ]
    first, second = (k.points for k in skeletons[:2])
    assert (first["left_shoulder"], first["right_hip"], first["left_hip"]) == (
        [20, 30, 1],
        [0, 0, 0],
        [0, 0, 0],
    )
    assert (second["left_shoulder"], second["right_hip"]) == ([40, 50, 2], [100, 180, 2])
    assert skeletons[0].attributes["pose"] == "standing"
    boxes = Box.objects.filter(annotation__task__project=project)
    assert {b.track.number for b in boxes} == {5}


IMAGES_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<annotations><version>1.1</version>
<meta><task><name>people</name><mode>annotation</mode></task></meta>
<image id="0" name="street/a.jpg" width="640" height="480">
  <box label="person" source="manual" occluded="0" xtl="10" ytl="20" xbr="110" ybr="220"
       z_order="0" group_id="3"></box>
  <points label="person_left_shoulder" source="manual" occluded="1" points="30,40" z_order="0"
          group_id="3"></points>
  <points label="person_right_hip" source="manual" occluded="0" points="60,150" z_order="0"
          group_id="3"></points>
  <points label="person_nose" source="manual" occluded="0" points="50,30" z_order="0"
          group_id="3"></points>
  <points label="person_left_hip" source="manual" occluded="0" points="1,1;2,2;3,3"
          z_order="0"></points>
  <points label="bicycle_left_hip" source="manual" occluded="0" points="400,300"
          z_order="0"></points>
</image>
</annotations>
"""


def test_image_points_join_their_box_and_foreign_points_are_reported_not_dropped():
    project = fresh("Foreign images")
    with pytest.raises(ImportRefused) as refused:
        import_file(
            io.BytesIO(IMAGES_XML), project=project, format="cvat_images", mode="ground_truth"
        )
    errors = refused.value.errors
    assert [(e["record"], e["kind"]) for e in errors] == [
        ("annotations.xml image 0 points #3", "points"),
        ("annotations.xml image 0 points #4", "points"),
    ]
    assert "'person_nose'" in errors[0]["message"]
    import_file(
        io.BytesIO(IMAGES_XML),
        project=project,
        format="cvat_images",
        mode="ground_truth",
        skip_invalid=True,
    )
    box = Box.objects.get(annotation__task__project=project)
    person = KeypointInstance.objects.get(
        annotation__task__project=project, label_class__name="person"
    )
    assert (box.x, box.y, box.w, box.h) == (10, 20, 100, 200)
    assert [person.points[n][2] for n in NAMES] == [1, 0, 0, 2]
    bicycle = KeypointInstance.objects.get(
        annotation__task__project=project, label_class__name="bicycle"
    )
    assert bicycle.points["left_hip"] == [400, 300, 2]
