"""The settings the queue runs on: how many annotators label each task (k), how long a lease
lasts, and the share of claims that go to the random audit (annotate.queue.audit).

They are edited with the rest of a project's learning settings (activelearn), which
annotate never imports: the app that stores them registers its model here when Django
starts (`queue_settings_source`), as apps register their models with the permission table.
The model must have a one-to-one `project` and the fields `annotators_per_task`,
`lease_minutes` and `audit_share`. A project without a row, or a site without such an app,
uses the defaults.
"""

from __future__ import annotations

from dataclasses import dataclass

from django.db.models import Model

DEFAULT_ANNOTATORS_PER_TASK = 1
DEFAULT_LEASE_MINUTES = 30
# A tenth of every batch is drawn uniformly from the pool and a tenth of claims take one: enough
# audit labels for an honest estimate within a few hundred labels, at a tenth of the budget.
DEFAULT_AUDIT_SHARE = 0.1


@dataclass(frozen=True)
class QueueSettings:
    annotators_per_task: int = DEFAULT_ANNOTATORS_PER_TASK
    lease_minutes: int = DEFAULT_LEASE_MINUTES
    audit_share: float = DEFAULT_AUDIT_SHARE


_source: list[type[Model]] = []


def queue_settings_source(model: type[Model] | None = None) -> type[Model] | None:
    """Register the model that holds each project's queue settings (with `model`), or read
    which one is registered (without)."""
    if model is not None:
        _source[:] = [model]
    return _source[0] if _source else None


def queue_settings_for(project_id: int) -> QueueSettings:
    """The project's queue settings, read now (a manager may just have changed them)."""
    model = queue_settings_source()
    if model is None:
        return QueueSettings()
    row = (
        model._default_manager.filter(project_id=project_id)
        .values_list("annotators_per_task", "lease_minutes", "audit_share")
        .first()
    )
    return QueueSettings(*row) if row else QueueSettings()
