"""The learning curve: each model version's metric on its validation slice against the labels
spent when it was trained, so a project manager sees what each label bought."""

from __future__ import annotations

import math

from activelearn.models import ModelVersion
from annotate.models import Project

# Names a version's metrics may carry its headline under, in order of preference:
# accuracy for classes, mAP for boxes, OKS for keypoints.
METRIC_KEYS = ("accuracy", "mAP", "map", "oks", "OKS")


def headline_metric(metrics: dict) -> tuple[str, float] | None:
    """(name, value) of a version's main metric, or None when it has no finite one."""
    if not isinstance(metrics, dict):
        return None
    named = metrics.get("metric")
    keys = ([named] if isinstance(named, str) else []) + list(METRIC_KEYS)
    for key in keys:
        value = metrics.get(key)
        if isinstance(value, int | float) and not isinstance(value, bool) and math.isfinite(value):
            return key, float(value)
    return None


def learning_curve(*, project: Project) -> dict:
    """Points of the curve, ordered by labels spent: versions with `labels_at_training` and
    a metric. `metric` is the name most points share (the axis label)."""
    versions = ModelVersion.objects.filter(
        project=project, labels_at_training__isnull=False
    ).order_by("labels_at_training", "created_at", "pk")
    points = []
    for version in versions.only(
        "pk", "name", "kind", "labels_at_training", "metrics", "is_active", "created_at"
    ):
        headline = headline_metric(version.metrics)
        if headline is None:
            continue
        name, value = headline
        points.append(
            {
                "version": version.pk,
                "name": version.name,
                "kind": version.kind,
                "labels": version.labels_at_training,
                "metric": name,
                "value": value,
                "validation_examples": version.metrics.get("validation_examples"),
                "is_active": version.is_active,
                "created_at": version.created_at.isoformat(),
            }
        )
    names = [point["metric"] for point in points]
    metric = max(set(names), key=names.count) if names else None
    return {"project": project.pk, "metric": metric, "points": points}
