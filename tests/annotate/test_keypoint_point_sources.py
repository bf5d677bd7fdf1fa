"""Every stored skeleton point records who set it (a person, the model, propagation) and a
machine's confidence in it; submissions count the points placed by hand and pre-filled, the
budget charges per point placed, the spend shows what pre-filling saved, and the COCO export
carries the sources as an extra field."""

from __future__ import annotations

import io
import json
from decimal import Decimal

import pytest

from annotate.exchange.selectors import ExportFilter, exported_annotations
from annotate.exchange.writers.coco import write_coco
from annotate.models import AnnotationTask, Budget, BudgetLedger, TaskLease
from annotate.queue.services import task_submit
from annotate.selectors import budget_spent
from annotate.services.annotations import annotation_save
from annotate.services.errors import ShapeValidationError
from annotate.services.projects import project_mastered_keypoints_set
from tests.browser.media import image_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def task(project, alice):
    return image_task(project, width=640, height=480, write_file=False, lease_user=alice)


def skeleton(**over) -> dict:
    return {
        "frame": None,
        "label": "person",
        "source": "model",
        "confidence": 0.8,
        "points": {
            "left_shoulder": [100, 100, 2],
            "right_shoulder": [200, 100, 2],
            "left_hip": [110, 250, 1],
            "right_hip": [0, 0, 0],
        },
        **over,
    }


def errors_of(excinfo) -> dict:
    return excinfo.value.detail["errors"]


def test_each_point_keeps_its_source_and_confidence(task, alice):
    annotation = annotation_save(
        task=task,
        user=alice,
        base_version=None,
        payload={
            "keypoints": [
                skeleton(
                    point_sources={"left_hip": "human"},
                    point_confidence={"left_shoulder": 0.97, "right_hip": 0.2},
                )
            ]
        },
    )
    (row,) = annotation.keypoint_instances.all()
    # Points given no source take the skeleton's; a model point without its own confidence
    # takes the skeleton's; the person's point has none; the unplaced one is in neither.
    assert row.point_sources == {
        "left_shoulder": "model",
        "right_shoulder": "model",
        "left_hip": "human",
    }
    assert row.point_confidence == {"left_shoulder": 0.97, "right_shoulder": 0.8}


@pytest.mark.parametrize(
    ("over", "path", "message"),
    [
        ({"point_sources": {"left_shoulder": "robot"}}, "point_sources.left_shoulder", "Use"),
        ({"point_sources": {"right_hip": "model"}}, "point_sources.right_hip", "not a labeled"),
        ({"point_sources": {"tail": "model"}}, "point_sources.tail", "not a keypoint"),
        ({"point_sources": ["model"]}, "point_sources", "Must be an object"),
        ({"point_confidence": {"left_shoulder": 1.5}}, "point_confidence.left_shoulder", "0 and 1"),
        (
            {"point_sources": {"left_hip": "human"}, "point_confidence": {"left_hip": 0.5}},
            "point_confidence.left_hip",
            "no confidence",
        ),
        (
            {"source": "human", "confidence": None, "point_sources": {"left_hip": "model"}},
            "point_confidence.left_hip",
            "needs a confidence",
        ),
    ],
)
def test_bad_point_provenance_is_a_field_error_and_nothing_is_saved(
    task, alice, over, path, message
):
    with pytest.raises(ShapeValidationError) as excinfo:
        annotation_save(
            task=task, user=alice, base_version=None, payload={"keypoints": [skeleton(**over)]}
        )
    errors = errors_of(excinfo)
    assert any(message in m for m in errors[f"keypoints[0].{path}"]), errors
    assert not task.annotations.exists()


def test_a_submission_is_charged_per_point_placed_and_shows_the_saving(project, task, alice):
    Budget.objects.filter(project=project).update(
        money_limit=Decimal("100"),
        cost_per_image=Decimal("0.05"),
        cost_per_point=Decimal("0.01"),
        cost_per_box=Decimal("0.03"),
    )
    BudgetLedger.objects.create(project=project, units=1, money=Decimal("0.05"))
    TaskLease.objects.filter(task=task).update(charged=Decimal("0.05"))
    payload = {
        "boxes": [
            {"frame": None, "label": "person", "x": 10, "y": 10, "w": 50, "h": 80},
            {
                "frame": None,
                "label": "person",
                "x": 300,
                "y": 10,
                "w": 50,
                "h": 80,
                "source": "model",
                "confidence": 0.9,
            },
        ],  # fmt: skip
        "keypoints": [skeleton(point_sources={"left_hip": "human"})],
    }
    task_submit(task=task, user=alice, payload=payload, base_version=None)
    task.refresh_from_db()
    assert (task.points_by_hand, task.points_prefilled) == (1, 2)
    assert (task.boxes_by_hand, task.boxes_prefilled) == (1, 1)
    # 0.05 for the image, 0.01 for the point placed, 0.03 for the box drawn.
    lease = TaskLease.objects.get(task=task)
    assert lease.charged == Decimal("0.0900")
    assert BudgetLedger.objects.get(project=project).money == Decimal("0.0900")
    spend = budget_spent(project)
    assert spend.label.money == Decimal("0.0900")
    assert (spend.points_by_hand, spend.points_prefilled) == (1, 2)
    assert spend.money_saved == Decimal("0.0500")  # two points and one box pre-filled
    assert task.state == AnnotationTask.State.SUBMITTED


def test_the_mastered_joints_are_kept_in_skeleton_order_and_unknown_names_left_out(project):
    assert project_mastered_keypoints_set(
        project=project, names=["right_hip", "left_shoulder", "tail"]
    )
    project.refresh_from_db()
    assert project.mastered_keypoints == ["left_shoulder", "right_hip"]
    assert not project_mastered_keypoints_set(project=project, names=["left_shoulder", "right_hip"])


def test_the_coco_export_names_who_set_each_point(project, task, alice):
    annotation_save(
        task=task,
        user=alice,
        base_version=None,
        payload={"keypoints": [skeleton(point_sources={"left_hip": "human"})]},
        kind="submission",
    )
    AnnotationTask.objects.filter(pk=task.pk).update(state=AnnotationTask.State.ACCEPTED)
    out = io.BytesIO()
    annotations = exported_annotations(project=project, export_filter=ExportFilter())
    for _ in write_coco(out, project=project, annotations=annotations):
        pass
    (record,) = json.loads(out.getvalue())["annotations"]
    names = project.keypoint_names
    assert len(record["keypoints"]) == 3 * len(names)
    assert record["keypoint_sources"] == [
        {"left_shoulder": "model", "right_shoulder": "model", "left_hip": "human"}.get(name)
        for name in names
    ]
