"""Exports that other tools read, checked by those tools' own readers: COCO (one annotation
per object, an empty segmentation for boxes, PoseTrack's video fields) by pycocotools, YOLO
with its images by supervision (it reads data.yaml, images/ and labels/ as Ultralytics lays
them out), MOT by datumaro's mot_seq reader (gt/gt.txt, gt/labels.txt, seqinfo.ini). The
readers that cannot sit beside our pins run in their own environment (tests/reference_readers)."""

from __future__ import annotations

import io
import json
import zipfile

import cv2
import numpy as np
import pytest
import yaml
from django.core.files.base import ContentFile
from pycocotools.coco import COCO

from annotate.exchange.selectors import ExportFilter
from annotate.exchange.services import ServiceError, export_create, export_write
from annotate.models import Asset, Frame

from ..reference_readers import run_reader
from .exchange_builders import labeled_project


def export(project, format: str, **options) -> bytes:
    out = io.BytesIO()
    export_write(project=project, format=format, export_filter=ExportFilter(), out=out, **options)
    return out.getvalue()


def store_real_images(project) -> None:
    """Give the project's images and extracted frames real JPEG files of their size."""
    for asset in Asset.objects.filter(project=project, kind="image"):
        pixels = np.full((asset.height, asset.width, 3), 90, np.uint8)
        asset.file.save(asset.original_name.replace("/", "_"), ContentFile(_jpeg(pixels)))
    for frame in Frame.objects.filter(asset__project=project):
        pixels = np.full((frame.height, frame.width, 3), 30, np.uint8)
        frame.image.save(f"{frame.index:06d}.jpg", ContentFile(_jpeg(pixels)))


def _jpeg(pixels: np.ndarray) -> bytes:
    ok, data = cv2.imencode(".jpg", pixels)
    assert ok
    return data.tobytes()


def test_coco_writes_one_annotation_per_object_with_an_empty_segmentation(project, tmp_path):
    labeled_project(project)
    path = tmp_path / "coco.json"
    path.write_bytes(export(project, "coco"))
    coco = COCO(str(path))
    street = next(i for i in coco.dataset["images"] if i["file_name"] == "street/a.jpg")
    objects = coco.loadAnns(coco.getAnnIds(imgIds=[street["id"]]))
    # Two people (one with a box and keypoints together, one skeleton only) and a bicycle.
    assert len(objects) == 3
    assert all(a["segmentation"] == [] for a in coco.dataset["annotations"])
    boxed = next(a for a in objects if a["bbox"] == [100.5, 50.25, 80.0, 200.0])
    assert boxed["num_keypoints"] == 3


def test_coco_boxes_with_an_empty_segmentation_evaluate_in_pycocotools(project, tmp_path):
    """COCOeval on boxes reads `segmentation: []` (datumaro's COCO exporter writes the same
    for a box); annToMask cannot make a mask of it (pycocotools 2.0 fails with IndexError),
    so masks are taken only from annotations that have a segmentation."""
    from pycocotools.cocoeval import COCOeval

    labeled_project(project)
    path = tmp_path / "coco.json"
    path.write_bytes(export(project, "coco"))
    truth = COCO(str(path))
    boxes = [a for a in truth.dataset["annotations"] if a["bbox"]]
    found = truth.loadRes(
        [{"image_id": a["image_id"], "category_id": a["category_id"], "bbox": a["bbox"],
          "score": 1.0} for a in boxes]
    )  # fmt: skip
    evaluation = COCOeval(truth, found, "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)  # AP over IoU 0.5:0.95
    with pytest.raises(IndexError):
        truth.annToMask(boxes[0])


def test_coco_video_frames_carry_posetrack_ids(project):
    labeled_project(project)
    data = json.loads(export(project, "coco"))
    frames = [i for i in data["images"] if "vid_id" in i]
    assert [i["frame_id"] for i in frames] == list(range(6))
    assert {i["vid_id"] for i in frames} == {data["videos"][0]["id"]}
    assert {i["nframes"] for i in frames} == {6}
    image_ids = {i["id"] for i in frames}
    walker = [
        a for a in data["annotations"] if a["image_id"] in image_ids and a.get("track_id") == 1
    ]
    assert len(walker) == 3 and all("keypoints" in a for a in walker)


def test_yolo_archive_with_images_reads_in_supervision(other_project, tmp_path):
    other_project.keypoints_enabled = False
    other_project.save()
    labeled_project(other_project)
    store_real_images(other_project)
    with zipfile.ZipFile(io.BytesIO(export(other_project, "yolo", include_images=True))) as z:
        names = z.namelist()
        z.extractall(tmp_path)
    assert "images/street/a.jpg" in names and "images/walk/000000.jpg" in names
    data = yaml.safe_load((tmp_path / "data.yaml").read_text())
    assert "path" not in data  # train/val resolve against data.yaml's own folder
    assert (tmp_path / data["train"]).is_dir() and (tmp_path / data["val"]).is_dir()

    script = """
import json, sys
import supervision as sv
root = sys.argv[1]
answer = {}
for part in ("street", "walk"):
    ds = sv.DetectionDataset.from_yolo(
        images_directory_path=f"{root}/images/{part}",
        annotations_directory_path=f"{root}/labels/{part}",
        data_yaml_path=f"{root}/data.yaml",
    )
    answer["classes"] = list(ds.classes)
    for path, image, detections in ds:
        key = path.split("/images/")[1]
        answer[key] = [
            [ds.classes[c]] + [round(float(v), 1) for v in box]
            for box, c in zip(detections.xyxy, detections.class_id)
        ]
print(json.dumps(answer))
"""
    read = run_reader(script, str(tmp_path))
    assert read["classes"] == ["person", "bicycle"]
    bicycle, person = sorted(read["street/a.jpg"])
    assert bicycle[0] == "bicycle" and bicycle[1:] == pytest.approx(
        [300, 260, 420.75, 350], abs=0.1
    )
    assert person[0] == "person" and person[1:] == pytest.approx(
        [100.5, 50.25, 180.5, 250.25], abs=0.1
    )
    (walker,) = read["walk/000000.jpg"]
    assert walker[0] == "person" and walker[1:] == pytest.approx([50, 40, 110, 190], abs=0.1)
    assert read["walk/000004.jpg"] == []


def test_yolo_images_are_refused_for_other_formats(project):
    with pytest.raises(ServiceError) as raised:
        export_create(project=project, user=None, format="coco", include_images=True)
    assert "include_images" in raised.value.detail["errors"]


def test_mot_export_reads_in_datumaro_with_class_names_and_track_ids(project, tmp_path):
    labeled_project(project)
    with zipfile.ZipFile(io.BytesIO(export(project, "mot"))) as z:
        z.extractall(tmp_path)
    script = """
import json, sys
from datumaro.components.dataset import Dataset
ds = Dataset.import_from(sys.argv[1], "mot_seq")
from datumaro.components.annotation import AnnotationType
names = [l.name for l in ds.categories()[AnnotationType.label]]
rows = []
for item in ds:
    for a in item.annotations:
        rows.append([item.id, names[a.label], a.attributes.get("track_id"),
                     [round(v, 2) for v in (a.x, a.y, a.w, a.h)]])
print(json.dumps({"names": names, "rows": sorted(rows)}))
"""
    read = run_reader(script, str(tmp_path / "walk"))
    assert read["names"] == ["person", "bicycle"]
    assert read["rows"] == [
        ["1", "person", 1, [50, 40, 60, 150]],  # MOT frame numbers count from 1
        ["2", "bicycle", 2, [205, 150, 70.5, 40]],
        ["2", "person", 1, [60, 40, 60, 150]],
        ["3", "bicycle", 2, [210, 150, 70.5, 40]],
        ["3", "person", 1, [70, 40, 60, 150]],
    ]
