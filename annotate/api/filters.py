"""Query-string filters of the list endpoints (django-filter).

Ids are plain numbers, not choices validated against every row: a choice filter would answer
400 for a missing id and 200 for another project's, telling an outsider which ids exist.
No filter joins another table, so none asks for DISTINCT (django-filter's default for a
multiple choice), which made PostgreSQL sort every matching row before the first page.
"""

from __future__ import annotations

import django_filters

from ..models import AnnotationTask, Asset


class AssetFilter(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    kind = django_filters.ChoiceFilter(choices=Asset.Kind.choices)
    state = django_filters.MultipleChoiceFilter(choices=Asset.State.choices, distinct=False)

    class Meta:
        model = Asset
        fields = ["project", "kind", "state"]


def plain_id(value: str | None) -> int | None:
    """A query parameter's id when it is plainly one ("12"), else None: what the filters
    make of "12.0" or of a malformed value is theirs to decide (a 400 for the latter)."""
    if value and value.isascii() and value.isdigit() and int(value) < 2**63:
        return int(value)
    return None


class TaskFilter(django_filters.FilterSet):
    project = django_filters.NumberFilter(field_name="project_id")
    asset = django_filters.NumberFilter(field_name="asset_id")
    kind = django_filters.ChoiceFilter(choices=AnnotationTask.Kind.choices)
    state = django_filters.MultipleChoiceFilter(
        choices=AnnotationTask.State.choices, distinct=False
    )
    # `priority` is the task list's annotation (annotate.selectors.tasks_for).
    priority_min = django_filters.NumberFilter(field_name="priority", lookup_expr="gte")
    priority_max = django_filters.NumberFilter(field_name="priority", lookup_expr="lte")
    annotator = django_filters.NumberFilter(field_name="annotator_id")

    class Meta:
        model = AnnotationTask
        fields = ["project", "asset", "kind", "state", "priority_min", "priority_max", "annotator"]
