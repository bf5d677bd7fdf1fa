"""A database connection ended mid-request (pg_terminate_backend from another connection):
a request that changes nothing is answered after a second try on a new connection; one that
writes is a JSON 503 with Retry-After (not a 500 page) that saved nothing, and sending it
again works."""

from __future__ import annotations

import pytest
from django.test import Client

from annotate.models import Annotation, AnnotationTask, TaskLease

from .database_faults import terminated_once
from .queue_fixtures import client_for, make_tasks

pytestmark = pytest.mark.django_db(transaction=True)

BOX = {"frame": None, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50}


def _claimed(project, alice) -> int:
    make_tasks(project, 1)
    answer = client_for(alice).post(f"/api/projects/{project.pk}/tasks/next/", {}, format="json")
    return answer.json()["task"]["id"]


def _is_database_unavailable(answer) -> None:
    assert answer.status_code == 503
    assert answer["Content-Type"].startswith("application/json")
    assert int(answer["Retry-After"]) > 0
    body = answer.json()
    assert body["code"] == "database_unavailable"
    assert "nothing was saved" in body["detail"]


def test_a_manager_reading_spend_gets_the_answer_when_the_connection_ends_mid_request(
    project, pat, monkeypatch
):
    from annotate import selectors

    spent = terminated_once(selectors.budget_spent)
    monkeypatch.setattr(selectors, "budget_spent", spent)

    answer = client_for(pat).get(f"/api/projects/{project.pk}/budget/")

    assert answer.status_code == 200, answer.content
    assert answer.json()["spent"]["tasks_spent"] == 0
    assert spent.calls == 2  # the first try met the ended connection


def test_a_submit_whose_connection_ends_mid_request_is_a_503_that_saved_nothing(
    project, alice, monkeypatch
):
    from annotate.queue import services

    task_id = _claimed(project, alice)
    monkeypatch.setattr(services, "annotation_save", terminated_once(services.annotation_save))
    submit = {"base_version": None, "payload": {"boxes": [BOX]}}

    answer = client_for(alice).post(f"/api/tasks/{task_id}/submit/", submit, format="json")

    _is_database_unavailable(answer)
    assert not Annotation.objects.filter(task_id=task_id).exists()
    assert AnnotationTask.objects.get(pk=task_id).state == "in_progress"
    assert TaskLease.objects.get(task_id=task_id).state == "active"

    again = client_for(alice).post(f"/api/tasks/{task_id}/submit/", submit, format="json")
    assert again.status_code == 200, again.content
    assert AnnotationTask.objects.get(pk=task_id).state == "submitted"


def test_a_draft_save_whose_connection_ends_mid_request_is_a_503_and_the_next_save_works(
    project, alice, monkeypatch
):
    from annotate.labeling import api

    task_id = _claimed(project, alice)
    monkeypatch.setattr(api, "annotation_save", terminated_once(api.annotation_save))
    draft = {"base_version": None, "payload": {"boxes": [BOX]}}

    answer = client_for(alice).put(f"/api/tasks/{task_id}/annotation/", draft, format="json")

    _is_database_unavailable(answer)
    assert not Annotation.objects.filter(task_id=task_id).exists()
    again = client_for(alice).put(f"/api/tasks/{task_id}/annotation/", draft, format="json")
    assert again.status_code == 200 and again.json()["version"] == 1


def test_a_page_whose_connection_ends_mid_request_is_shown_after_a_second_try(
    project, alice, monkeypatch
):
    from annotate.views import pages

    monkeypatch.setattr(pages, "projects_for_home", terminated_once(pages.projects_for_home))
    browser = Client()
    browser.force_login(alice)

    page = browser.get("/")

    assert page.status_code == 200
    assert project.name in page.content.decode()
    assert pages.projects_for_home.calls == 2


def test_a_page_form_whose_connection_ends_mid_request_is_a_503_page_not_a_500(
    project, pat, monkeypatch
):
    """A page's POST is not tried again (it may write); it says so in words, on a page that
    needs no database to be drawn."""
    from annotate.views import pages

    monkeypatch.setattr(pages, "get_object_for", terminated_once(pages.get_object_for))
    browser = Client()
    browser.force_login(pat)

    page = browser.post(f"/projects/{project.pk}/")

    assert page.status_code == 503
    assert page["Content-Type"].startswith("text/html")
    assert int(page["Retry-After"]) > 0
    assert "The database could not be reached for a moment" in page.content.decode()


def test_a_next_task_whose_connection_ends_in_its_claim_statement_is_a_503_not_a_500(
    project, alice, monkeypatch
):
    """The claim runs on psycopg's own cursor (annotate.queue.sql), whose errors Django does
    not wrap: they were a 500 (found by benchmarks/load.py)."""
    from annotate.queue import sql

    make_tasks(project, 1)
    monkeypatch.setattr(sql, "claim", terminated_once(sql.claim))

    answer = client_for(alice).post(f"/api/projects/{project.pk}/tasks/next/", {}, format="json")

    _is_database_unavailable(answer)
    assert not TaskLease.objects.exists()
    again = client_for(alice).post(f"/api/projects/{project.pk}/tasks/next/", {}, format="json")
    assert again.status_code == 200 and again.json()["task"]
