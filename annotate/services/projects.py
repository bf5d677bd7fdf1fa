"""Writes behind the REST API and the admin: projects and their schema, label classes,
budgets, deleting an asset. Callers check permissions; these functions keep rows consistent.
"""

from __future__ import annotations

from typing import Any

from django.core.files.storage import default_storage
from django.db import transaction

from ..models import Asset, Box, Budget, KeypointInstance, LabelClass, Membership, Project

PROJECT_FIELDS = (
    "name",
    "description",
    "skeleton",
    "box_enabled",
    "keypoints_enabled",
    "tracks_enabled",
    "frame_stride",
    "segment_length",
    "propagation_min_confidence",
    "propagation_below",
)
LABEL_CLASS_FIELDS = ("name", "color", "hotkey", "order", "is_active", "attributes")
BUDGET_FIELDS = (
    "currency",
    "money_limit",
    "task_limit",
    "cost_per_image",
    "cost_per_video_frame",
    "label_share",
    "review_share",
    "review_cost_factor",
)


def _assign(obj, fields: dict[str, Any], allowed: tuple[str, ...]) -> None:
    unknown = set(fields) - set(allowed)
    if unknown:
        raise TypeError(f"cannot set {', '.join(sorted(unknown))} on {type(obj).__name__}")
    for name, value in fields.items():
        setattr(obj, name, value)


@transaction.atomic
def project_create(*, created_by, **fields: Any) -> Project:
    """A project with its creator as manager and a default budget, all or nothing."""
    project = Project(created_by=created_by)
    _assign(project, fields, PROJECT_FIELDS)
    project.full_clean()
    project.save()
    if created_by is not None:
        Membership.objects.create(project=project, user=created_by, role=Membership.Role.MANAGER)
    Budget.objects.create(project=project)
    return project


def project_update(*, project: Project, **fields: Any) -> Project:
    _assign(project, fields, PROJECT_FIELDS)
    project.full_clean()
    project.save()
    return project


def label_class_create(*, project: Project, **fields: Any) -> LabelClass:
    label_class = LabelClass(project=project)
    _assign(label_class, fields, LABEL_CLASS_FIELDS)
    label_class.full_clean()
    label_class.save()
    return label_class


def label_class_update(*, label_class: LabelClass, **fields: Any) -> LabelClass:
    _assign(label_class, fields, LABEL_CLASS_FIELDS)
    label_class.full_clean()
    label_class.save()
    return label_class


def label_class_deactivate(*, label_class: LabelClass) -> LabelClass:
    """Classes are never deleted: earlier annotation versions still name them."""
    if label_class.is_active:
        label_class.is_active = False
        label_class.save(update_fields=["is_active"])
    return label_class


def budget_update(*, project: Project, **fields: Any) -> Budget:
    """Change (or make) the project's budget. Spent is derived, so it is not a field here."""
    budget = Budget.objects.filter(project=project).first() or Budget(project=project)
    _assign(budget, fields, BUDGET_FIELDS)
    budget.full_clean()
    budget.save()
    return budget


def asset_delete(*, asset: Asset) -> None:
    """Delete an asset with its frames, tasks, tracks and annotations; its files go once the
    rows are gone for good (after commit), so a failed delete never loses media."""
    names = [f.name for f in (asset.file, asset.thumbnail) if f]
    names += [name for name in asset.frames.values_list("image", flat=True) if name]
    with transaction.atomic():
        # Shapes point at tracks with PROTECT: remove the shapes first.
        Box.objects.filter(annotation__task__asset=asset).delete()
        KeypointInstance.objects.filter(annotation__task__asset=asset).delete()
        asset.delete()

        def remove_files() -> None:
            for name in names:
                default_storage.delete(name)

        transaction.on_commit(remove_files)
