"""Label Studio JSON: our export reads back into a fresh project unchanged, and a file in
Label Studio's own export shape (written by hand from its documented format: tasks with data,
annotations[].result regions in percent, rectanglelabels, keypointlabels, videorectangle with
its sequence) imports through the shared validator, saying what it could not keep."""

from __future__ import annotations

import io
import json

import pytest

from annotate.exchange.importing import ImportRefused, import_file
from annotate.exchange.selectors import ExportFilter
from annotate.exchange.services import export_write
from annotate.models import Box, KeypointInstance
from tests.conftest import make_project

from .exchange_builders import fresh_copy, labeled_project


def export(project) -> list:
    out = io.BytesIO()
    export_write(project=project, format="labelstudio", export_filter=ExportFilter(), out=out)
    return json.loads(out.getvalue())


def without_ids(tasks: list) -> list:
    return [
        {"data": t["data"], "result": [r for a in t["annotations"] for r in a["result"]]}
        for t in tasks
    ]


@pytest.fixture
def fresh(db):
    project = make_project("Fresh")
    fresh_copy(project)
    return project


def load(project, tasks, **options) -> object:
    data = io.BytesIO(json.dumps(tasks).encode())
    return import_file(data, project=project, format="labelstudio", mode="ground_truth", **options)


def test_export_has_rectangles_keypoints_and_video_sequences(project):
    labeled_project(project)
    tasks = {t["data"].get("image") or t["data"]["video"]: t for t in export(project)}
    street = tasks["street/a.jpg"]["annotations"][0]["result"]
    rectangles = [r for r in street if r["type"] == "rectanglelabels"]
    assert sorted(r["value"]["rectanglelabels"][0] for r in rectangles) == ["bicycle", "person"]
    person = next(r for r in rectangles if r["value"]["rectanglelabels"] == ["person"])
    assert person["value"]["x"] == pytest.approx(100.5 / 640 * 100)
    assert person["original_width"] == 640 and person["original_height"] == 480
    points = [r for r in street if r["type"] == "keypointlabels"]
    # The boxed person's three labeled points hang on its box; the other person's four on
    # its first point.
    assert sum(r["parentID"] == person["id"] for r in points) == 3
    assert len(points) == 7
    hip = next(
        r
        for r in points
        if r["parentID"] == person["id"] and r["value"]["keypointlabels"] == ["left_hip"]
    )
    assert hip["meta"] == {"text": ["occluded"]}
    walk = tasks["walk.mp4"]["annotations"][0]["result"]
    walker = next(r for r in walk if r["value"]["labels"] == ["person"])
    assert [(s["frame"], s["enabled"]) for s in walker["value"]["sequence"]] == [
        (1, True),
        (3, False),  # frame 2 was interpolated; gone after frame 3
    ]


def test_export_import_export_keeps_every_shape_label_studio_can_hold(project, fresh):
    labeled_project(project)
    first = export(project)
    result = load(fresh, first)
    assert result.errors == [], result.errors
    assert without_ids(export(fresh)) == without_ids(first)


LABEL_STUDIO_TASKS = [
    {
        "id": 11,
        "data": {"image": "/data/upload/3/1a2b3c4d-b.jpg"},
        "annotations": [
            {"id": 1, "was_cancelled": False, "result": []},
            {
                "id": 2,
                "was_cancelled": False,
                "result": [
                    {
                        "id": "r1",
                        "type": "rectanglelabels",
                        "from_name": "label",
                        "to_name": "image",
                        "original_width": 800,
                        "original_height": 600,
                        "image_rotation": 0,
                        "value": {
                            "x": 10,
                            "y": 25,
                            "width": 50,
                            "height": 50,
                            "rotation": 0,
                            "rectanglelabels": ["person"],
                        },
                    },
                    {
                        "id": "p1",
                        "type": "keypointlabels",
                        "from_name": "kp",
                        "to_name": "image",
                        "original_width": 800,
                        "original_height": 600,
                        "value": {"x": 20, "y": 30, "width": 0.5, "keypointlabels": ["left_hip"]},
                    },
                    {
                        "id": "g1",
                        "type": "polygonlabels",
                        "from_name": "poly",
                        "to_name": "image",
                        "value": {"points": [[1, 1], [5, 1], [5, 5]], "polygonlabels": ["person"]},
                    },
                ],
            },
        ],
        "predictions": [{"id": 9, "result": []}],
    },
    {
        "id": 12,
        "data": {"video": "http://example.org/media/walk.mp4?token=x"},
        "annotations": [
            {
                "id": 3,
                "result": [
                    {
                        "id": "v1",
                        "type": "videorectangle",
                        "from_name": "box",
                        "to_name": "video",
                        "origin": "manual",
                        "value": {
                            "framesCount": 6,
                            "duration": 0.24,
                            "sequence": [
                                {
                                    "frame": 1,
                                    "enabled": True,
                                    "rotation": 0,
                                    "time": 0.0,
                                    "x": 10,
                                    "y": 10,
                                    "width": 20,
                                    "height": 40,
                                },
                                {
                                    "frame": 3,
                                    "enabled": False,
                                    "rotation": 0,
                                    "time": 0.08,
                                    "x": 30,
                                    "y": 10,
                                    "width": 20,
                                    "height": 40,
                                },
                            ],
                            "labels": ["bicycle"],
                        },
                    }
                ],
            }
        ],
    },
]


def test_label_studio_own_export_imports_and_reports_what_it_cannot_keep(fresh):
    with pytest.raises(ImportRefused) as refused:
        load(fresh, LABEL_STUDIO_TASKS)
    assert len(refused.value.errors) == 3  # nothing written unless the user skips them
    result = load(fresh, LABEL_STUDIO_TASKS, skip_invalid=True)
    kinds = sorted(e.get("kind", "invalid") for e in result.errors)
    assert kinds == ["other_annotation", "polygon", "prediction"]
    assert {s["kind"] for s in result.summary} == {"other_annotation", "polygon", "prediction"}
    box = Box.objects.get(annotation__task__project=fresh, frame__isnull=True)
    assert (box.x, box.y, box.w, box.h) == pytest.approx((80, 150, 400, 300))
    skeleton = KeypointInstance.objects.get(annotation__task__project=fresh)
    assert skeleton.points["left_hip"] == pytest.approx([160, 180, 2])
    track = Box.objects.filter(annotation__task__project=fresh, frame__isnull=False)
    rows = sorted((b.frame.index, b.outside, b.x) for b in track)
    assert rows == [
        (0, False, pytest.approx(32)),
        (2, False, pytest.approx(96)),
        (3, True, pytest.approx(96)),
    ]


def test_an_unknown_image_is_an_error_naming_every_name_tried(fresh):
    tasks = [{"id": 5, "data": {"image": "s3://bucket/nowhere.jpg"}, "annotations": []}]
    with pytest.raises(ImportRefused) as refused:
        load(fresh, tasks)
    (error,) = refused.value.errors
    assert "'s3://bucket/nowhere.jpg'" in error["message"] and "'nowhere.jpg'" in error["message"]
