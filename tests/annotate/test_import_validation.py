"""Imports pass the editor's own validation: non-finite numbers, boxes outside the image,
unknown keypoints and bad track numbers are refused per record, what is stored can always be
served as JSON and exported, and a file with no valid record fails with a clear message."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from rest_framework.test import APIClient

from annotate.exchange.importing import ImportRefused, import_file
from annotate.exchange.selectors import ExportFilter
from annotate.exchange.services import export_write
from annotate.models import Annotation, Box

from .exchange_builders import fresh_copy

pytestmark = pytest.mark.django_db

IMAGE = {"id": 1, "file_name": "street/a.jpg", "width": 640, "height": 480}


@pytest.fixture
def fresh(project):
    return fresh_copy(project)


def coco_text(boxes: list[str]) -> bytes:
    """A COCO file with raw bbox texts (NaN and 1e309 are not produced by json.dumps)."""
    annotations = ",".join(
        f'{{"id": {i + 1}, "image_id": 1, "category_id": 1, "bbox": {box}}}'
        for i, box in enumerate(boxes)
    )
    return (
        f'{{"images": [{json.dumps(IMAGE)}], "categories": [{{"id": 1, "name": "person"}}], '
        f'"annotations": [{annotations}]}}'
    ).encode()


def load(project, data: bytes, format="coco", **kw):
    return import_file(io.BytesIO(data), project=project, format=format, mode="ground_truth", **kw)


def refused(project, data: bytes, format="coco", **kw) -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        load(project, data, format, **kw)
    return caught.value


def by_record(error) -> dict[str, str]:
    return {e["record"]: e["message"] for e in error.errors}


def test_a_coco_box_with_nan_or_1e309_or_far_outside_the_image_is_refused_per_record(
    project, fresh
):
    data = coco_text(["[NaN, 10, 20, 20]", "[1e309, 10, 20, 20]", "[5000, 10, 20, 20]"])

    found = by_record(refused(project, data))

    assert "Must be a finite number" in found["annotation id 1"]
    assert "Must be a finite number" in found["annotation id 2"]
    assert "must lie within the image, [0, 640] x [0, 480] px" in found["annotation id 3"]
    assert not Annotation.objects.filter(task__project=project).exists()


def test_after_skipping_bad_boxes_the_task_is_served_and_exported_as_valid_json(
    project, fresh, pat
):
    data = coco_text(["[NaN, 10, 20, 20]", "[1e309, 10, 20, 20]", "[-0.3, 10, 20, 20]"])

    result = load(project, data, skip_invalid=True)

    assert [e["record"] for e in result.errors] == ["annotation id 1", "annotation id 2"]
    # The editor's rule: within half a pixel of the edge a box is clipped to it.
    assert list(Box.objects.values_list("x", "y", "w", "h")) == [(0.0, 10.0, 19.7, 20.0)]
    client = APIClient()
    client.force_authenticate(pat)
    task = fresh["tasks"]["street"]
    for url in (
        f"/api/tasks/{task.pk}/payload/",
        f"/api/tasks/{task.pk}/annotations/",
        f"/api/tasks/{task.pk}/annotations/latest/",
    ):
        assert client.get(url).status_code == 200, url
    for format in ("coco", "yolo"):
        out = io.BytesIO()
        export_write(project=project, format=format, export_filter=ExportFilter(), out=out)
        raw = out.getvalue()
        texts = (
            [raw]
            if format == "coco"
            else [
                zipfile.ZipFile(io.BytesIO(raw)).read(n)
                for n in zipfile.ZipFile(io.BytesIO(raw)).namelist()
            ]
        )
        assert not any(b"NaN" in t or b"nan" in t or b"Infinity" in t for t in texts)


def test_an_import_whose_every_record_is_invalid_fails_with_a_clear_message(project, fresh):
    data = coco_text(["[NaN, 10, 20, 20]", "[900, 10, 20, 20]"])

    error = refused(project, data, skip_invalid=True)

    assert error.message.startswith("None of the file's 2 record(s) can be imported")
    assert len(error.errors) == 2
    assert not Annotation.objects.filter(task__project=project).exists()


def test_a_refused_record_leaves_its_task_with_the_labels_it_had(project, fresh):
    load(project, coco_text(["[1, 2, 3, 4]"]))
    other = json.loads(coco_text(["[900, 10, 20, 20]"]))
    other["images"].append({"id": 2, "file_name": "b.jpg", "width": 800, "height": 600})
    other["annotations"].append({"id": 9, "image_id": 2, "category_id": 1, "bbox": [1, 1, 5, 5]})

    result = load(project, json.dumps(other).encode(), skip_invalid=True)

    assert [e["record"] for e in result.errors] == ["annotation id 1"]
    street = fresh["tasks"]["street"]
    latest = street.annotations.order_by("-version").first()
    assert list(latest.boxes.values_list("x", "y", "w", "h")) == [(1, 2, 3, 4)]


def test_yolo_keypoints_with_nan_visibility_are_reported_not_a_crash(project, fresh):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("data.yaml", "names: {0: person}\nkpt_shape: [4, 3]\n")
        z.writestr("labels/street/a.txt", "0 0.5 0.5 0.1 0.1 " + "0.5 0.5 nan " * 4 + "\n")
    found = by_record(refused(project, out.getvalue(), "yolo"))
    assert "visibility must be 0, 1 or 2" in found["labels/street/a.txt line 1"]


def test_mot_boxes_reaching_past_the_frame_are_clipped_as_the_format_allows(project, fresh):
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        z.writestr("walk.mp4/gt/gt.txt", "1,3,-20,100,100,200,1,1,1\n2,3,9000,10,5,5,1,1,1\n")
    error = refused(project, out.getvalue(), "mot")
    assert by_record(error) == {
        "walk.mp4/gt/gt.txt line 2": "The box lies wholly outside the image (320x240)."
    }

    load(project, out.getvalue(), "mot", skip_invalid=True)

    # The track's one box, and the outside keyframe where MOT says it is no longer there.
    assert list(Box.objects.values_list("frame__index", "outside", "x", "y", "w", "h")) == [
        (0, False, 0.0, 100.0, 80.0, 140.0),
        (1, True, 0.0, 100.0, 80.0, 140.0),
    ]


def test_a_coco_track_id_of_zero_is_mapped_to_a_track_number_the_editor_accepts(project, fresh):
    video = {"id": 5, "video_name": "walk.mp4", "frame_index": 0}
    data = {
        "images": [video],
        "categories": [{"id": 1, "name": "person"}],
        "annotations": [
            {"id": 1, "image_id": 5, "category_id": 1, "bbox": [1, 1, 5, 5], "track_id": 0}
        ],
    }
    load(project, json.dumps(data).encode())

    assert set(Box.objects.values_list("track__number", flat=True)) == {1}


def test_a_prediction_score_outside_0_to_1_is_refused(project, fresh):
    data = json.loads(coco_text(["[1, 1, 5, 5]"]))
    data["annotations"][0]["score"] = 7.5
    with pytest.raises(ImportRefused) as caught:
        import_file(
            io.BytesIO(json.dumps(data).encode()),
            project=project,
            format="coco",
            mode="predictions",
            model_version_name="m1",
            sink=lambda **kw: 0,
        )
    assert "Must be between 0 and 1" in by_record(caught.value)["annotation id 1"]
