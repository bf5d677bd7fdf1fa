"""Counts that stay cheap on a big table: exact up to a cap, the planner's estimate past it.

A page that counts a million tasks with COUNT(*) on every view reads them all; past
COUNT_CAP rows the figure is the planner's estimate (kept fresh by autovacuum's ANALYZE),
shown as "about ...". Below the cap, the common case, counts are exact as before.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from functools import cached_property

from django.core.paginator import Paginator
from django.db import connection
from django.db.models import QuerySet

COUNT_CAP = 10_000


@dataclass(frozen=True)
class BoundedCount:
    value: int
    exact: bool

    def __str__(self) -> str:
        return f"{self.value:,}" if self.exact else f"about {self.value:,}"


def count_bounded(queryset: QuerySet, cap: int = COUNT_CAP) -> BoundedCount:
    """The queryset's row count: exact when at most `cap` (a COUNT over LIMIT cap + 1, which
    stops reading there), else the planner's estimate, never below cap + 1."""
    # Only the keys: a list's annotations (a subquery per row) are not read 10,001 times.
    queryset = queryset.order_by().values("pk")
    counted = queryset[: cap + 1].count()
    if counted <= cap:
        return BoundedCount(counted, True)
    return BoundedCount(max(cap + 1, rows_estimate(queryset)), False)


def counts_bounded(querysets: list[QuerySet], cap: int = COUNT_CAP) -> list[BoundedCount]:
    """count_bounded of each queryset, the exact parts in one statement (one round trip
    for a page's several counts); an estimate is asked only for those past the cap."""
    if not querysets:
        return []
    parts, params = [], []
    for queryset in querysets:
        sql, part_params = queryset.order_by().values("pk")[: cap + 1].query.sql_with_params()
        parts.append(f"SELECT count(*) FROM ({sql}) AS part")  # noqa: S608
        params.extend(part_params)
    with connection.cursor() as cursor:
        cursor.execute(" UNION ALL ".join(f"({part})" for part in parts), params)
        counted = [row[0] for row in cursor.fetchall()]
    return [
        BoundedCount(n, True)
        if n <= cap
        else BoundedCount(max(cap + 1, rows_estimate(queryset)), False)
        for n, queryset in zip(counted, querysets, strict=True)
    ]


def rows_estimate(queryset: QuerySet) -> int:
    """The planner's row estimate for the queryset (EXPLAIN, nothing read)."""
    sql, params = queryset.order_by().values("pk").query.sql_with_params()
    with connection.cursor() as cursor:
        cursor.execute(f"EXPLAIN (FORMAT JSON) {sql}", params)
        plan = cursor.fetchone()[0]
    if isinstance(plan, str):
        plan = json.loads(plan)
    return int(plan[0]["Plan"]["Plan Rows"])


class BoundedCountPaginator(Paginator):
    """Django's paginator with count_bounded for its count: exact up to COUNT_CAP rows,
    estimated past it (`count_exact` says which). Besides a QuerySet or a list it pages any
    object with `bounded_count()` and slicing (activelearn.selectors.RankedQueuePages)."""

    @cached_property
    def _bounded(self) -> BoundedCount:
        if isinstance(self.object_list, QuerySet):
            return count_bounded(self.object_list)
        if hasattr(self.object_list, "bounded_count"):  # a sequence read in slices
            return self.object_list.bounded_count()
        return BoundedCount(len(self.object_list), True)

    @cached_property
    def count(self) -> int:
        return self._bounded.value

    @property
    def count_exact(self) -> bool:
        return self._bounded.exact
