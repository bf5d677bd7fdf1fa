"""Builders for the gold and review-sampling tests: gold tasks with a reference, and an
annotator's round trip through the real queue API (claim, submit)."""

from __future__ import annotations

from django.utils import timezone

from annotate.models import Annotation, AnnotationTask
from annotate.queue.gold import task_mark_gold
from annotate.services.annotations import annotation_save

from .queue_fixtures import client_for, make_tasks

TRUTH = [{"frame": None, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50},
         {"frame": None, "label": "bicycle", "x": 300, "y": 200, "w": 80, "h": 60}]  # fmt: skip
WRONG = [{"frame": None, "label": "person", "x": 400, "y": 300, "w": 30, "h": 30}]


def make_gold(project, manager, count: int, boxes=TRUTH) -> list[AnnotationTask]:
    """`count` accepted image tasks labeled by `manager`, marked gold."""
    golds = []
    for task in make_tasks(project, count, priorities=[-1.0] * count):
        annotation = annotation_save(
            task=task, user=manager, payload={"boxes": boxes}, base_version=None,
            kind=Annotation.Kind.SUBMISSION,
        )  # fmt: skip
        AnnotationTask.objects.filter(pk=task.pk).update(
            state="accepted", annotator=manager, submitted_at=timezone.now(),
            reviewed_at=timezone.now(),
        )  # fmt: skip
        task.refresh_from_db()
        golds.append(task_mark_gold(task=task, reference=annotation))
    return golds


def claim(user, project) -> dict | None:
    response = client_for(user).post(f"/api/projects/{project.pk}/tasks/next/", format="json")
    assert response.status_code == 200, response.content
    return response.json()["task"]


def submit(user, task_id: int, boxes) -> None:
    response = client_for(user).post(
        f"/api/tasks/{task_id}/submit/",
        {"base_version": None, "payload": {"boxes": list(boxes)}},
        format="json",
    )
    assert response.status_code == 200, response.content
