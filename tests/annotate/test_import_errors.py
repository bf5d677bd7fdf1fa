"""Bad files are refused with their reason, per record, and nothing is half-written."""

from __future__ import annotations

import io
import json
import zipfile

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile

from annotate.exchange.importing import ImportRefused, import_file
from annotate.exchange.services import import_create, import_run
from annotate.models import Annotation, Box

from .exchange_builders import fresh_copy


@pytest.fixture
def fresh(project):
    fresh_copy(project)
    return project


def coco(annotations, images=None, categories=None) -> bytes:
    images = images or [{"id": 1, "file_name": "street/a.jpg", "width": 640, "height": 480}]
    categories = categories or [{"id": 1, "name": "person"}, {"id": 7, "name": "dog"}]
    return json.dumps(
        {"images": images, "annotations": annotations, "categories": categories}
    ).encode()


def refused(project, data: bytes, format="coco") -> ImportRefused:
    with pytest.raises(ImportRefused) as caught:
        import_file(io.BytesIO(data), project=project, format=format, mode="ground_truth")
    return caught.value


def messages(error: ImportRefused) -> dict[str, str]:
    return {e["record"]: e["message"] for e in error.errors}


def test_malformed_json_is_refused_with_its_line_and_column(fresh):
    error = refused(fresh, b'{"images": [\n  {"id": 1,,}\n]}')
    assert "Malformed JSON at line 2, column 12" in error.message


def test_a_json_file_that_is_not_coco_is_refused(fresh):
    assert "'annotations' is missing" in refused(fresh, b'{"images": []}').message


def test_unknown_image_is_reported_by_record(fresh):
    data = coco(
        [{"id": 5, "image_id": 2, "category_id": 1, "bbox": [1, 2, 3, 4]}],
        images=[{"id": 2, "file_name": "nope.jpg"}],
    )
    assert messages(refused(fresh, data))["annotation id 5"].startswith("Unknown image 'nope.jpg'")


def test_category_not_in_the_schema_is_reported(fresh):
    data = coco([{"id": 3, "image_id": 1, "category_id": 7, "bbox": [1, 2, 3, 4]}])
    assert messages(refused(fresh, data))["annotation id 3"] == (
        "Category 'dog' is not in the project's schema."
    )


def test_keypoint_count_not_matching_the_skeleton_is_reported(fresh):
    data = coco([{"id": 4, "image_id": 1, "category_id": 1, "keypoints": [10, 10, 2] * 17}])
    message = messages(refused(fresh, data))["annotation id 4"]
    assert "51 keypoint values (17 keypoints)" in message
    assert "skeleton has 4 keypoints (12 values)" in message


def test_a_box_without_size_and_a_bad_visibility_are_reported(fresh):
    data = coco(
        [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 0, 4]},
            {"id": 2, "image_id": 1, "category_id": 1, "keypoints": [1, 1, 5] * 4},
            {"id": 3, "image_id": 9, "category_id": 1, "bbox": [1, 2, 3, 4]},
        ]
    )
    found = messages(refused(fresh, data))
    assert "no size" in found["annotation id 1"]
    assert "visibility must be 0, 1 or 2" in found["annotation id 2"]
    assert "image_id 9 is not among the file's images" in found["annotation id 3"]


def test_one_bad_record_means_nothing_is_written(fresh):
    data = coco(
        [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]},
            {"id": 2, "image_id": 1, "category_id": 7, "bbox": [1, 2, 3, 4]},
        ]
    )
    refused(fresh, data)
    assert not Annotation.objects.filter(task__project=fresh).exists()


def test_skip_invalid_writes_the_good_records_and_reports_the_bad(fresh):
    data = coco(
        [
            {"id": 1, "image_id": 1, "category_id": 1, "bbox": [1, 2, 3, 4]},
            {"id": 2, "image_id": 1, "category_id": 7, "bbox": [1, 2, 3, 4]},
        ]
    )
    result = import_file(
        io.BytesIO(data), project=fresh, format="coco", mode="ground_truth", skip_invalid=True
    )
    assert [e["record"] for e in result.errors] == ["annotation id 2"]
    assert list(Box.objects.values_list("x", "y", "w", "h")) == [(1, 2, 3, 4)]


def test_the_job_keeps_the_reason_and_each_record_error(fresh, pat):
    job = import_create(
        project=fresh,
        user=pat,
        format="coco",
        upload=SimpleUploadedFile(
            "bad.json", coco([{"id": 9, "image_id": 1, "category_id": 7, "bbox": [1, 1, 2, 2]}])
        ),
    )
    job = import_run(job_id=job.pk)
    assert job.state == "failed"
    assert job.error.startswith("None of the file's 1 record(s) can be imported")
    assert job.errors == [
        {"record": "annotation id 9", "message": "Category 'dog' is not in the project's schema."}
    ]
    assert (job.records_total, job.records_failed) == (1, 1)


def zipped(files: dict[str, str]) -> bytes:
    out = io.BytesIO()
    with zipfile.ZipFile(out, "w") as z:
        for name, text in files.items():
            z.writestr(name, text)
    return out.getvalue()


def test_yolo_lines_with_a_wrong_count_or_unnormalised_box_are_reported(fresh):
    data = zipped(
        {
            "data.yaml": "names: {0: person}\nkpt_shape: [4, 3]\n",
            "labels/street/a.txt": "0 0.5 0.5 0.1 0.1 0.5 0.5 2\n0 50 60 10 10\n",
            "labels/b.txt": "",
        }
    )
    found = messages(refused(fresh, data, "yolo"))
    assert "pose lines with 4 keypoints have 16" in found["labels/street/a.txt line 1"]
    assert "normalised to 0..1" in found["labels/street/a.txt line 2"]


def test_yolo_file_that_is_not_a_zip_is_refused(fresh):
    assert refused(fresh, b"0 0.5 0.5 0.1 0.1", "yolo").message == "The file is not a zip archive."


def test_yolo_archive_that_climbs_out_is_refused(fresh):
    data = zipped({"../evil.txt": "0 0.5 0.5 0.1 0.1"})
    assert "outside the archive" in refused(fresh, data, "yolo").message


def test_mot_frame_outside_the_video_is_an_unknown_image(fresh):
    data = zipped({"walk/gt/gt.txt": "1,1,5,5,10,10,1,1,1\n99,1,5,5,10,10,1,1,1\n"})
    found = messages(refused(fresh, data, "mot"))
    assert list(found) == ["walk/gt/gt.txt line 2"]
    assert "has no frame 98: it has 6 frames" in found["walk/gt/gt.txt line 2"]


def test_mot_unknown_sequence_is_reported(fresh):
    data = zipped({"run/gt/gt.txt": "1,1,5,5,10,10,1,1,1\n"})
    assert "Unknown image 'run'" in next(iter(messages(refused(fresh, data, "mot")).values()))


def test_cvat_xml_with_a_doctype_is_refused(fresh):
    data = b'<?xml version="1.0"?>\n<!-- x --><!DOCTYPE a [<!ENTITY b "c">]><annotations/>'
    assert "DOCTYPE is not allowed" in refused(fresh, data, "cvat").message


def test_cvat_malformed_xml_is_refused_with_its_position(fresh):
    data = b"<annotations>\n<track id='0' label='person'>\n<box frame='0'</track>"
    assert "malformed XML at line 3" in refused(fresh, data, "cvat").message


def test_cvat_unknown_keypoint_and_unknown_label_are_reported(fresh):
    data = b"""<annotations><meta><task><name>walk.mp4</name></task></meta>
    <track id="0" label="person_skeleton"><skeleton frame="0" keyframe="1" outside="0">
      <points label="nose" outside="0" occluded="0" points="1,2"/></skeleton></track>
    <track id="1" label="dog"><box frame="1" outside="0" keyframe="1" xtl="1" ytl="1"
      xbr="5" ybr="5"/></track></annotations>"""
    found = messages(refused(fresh, data, "cvat"))
    assert (
        "Keypoints 'nose' are not in the project's skeleton"
        in found["annotations.xml track 0 frame 0"]
    )
    assert found["annotations.xml track 1 frame 1"] == (
        "Category 'dog' is not in the project's schema."
    )
