"""Reads of bucket sources: a project's sources with their assets counted by state and
their latest registration (for the API and the project page)."""

from __future__ import annotations

from django.db.models import Count, Q

from annotate.models import Asset, BucketRegistration, BucketSource

STATES = ("ready", "pending", "processing", "failed")


def sources_with_progress(sources) -> list[BucketSource]:
    """The sources, each with `asset_counts` {total, ready, ...} and `latest_registration`
    (three queries, whatever the number of sources)."""
    sources = list(sources)
    ids = [source.pk for source in sources]
    counts = {
        row["source_id"]: row
        for row in Asset.objects.filter(source_id__in=ids)
        .values("source_id")
        .annotate(
            total=Count("id"),
            **{state: Count("id", filter=Q(state=state)) for state in STATES},
        )
    }
    latest = {}
    for job in (
        BucketRegistration.objects.filter(source_id__in=ids)
        .order_by("source_id", "-created_at", "-id")
        .distinct("source_id")
    ):
        latest[job.source_id] = job
    empty = {"total": 0, **dict.fromkeys(STATES, 0)}
    for source in sources:
        source.asset_counts = counts.get(source.pk, empty)
        source.latest_registration = latest.get(source.pk)
    return sources


def project_sources(project_id: int) -> list[BucketSource]:
    return sources_with_progress(BucketSource.objects.filter(project_id=project_id))
