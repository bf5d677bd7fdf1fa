"""Lists and pages count cheaply on a big table: exact up to a cap, the planner's estimate
past it, and they say which."""

from __future__ import annotations

import pytest
from django.db import connection

from annotate import counting
from annotate.counting import count_bounded
from annotate.models import AnnotationTask
from tests.annotate.queue_fixtures import client_for, make_tasks

pytestmark = pytest.mark.django_db


def test_a_count_within_the_cap_is_exact(project):
    make_tasks(project, 7)
    count = count_bounded(AnnotationTask.objects.filter(project=project), cap=10)
    assert (count.value, count.exact, str(count)) == (7, True, "7")


def test_a_count_past_the_cap_is_the_planners_estimate_and_says_so(project):
    make_tasks(project, 40)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotate_annotationtask")
    count = count_bounded(AnnotationTask.objects.filter(project=project), cap=10)
    assert not count.exact and count.value > 10
    assert str(count).startswith("about ")


def test_the_task_list_says_whether_its_count_is_exact(project, pat, monkeypatch):
    make_tasks(project, 12)
    answer = client_for(pat).get("/api/tasks/", {"project": project.pk}).json()
    assert (answer["count"], answer["count_exact"]) == (12, True)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotate_annotationtask")
    monkeypatch.setattr(counting.count_bounded, "__defaults__", (5,))
    answer = client_for(pat).get("/api/tasks/", {"project": project.pk}).json()
    assert answer["count_exact"] is False and answer["count"] > 5
    assert len(answer["results"]) == 12  # the page itself is read as before


def test_the_project_page_shows_an_estimate_past_the_cap(project, pat, monkeypatch, client):
    make_tasks(project, 12)
    with connection.cursor() as cursor:
        cursor.execute("ANALYZE annotate_annotationtask")
    monkeypatch.setattr(counting.counts_bounded, "__defaults__", (5,))
    client.force_login(pat)
    page = client.get(f"/projects/{project.pk}/")
    assert page.status_code == 200
    assert b"about " in page.content
