"""Reads of stored agreement: nothing here recomputes a match."""

from __future__ import annotations

from collections import defaultdict

from django.db.models import Avg, Count, Prefetch

from ..models import (
    Annotation,
    AnnotationTask,
    AnnotatorAgreement,
    Box,
    KeypointInstance,
    Project,
    TaskAgreement,
)
from ..selectors_labeling import annotation_data

FIGURES = ("box_f1", "keypoint_f1", "oks", "hota", "idf1", "idsw")


def _figures(row) -> dict:
    return {name: getattr(row, name) for name in FIGURES}


def _with_shapes(queryset):
    return queryset.select_related("author").prefetch_related(
        Prefetch("boxes", queryset=Box.objects.select_related("label_class", "track")),
        Prefetch(
            "keypoint_instances",
            queryset=KeypointInstance.objects.select_related("label_class", "track"),
        ),
    )


def task_consensus(task: AnnotationTask) -> dict:
    """The task's consensus as the review page shows it: each annotator's submission (with
    the places of their shapes that disagree), the merged version, and the agreement."""
    row = (
        TaskAgreement.objects.filter(task=task)
        .select_related("consensus")
        .prefetch_related("annotator_rows__user")
        .first()
    )
    if row is None:
        return {"task": task.pk, "agreement": None, "merged": None, "annotators": [],
                "shapes": [], "tracks": []}  # fmt: skip
    annotator_rows = sorted(row.annotator_rows.all(), key=lambda r: r.annotation_id)
    versions = {
        a.pk: a
        for a in _with_shapes(
            Annotation.objects.filter(
                pk__in=[r.annotation_id for r in annotator_rows] + [row.consensus_id]
            )
        )
    }
    disputed: dict[str, set[str]] = defaultdict(set)
    for shape in row.shapes:
        if shape["disputed"] or not shape["kept"]:
            for username, ref in shape["members"].items():
                if ref:
                    disputed[username].add(ref)
    annotators = []
    for r in annotator_rows:
        data = annotation_data(versions[r.annotation_id])
        annotators.append(
            {
                **data,
                "figures": _figures(r),
                "disputed": sorted(disputed[data["author"] or ""]),
            }
        )
    return {
        "task": task.pk,
        "agreement": {
            "annotators": row.annotators,
            **_figures(row),
            "per_class": row.per_class,
            "per_joint": row.per_joint,
            "created_at": row.created_at.isoformat(),
        },
        "merged": annotation_data(versions[row.consensus_id]),
        "annotators": annotators,
        "shapes": row.shapes,
        "tracks": row.tracks,
    }


def _mean(values: list[float]) -> float | None:
    return sum(values) / len(values) if values else None


def project_agreement(project: Project) -> dict:
    """A project's agreement: each task with a consensus (newest first), and the means per
    annotator (their submissions against the consensus), per class and per joint."""
    rows = list(
        TaskAgreement.objects.filter(task__project=project)
        .select_related("task__asset")
        .order_by("-created_at", "-id")
    )
    tasks = [
        {
            "task": r.task_id,
            "asset_name": r.task.asset.original_name,
            "annotators": r.annotators,
            **_figures(r),
            "created_at": r.created_at.isoformat(),
        }
        for r in rows
    ]
    per_class: dict[str, list[float]] = defaultdict(list)
    per_joint: dict[str, list[float]] = defaultdict(list)
    for r in rows:
        for name, value in (r.per_class or {}).items():
            per_class[name].append(value)
        for name, value in (r.per_joint or {}).items():
            per_joint[name].append(value)
    joint_order = [n for n in project.keypoint_names if n in per_joint] + sorted(
        n for n in per_joint if n not in project.keypoint_names
    )
    annotators = (
        AnnotatorAgreement.objects.filter(agreement__task__project=project)
        .values("user_id", "user__username")
        .annotate(tasks=Count("id"), **{name: Avg(name) for name in FIGURES})
        .order_by("user__username", "user_id")
    )
    return {
        "project": project.pk,
        "summary": {
            "tasks": len(rows),
            **{name: _mean([t[name] for t in tasks if t[name] is not None]) for name in FIGURES},
        },
        "tasks": tasks,
        "annotators": [
            {
                "user": a["user_id"],
                "username": a["user__username"],
                "tasks": a["tasks"],
                **{name: a[name] for name in FIGURES},
            }
            for a in annotators
        ],
        "classes": [
            {"name": name, "tasks": len(v), "box_f1": _mean(v)}
            for name, v in sorted(per_class.items())
        ],
        "joints": [
            {"name": name, "tasks": len(per_joint[name]), "similarity": _mean(per_joint[name])}
            for name in joint_order
        ],
    }
