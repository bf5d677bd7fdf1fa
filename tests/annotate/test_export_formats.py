"""What each export format contains: COCO loads in pycocotools and scores AP 1.0 against
itself, YOLO reads back with a reader written from the format's definition, MOT and CVAT
keep tracks, and only the versions the filter asks for leave the project."""

from __future__ import annotations

import io
import json
import xml.etree.ElementTree as ET
import zipfile

import numpy as np
import pytest
import yaml
from pycocotools.coco import COCO
from pycocotools.cocoeval import COCOeval

from annotate.exchange.selectors import ExportFilter
from annotate.exchange.services import export_write

from .exchange_builders import labeled_project

NAMES = ["left_shoulder", "right_shoulder", "left_hip", "right_hip"]


def export(project, format: str, **filters) -> bytes:
    out = io.BytesIO()
    export_write(project=project, format=format, export_filter=ExportFilter(**filters), out=out)
    return out.getvalue()


def coco_of(project, **filters) -> dict:
    return json.loads(export(project, "coco", **filters))


@pytest.fixture
def labeled(project):
    return labeled_project(project)


def test_coco_has_images_for_accepted_images_and_every_video_frame(project, labeled):
    data = coco_of(project)
    names = [image["file_name"] for image in data["images"]]
    assert names[:2] == ["street/a.jpg", "b.jpg"]
    assert names[2:] == [f"walk.mp4/{i:06d}.jpg" for i in range(6)]
    frame = data["images"][3]
    assert (frame["video_name"], frame["frame_index"], frame["video_id"]) == ("walk.mp4", 1, 1)
    assert data["videos"] == [{"id": 1, "name": "walk.mp4"}]


def test_coco_takes_the_latest_submission_never_a_draft(project, labeled):
    data = coco_of(project, state="submitted")
    names = {image["file_name"] for image in data["images"]}
    assert "c.jpg" not in names and "d.jpg" in names
    street = next(i["id"] for i in data["images"] if i["file_name"] == "street/a.jpg")
    boxes = [a["bbox"] for a in data["annotations"] if a["image_id"] == street]
    assert [1.0, 1.0, 5.0, 5.0] not in boxes  # the later draft's box
    assert [100.5, 50.25, 80.0, 200.0] in boxes


def test_coco_accepted_filter_leaves_out_work_waiting_for_review(project, labeled):
    names = {image["file_name"] for image in coco_of(project)["images"]}
    assert "d.jpg" not in names


def test_coco_date_filter_applies_to_submission_or_review(project, labeled):
    import datetime as dt

    assert coco_of(project, date_from=dt.date(2026, 11, 21))["images"] == []
    assert len(coco_of(project, date_to=dt.date(2026, 11, 20))["images"]) == 8
    assert len(coco_of(project, state="submitted", phase="review")["images"]) == 8


def test_coco_categories_carry_keypoint_names_and_a_one_based_skeleton(project, labeled):
    person = coco_of(project)["categories"][0]
    assert person["name"] == "person"
    assert person["keypoints"] == NAMES
    # upper_body edges by name -> 1-based indices, as COCO defines them
    assert sorted(map(sorted, person["skeleton"])) == [[1, 2], [1, 3], [2, 4], [3, 4]]


def test_coco_pairs_a_skeleton_with_the_box_that_holds_it(project, labeled):
    data = coco_of(project)
    street = [a for a in data["annotations"] if a["image_id"] == 1]
    assert len(street) == 3  # person box + skeleton, skeleton alone, bicycle box
    paired = next(a for a in street if a["bbox"] == [100.5, 50.25, 80.0, 200.0])
    assert paired["keypoints"] == [120.0, 80.5, 2, 160.0, 82.0, 2, 125.0, 180.0, 1, 0, 0, 0]
    assert paired["num_keypoints"] == 3
    alone = next(a for a in street if a["bbox"][0] == 420.0)
    assert alone["bbox"] == [420.0, 40.0, 50.0, 100.0]
    assert alone["area"] == 5000.0
    bicycle = next(a for a in street if a["category_id"] == 2)
    assert bicycle["num_keypoints"] == 0 and bicycle["keypoints"] == [0] * 12


def test_coco_video_track_keeps_its_three_state_visibility(project, labeled):
    data = coco_of(project)
    frame_of = {i["id"]: i.get("frame_index") for i in data["images"]}
    walker = sorted(
        (a for a in data["annotations"] if a.get("track_id") == 1),
        key=lambda a: frame_of[a["image_id"]],
    )
    assert [frame_of[a["image_id"]] for a in walker] == [0, 1, 2]
    assert [a["keypoints"][2::3] for a in walker] == [[2, 2, 2, 2], [2, 1, 2, 0], [1, 0, 2, 2]]
    assert all(a["category_id"] == 1 for a in walker)
    rider = [a for a in data["annotations"] if a.get("track_id") == 2]
    assert len(rider) == 2


def test_pycocotools_loads_the_export_and_scores_it_against_itself_at_ap_one(
    project, labeled, tmp_path
):
    path = tmp_path / "export.json"
    path.write_bytes(export(project, "coco"))
    gt = COCO(str(path))
    assert len(gt.getImgIds()) == 8 and len(gt.getAnnIds()) == 8

    boxes = [{**a, "score": 1.0} for a in gt.loadAnns(gt.getAnnIds())]
    for a in boxes:
        a.pop("segmentation", None)
    evaluation = COCOeval(gt, gt.loadRes([dict(a) for a in boxes]), "bbox")
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)

    skeletons = [
        {k: a[k] for k in ("image_id", "category_id", "keypoints")} | {"score": 1.0}
        for a in gt.loadAnns(gt.getAnnIds())
        if a["num_keypoints"] > 0
    ]
    evaluation = COCOeval(gt, gt.loadRes(skeletons), "keypoints")
    evaluation.params.kpt_oks_sigmas = np.full(len(NAMES), 0.079)
    evaluation.evaluate()
    evaluation.accumulate()
    evaluation.summarize()
    assert evaluation.stats[0] == pytest.approx(1.0)


def read_yolo_reference(archive: bytes) -> tuple[dict, dict[str, list[dict]]]:
    """A reader written from the Ultralytics definition: data.yaml names the classes and, for
    pose, kpt_shape [K, 3]; each labels/*.txt line is `class cx cy w h` normalised to 0..1,
    then K triples `px py visibility` for pose."""
    with zipfile.ZipFile(io.BytesIO(archive)) as z:
        data = yaml.safe_load(z.read("data.yaml"))
        k = data.get("kpt_shape", [0, 3])[0]
        labels = {}
        for name in z.namelist():
            if not name.startswith("labels/"):
                continue
            objects = []
            for line in z.read(name).decode().splitlines():
                values = line.split()
                assert len(values) == 5 + 3 * k
                cls, (cx, cy, w, h) = int(values[0]), map(float, values[1:5])
                assert all(0 <= v <= 1 for v in (cx, cy, w, h))
                kpts = [
                    (float(values[5 + 3 * j]), float(values[6 + 3 * j]), int(values[7 + 3 * j]))
                    for j in range(k)
                ]
                objects.append({"class": data["names"][cls], "box": (cx, cy, w, h), "kpts": kpts})
            labels[name] = objects
    return data, labels


def test_yolo_pose_export_reads_back_with_a_reference_reader(project, labeled):
    data, labels = read_yolo_reference(export(project, "yolo"))
    assert data["names"] == {0: "person", 1: "bicycle"}
    assert data["kpt_shape"] == [4, 3]
    assert data["flip_idx"] == [1, 0, 3, 2]
    assert labels["labels/b.txt"] == []  # an accepted empty image is a negative example
    street = labels["labels/street/a.txt"]
    assert len(street) == 3
    person = next(o for o in street if o["box"][2] == pytest.approx(80 / 640, abs=1e-6))
    cx, cy, w, h = person["box"]
    assert (cx - w / 2) * 640 == pytest.approx(100.5, abs=1e-3)
    assert (cy - h / 2) * 480 == pytest.approx(50.25, abs=1e-3)
    assert [round(x * 640, 2) for x, _, _ in person["kpts"]] == [120, 160, 125, 0]
    assert [v for _, _, v in person["kpts"]] == [2, 2, 1, 0]
    frames = [labels[f"labels/walk/{i:06d}.txt"] for i in range(6)]
    assert [len(objects) for objects in frames] == [1, 2, 2, 0, 0, 0]
    walker = next(o for o in frames[1] if o["class"] == "person")
    assert [v for _, _, v in walker["kpts"]] == [2, 1, 2, 0]


def test_yolo_detection_export_has_plain_box_lines_without_keypoints(other_project):
    other_project.keypoints_enabled = False
    other_project.save()
    labeled_project(other_project)
    data, labels = read_yolo_reference(export(other_project, "yolo"))
    assert "kpt_shape" not in data
    assert all(len(o["kpts"]) == 0 for objects in labels.values() for o in objects)
    assert len(labels["labels/street/a.txt"]) == 2  # boxes only; skeletons are not detection


def test_mot_gt_lists_tracked_boxes_by_frame_from_one(project, labeled):
    with zipfile.ZipFile(io.BytesIO(export(project, "mot"))) as z:
        gt = z.read("walk/gt/gt.txt").decode().splitlines()
        info = z.read("walk/seqinfo.ini").decode()
        classes = z.read("classes.txt").decode().split()
    assert gt == [
        "1,1,50,40,60,150,1,1,1",
        "2,1,60,40,60,150,1,1,1",
        "2,2,205,150,70.5,40,1,2,1",
        "3,1,70,40,60,150,1,1,1",
        "3,2,210,150,70.5,40,1,2,1",
    ]
    assert "seqLength=6" in info and "frameRate=25" in info
    assert classes == ["person", "bicycle"]


def test_cvat_video_xml_has_tracks_with_keyframes_and_point_visibility(project, labeled):
    with zipfile.ZipFile(io.BytesIO(export(project, "cvat"))) as z:
        assert z.namelist() == ["walk.xml"]
        root = ET.fromstring(z.read("walk.xml"))
    assert root.findtext("version") == "1.1"
    tracks = root.findall("track")
    assert [(t.get("label"), t.get("id")) for t in tracks] == [
        ("person", "0"),
        ("bicycle", "1"),
        ("person_skeleton", "2"),
    ]
    walker_boxes = tracks[0].findall("box")
    assert [(b.get("frame"), b.get("keyframe"), b.get("outside")) for b in walker_boxes] == [
        ("0", "1", "0"),
        ("1", "0", "0"),
        ("2", "1", "0"),
        ("3", "1", "1"),  # ends the track
    ]
    skeletons = tracks[2].findall("skeleton")
    second = skeletons[1].findall("points")
    assert [p.get("label") for p in second] == NAMES
    assert [(p.get("outside"), p.get("occluded")) for p in second] == [
        ("0", "0"),
        ("0", "1"),
        ("0", "0"),
        ("1", "0"),
    ]


def test_same_labels_give_the_same_bytes(project, labeled):
    for format in ("coco", "yolo", "mot", "cvat"):
        assert export(project, format) == export(project, format)
