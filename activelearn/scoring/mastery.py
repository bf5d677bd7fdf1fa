"""Joint mastery: each keypoint's figures per model version (JointMetric rows, written when a
version is measured on the validation slice), which keypoints the model has mastered, and
the keypoint strategy's weights that follow.

A keypoint is mastered when its error (1 - mean OKS) is under the project's
`mastery_error_threshold` in each of its last `mastery_versions` measured versions
(activelearn.scoring.joint_metrics.mastered_keypoints). The mastered names go onto
Project.mastered_keypoints (annotate's field, which pre-filling reads: annotate never
imports activelearn).
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass

import numpy as np
from django.db import transaction
from django.utils import timezone

from activelearn.models import JointMetric, LearningSettings, ModelVersion
from activelearn.scoring.joint_metrics import mastered_keypoints
from activelearn.strategies import mastery_weights
from annotate.models import Project
from annotate.services.projects import project_mastered_keypoints_set


@dataclass(frozen=True)
class JointTable:
    """Measured versions (oldest first) against the skeleton's keypoints: `oks`, `pck`,
    `points` are [versions, keypoints] (NaN / 0 where a keypoint was not measured)."""

    names: list[str]
    versions: list[ModelVersion]
    oks: np.ndarray
    pck: np.ndarray
    points: np.ndarray
    sigmas: np.ndarray
    mastered: np.ndarray
    threshold: float
    last: int

    @property
    def errors(self) -> np.ndarray:
        return 1.0 - self.oks

    def latest_errors(self) -> dict[str, float]:
        """Each keypoint's error in the latest version that measured it."""
        latest = {}
        for j, name in enumerate(self.names):
            measured = self.errors[~np.isnan(self.errors[:, j]), j]
            if measured.size:
                latest[name] = float(measured[-1])
        return latest

    @property
    def mastered_names(self) -> list[str]:
        return [name for name, done in zip(self.names, self.mastered, strict=True) if done]


def joint_metrics_save(
    *,
    version: ModelVersion,
    names: Sequence[str],
    sigmas: Sequence[float],
    oks: np.ndarray,
    pck: np.ndarray,
    points: np.ndarray,
) -> list[JointMetric]:
    """Replace the version's per-keypoint figures (keypoints with no labeled point are left
    out); measuring a version twice stores the same rows."""
    now = timezone.now()
    rows = [
        JointMetric(
            version=version,
            keypoint=name,
            oks=float(np.clip(oks[j], 0.0, 1.0)),
            pck=float(np.clip(pck[j], 0.0, 1.0)),
            sigma=float(sigmas[j]),
            points=int(points[j]),
            measured_at=now,
        )
        for j, name in enumerate(names)
        if points[j] > 0
    ]
    with transaction.atomic():
        JointMetric.objects.filter(version=version).delete()
        return JointMetric.objects.bulk_create(rows)


def joint_table(*, project: Project, settings: LearningSettings | None = None) -> JointTable:
    """Every measured version's per-keypoint figures, and what is mastered under the
    project's settings."""
    settings = settings or LearningSettings.for_project(project)
    names = project.keypoint_names
    column = {name: j for j, name in enumerate(names)}
    versions = list(
        ModelVersion.objects.filter(project=project, joints__isnull=False)
        .distinct()
        .order_by("created_at", "id")
    )
    row = {version.pk: i for i, version in enumerate(versions)}
    shape = (len(versions), len(names))
    oks, pck, points = np.full(shape, np.nan), np.full(shape, np.nan), np.zeros(shape, int)
    sigmas = np.full(len(names), np.nan)
    for metric in JointMetric.objects.filter(version__in=versions).order_by("version_id"):
        j = column.get(metric.keypoint)
        if j is None:
            continue  # a keypoint since removed from the skeleton
        i = row[metric.version_id]
        oks[i, j], pck[i, j], points[i, j] = metric.oks, metric.pck, metric.points
        sigmas[j] = metric.sigma
    threshold, last = settings.mastery_error_threshold, settings.mastery_versions
    return JointTable(
        names=names,
        versions=versions,
        oks=oks,
        pck=pck,
        points=points,
        sigmas=sigmas,
        mastered=mastered_keypoints(1.0 - oks, threshold, last),
        threshold=threshold,
        last=last,
    )


def joint_mastery_refresh(
    *, project: Project, settings: LearningSettings | None = None
) -> list[str]:
    """Recompute which keypoints are mastered and record them on the project (after a version
    is measured, or the mastery settings change). Returns the mastered names."""
    table = joint_table(project=project, settings=settings)
    project_mastered_keypoints_set(project=project, names=table.mastered_names)
    return table.mastered_names


def keypoint_weights_following_mastery(
    *, project: Project, settings: LearningSettings
) -> dict[str, float]:
    """The keypoint strategy's weights: the manager's weights times what mastery says (0 for
    a mastered keypoint, its error for one still learned). Just the manager's weights while
    no version has per-keypoint figures."""
    if not project.keypoint_names:
        return dict(settings.keypoint_weights or {})
    table = joint_table(project=project, settings=settings)
    if not table.versions:
        return dict(settings.keypoint_weights or {})
    return mastery_weights(
        table.names, table.latest_errors(), table.mastered_names, settings.keypoint_weights
    )
