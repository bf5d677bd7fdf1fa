"""Shape attributes, as CVAT has them: a per-class schema (checkbox, select, number, text;
mutable along a track or not) checked when it is set, attribute values and the occluded flag
checked by the one shape validator on every save, and kept through CVAT XML and COCO."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from rest_framework.test import APIClient

from annotate.exchange.importing import import_file
from annotate.exchange.selectors import ExportFilter
from annotate.exchange.services import export_write
from annotate.models import Box, Frame, KeypointInstance, LabelClass
from annotate.services.annotations import annotation_save
from annotate.services.errors import SchemaChanged, ShapeValidationError
from tests.browser.media import image_task, video_task
from tests.conftest import make_project

from .exchange_builders import fresh_copy, labeled_project

pytestmark = pytest.mark.django_db

SCHEMA = [
    {"name": "helmet", "input": "checkbox", "mutable": False},
    {"name": "pose", "input": "select", "values": ["walking", "standing"], "mutable": True},
    {"name": "age", "input": "number", "min": 0, "max": 120, "step": 1, "default": 30},
    {"name": "note", "input": "text"},
]


def with_schema(project, schema=SCHEMA):
    LabelClass.objects.filter(project=project, name="person").update(attributes=schema)
    return project


def box(**over) -> dict:
    return {"frame": None, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50, **over}


def export(project, format: str) -> bytes:
    out = io.BytesIO()
    export_write(project=project, format=format, export_filter=ExportFilter(), out=out)
    return out.getvalue()


# -- the schema --------------------------------------------------------------------------


def test_a_bad_attribute_schema_is_refused_with_field_messages(project, pat):
    client = APIClient()
    client.force_authenticate(pat)
    person = project.label_classes.get(name="person")
    bad = [
        {"name": "pose", "input": "select", "values": []},
        {"name": "age", "input": "number", "min": 5, "max": 1, "step": 1},
        {"name": "occluded", "input": "checkbox"},
        {"name": "size", "input": "slider"},
    ]

    response = client.patch(f"/api/classes/{person.pk}/", {"attributes": bad}, format="json")

    assert response.status_code == 400
    messages = " ".join(response.json()["attributes"])
    assert "a select needs 1 to 100 different, non-empty values" in messages
    assert "min must be at most max" in messages
    assert "'occluded'" in messages
    assert "input must be one of checkbox, select, number, text" in messages
    person.refresh_from_db()
    assert person.attributes == []


def test_a_manager_sets_a_class_attribute_schema_through_the_api(project, pat):
    client = APIClient()
    client.force_authenticate(pat)
    person = project.label_classes.get(name="person")

    response = client.patch(f"/api/classes/{person.pk}/", {"attributes": SCHEMA}, format="json")

    assert response.status_code == 200, response.json()
    assert response.json()["attributes"] == SCHEMA
    person.refresh_from_db()
    assert person.attributes == SCHEMA


# -- values, checked by the one validator --------------------------------------------------


def test_saved_attributes_get_the_schema_defaults_and_the_occluded_flag(project, alice):
    with_schema(project)
    task = image_task(project, width=640, height=480, write_file=False, lease_user=alice)

    annotation = annotation_save(
        task=task,
        user=alice,
        payload={"boxes": [box(occluded=True, attributes={"pose": "standing"})]},
        base_version=None,
    )

    stored = annotation.boxes.get()
    assert stored.occluded is True
    assert stored.attributes == {"helmet": False, "pose": "standing", "age": 30, "note": ""}


def test_wrong_attribute_values_are_refused_per_field(project, alice):
    with_schema(project)
    task = image_task(project, width=640, height=480, write_file=False, lease_user=alice)
    values = {"helmet": "yes", "pose": "running", "age": 7.5, "note": 3}

    with pytest.raises(ShapeValidationError) as caught:
        annotation_save(
            task=task,
            user=alice,
            payload={"boxes": [box(attributes=values, occluded="no")]},
            base_version=None,
        )

    errors = caught.value.detail["errors"]
    assert errors["boxes[0].attributes.helmet"] == ["Must be true or false."]
    assert errors["boxes[0].attributes.pose"] == ["Must be one of: walking, standing."]
    assert errors["boxes[0].attributes.age"] == ["Must be 0 plus a multiple of 1."]
    assert errors["boxes[0].attributes.note"] == ["Must be text."]
    assert errors["boxes[0].occluded"] == ["Must be true or false."]
    assert not Box.objects.exists()


def test_an_attribute_the_class_no_longer_has_is_a_schema_change(project, alice):
    with_schema(project)
    task = image_task(project, width=640, height=480, write_file=False, lease_user=alice)

    with pytest.raises(SchemaChanged) as caught:
        annotation_save(
            task=task, user=alice, payload={"boxes": [box(attributes={"color": "red"})]},
            base_version=None,
        )  # fmt: skip

    assert "boxes[0].attributes.color" in caught.value.detail["errors"]


def test_an_immutable_attribute_has_one_value_along_a_track_a_mutable_one_may_change(
    project, alice
):
    with_schema(project)
    task = video_task(project, frames=3, write_file=False, lease_user=alice)
    frames = list(Frame.objects.filter(asset=task.asset).order_by("index"))

    def payload(first: dict, second: dict) -> dict:
        return {
            "tracks": [{"number": 1, "label": "person"}],
            "boxes": [
                box(frame=frames[0].pk, track=1, attributes=first),
                box(frame=frames[2].pk, track=1, x=40, attributes=second),
            ],
        }

    with pytest.raises(ShapeValidationError) as caught:
        annotation_save(
            task=task, user=alice, payload=payload({"helmet": True}, {"helmet": False}),
            base_version=None,
        )  # fmt: skip
    assert "not mutable" in caught.value.detail["errors"]["boxes[1].attributes.helmet"][0]

    saved = annotation_save(
        task=task,
        user=alice,
        payload=payload({"pose": "walking"}, {"pose": "standing"}),
        base_version=None,
    )
    assert [b.attributes["pose"] for b in saved.boxes.order_by("frame__index")] == [
        "walking",
        "standing",
    ]


# -- exports and imports -------------------------------------------------------------------


@pytest.fixture
def original(project):
    with_schema(project)
    made = labeled_project(project)
    street = Box.objects.get(annotation__task=made["tasks"]["street"], x=100.5)
    street.attributes = {"helmet": True, "pose": "standing", "age": 41, "note": "red coat"}
    street.occluded = True
    street.save()
    # The walker's track: immutable helmet, pose walking then standing from frame 2 on.
    for walker in Box.objects.filter(track__number=1, keyframe=True, outside=False):
        pose = "walking" if walker.frame.index < 2 else "standing"
        walker.attributes = {"helmet": True, "pose": pose, "age": 30, "note": ""}
        walker.save()
    KeypointInstance.objects.filter(track__number=1, frame__index=0).update(occluded=True)
    return made


@pytest.fixture
def fresh(db):
    project = with_schema(make_project("Fresh"))
    fresh_copy(project)
    return project


def cvat_xml(data: bytes) -> str:
    archive = zipfile.ZipFile(io.BytesIO(data))
    return archive.read(archive.namelist()[0]).decode()


def test_cvat_xml_writes_the_attribute_schema_values_and_occluded_flag(project, original):
    xml = cvat_xml(export(project, "cvat"))

    assert "<name>helmet</name><mutable>False</mutable><input_type>checkbox</input_type>" in xml
    assert "<values>walking\nstanding</values>" in xml
    assert "<input_type>number</input_type><default_value>30</default_value>" in xml
    # Frame 1 lies between keyframes: it carries the value of the keyframe before it.
    walker = xml.split('label="person" source="manual" group_id="1"')[1].split("</track>")[0]
    poses = [
        part.split('<attribute name="pose">')[1].split("<")[0]
        for part in walker.split("<box ")[1:]
        if 'outside="0"' in part
    ]
    assert poses == ["walking", "walking", "standing"]
    assert '<attribute name="helmet">true</attribute>' in walker
    skeleton = xml.split('label="person_skeleton"')[1].split("</track>")[0]
    assert skeleton.split("<skeleton ")[1].count('occluded="1" z_order') == 1


@pytest.mark.parametrize("format", ["cvat", "coco"])
def test_attributes_and_occluded_survive_the_round_trip(project, original, fresh, format):
    first = export(project, format)

    result = import_file(io.BytesIO(first), project=fresh, format=format, mode="ground_truth")

    assert result.errors == [] and result.warnings == []
    assert export(fresh, format) == first
    walkers = Box.objects.filter(annotation__task__project=fresh, track__number=1, outside=False)
    pose = {b.frame.index: b.attributes["pose"] for b in walkers}
    assert (pose[0], pose[2]) == ("walking", "standing")


def test_coco_writes_an_attributes_object_as_cvat_does(project, original):
    data = json.loads(export(project, "coco"))

    street = next(a for a in data["annotations"] if a["bbox"][0] == 100.5)
    assert street["attributes"] == {
        "occluded": True,
        "helmet": True,
        "pose": "standing",
        "age": 41,
        "note": "red coat",
    }
    tracked = next(a for a in data["annotations"] if a.get("track_id") == 1)
    assert tracked["attributes"]["track_id"] == 1


def test_coco_attributes_are_imported_and_an_unknown_one_is_reported(project):
    fresh_copy(with_schema(project))
    data = {
        "images": [{"id": 1, "file_name": "street/a.jpg", "width": 640, "height": 480}],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [
            {
                "id": 3,
                "image_id": 1,
                "category_id": 1,
                "bbox": [1, 1, 5, 5],
                "attributes": {"occluded": True, "pose": "standing", "colour": "red"},
            }
        ],
    }

    result = import_file(
        io.BytesIO(json.dumps(data).encode()), project=project, format="coco", mode="ground_truth"
    )

    stored = Box.objects.get(annotation__task__project=project)
    assert stored.occluded is True
    assert stored.attributes["pose"] == "standing"
    assert [(w["record"], w["kind"]) for w in result.warnings] == [("annotation id 3", "attribute")]
