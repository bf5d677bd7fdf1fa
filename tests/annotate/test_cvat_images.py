"""CVAT for images 1.1: our export reads back unchanged into a fresh project, and a file as
CVAT writes it (an <image> with a box and a skeleton of one object under one group_id,
occluded flags, attributes, a polygon and a tag it cannot keep) imports through the shared
validator and says what it left out."""

from __future__ import annotations

import io
import xml.etree.ElementTree as ET
import zipfile

import pytest

from annotate.exchange.importing import ImportRefused, import_file
from annotate.exchange.selectors import ExportFilter
from annotate.exchange.services import export_write
from annotate.models import Box, KeypointInstance
from tests.conftest import make_project

from .exchange_builders import fresh_copy, labeled_project

NAMES = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]


def export(project) -> bytes:
    out = io.BytesIO()
    export_write(project=project, format="cvat_images", export_filter=ExportFilter(), out=out)
    return out.getvalue()


def images_of(archive: bytes) -> list[bytes]:
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        root = ET.fromstring(z.read("annotations.xml"))
    return [ET.tostring(image) for image in root.findall("image")]


@pytest.fixture
def fresh(db):
    project = make_project("Fresh")
    fresh_copy(project)
    return project


def test_export_has_images_with_grouped_box_and_skeleton(project):
    labeled_project(project)
    with zipfile.ZipFile(io.BytesIO(export(project))) as z:
        root = ET.fromstring(z.read("annotations.xml"))
    assert root.findtext("version") == "1.1"
    assert root.findtext("meta/task/mode") == "annotation"
    images = {i.get("name"): i for i in root.findall("image")}
    assert sorted(images) == ["b.jpg", "street/a.jpg"]  # the video is CVAT for video's
    street = images["street/a.jpg"]
    assert (street.get("width"), street.get("height")) == ("640", "480")
    boxed = next(b for b in street.findall("box") if b.get("xtl") == "100.50")
    group = boxed.get("group_id")
    skeleton = next(s for s in street.findall("skeleton") if s.get("group_id") == group)
    assert skeleton.get("label") == "person_skeleton"
    points = skeleton.findall("points")
    assert [p.get("label") for p in points] == NAMES
    assert [(p.get("occluded"), p.get("outside")) for p in points] == [
        ("0", "0"),
        ("0", "0"),
        ("1", "0"),
        ("0", "1"),
    ]


def test_export_import_export_gives_the_same_images(project, fresh):
    labeled_project(project)
    first = export(project)
    result = import_file(
        io.BytesIO(first), project=fresh, format="cvat_images", mode="ground_truth"
    )
    assert result.errors == [] and result.warnings == []
    assert images_of(export(fresh)) == images_of(first)


CVAT_XML = b"""<?xml version="1.0" encoding="utf-8"?>
<annotations>
  <version>1.1</version>
  <meta><task><name>people</name><mode>annotation</mode></task></meta>
  <image id="0" name="street/a.jpg" width="640" height="480">
    <box label="person" source="manual" occluded="1" xtl="10.00" ytl="20.00" xbr="110.00"
         ybr="220.00" z_order="0" group_id="7"></box>
    <skeleton label="person" source="manual" z_order="0" group_id="7">
      <points label="left_shoulder" occluded="0" outside="0" points="30.00,40.00"></points>
      <points label="right_shoulder" occluded="1" outside="0" points="60.00,41.00"></points>
      <points label="left_hip" occluded="0" outside="1" points="0.00,0.00"></points>
      <points label="right_hip" occluded="0" outside="0" points="60.00,150.00"></points>
    </skeleton>
    <polygon label="person" source="manual" occluded="0" points="1,1;5,1;5,5" z_order="0">
    </polygon>
    <tag label="person" source="manual"></tag>
  </image>
  <image id="1" name="b.jpg" width="800" height="600"></image>
</annotations>
"""


def test_cvat_file_imports_one_object_per_group_and_reports_the_rest(fresh):
    with pytest.raises(ImportRefused) as refused:
        import_file(io.BytesIO(CVAT_XML), project=fresh, format="cvat_images", mode="ground_truth")
    assert sorted(e.get("kind") for e in refused.value.errors) == ["polygon", "tag"]
    result = import_file(
        io.BytesIO(CVAT_XML),
        project=fresh,
        format="cvat_images",
        mode="ground_truth",
        skip_invalid=True,
    )
    assert result.tasks_written == 2
    box = Box.objects.get(annotation__task__project=fresh)
    assert (box.x, box.y, box.w, box.h, box.occluded) == (10, 20, 100, 200, True)
    skeleton = KeypointInstance.objects.get(annotation__task__project=fresh)
    assert [skeleton.points[n][2] for n in NAMES] == [2, 1, 0, 2]


def test_a_video_file_is_refused_with_the_format_to_use(fresh):
    video = (
        b'<annotations><version>1.1</version><track id="0" label="person"></track></annotations>'
    )
    with pytest.raises(ImportRefused) as refused:
        import_file(io.BytesIO(video), project=fresh, format="cvat_images", mode="ground_truth")
    assert "'cvat'" in refused.value.message
