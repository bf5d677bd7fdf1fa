"""Review: a reviewer accepts submitted work or sends it back with a comment, which its
annotator then sees; the API enforces who may review."""

from __future__ import annotations

import pytest
from django.utils import timezone
from rest_framework.test import APIClient

from annotate.models import AnnotationTask, Review
from annotate.queue.reviews import TaskNotReviewable, review_decide
from annotate.services.annotations import annotation_save
from annotate.services.errors import ShapeValidationError, TaskNotEditable
from tests.browser.media import image_task

BOX = {"frame": None, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50}


@pytest.fixture
def submitted(project, alice):
    task = image_task(project, write_file=False, lease_user=alice)
    annotation_save(task=task, user=alice, payload={"boxes": [BOX]}, base_version=None,
                    kind="submission")  # fmt: skip
    AnnotationTask.objects.filter(pk=task.pk).update(
        state="submitted", annotator=alice, lease_user=None, lease_expires_at=None,
        submitted_at=timezone.now(),
    )  # fmt: skip
    task.refresh_from_db()
    return task


def client_for(user) -> APIClient:
    client = APIClient()
    client.force_authenticate(user)
    return client


def test_accepting_marks_the_task_accepted(submitted, rita):
    review = review_decide(task=submitted, reviewer=rita, decision="accept")
    submitted.refresh_from_db()
    assert submitted.state == "accepted" and submitted.reviewed_at is not None
    assert review.annotation.version == 1


def test_rejecting_needs_a_comment(submitted, rita):
    with pytest.raises(ShapeValidationError) as excinfo:
        review_decide(task=submitted, reviewer=rita, decision="reject", comment="  ")
    assert "comment" in excinfo.value.detail["errors"]
    submitted.refresh_from_db()
    assert submitted.state == "submitted"


def test_a_rejected_task_returns_to_its_annotator_with_the_comment(submitted, rita, alice):
    review_decide(task=submitted, reviewer=rita, decision="reject", comment="Box too loose")
    submitted.refresh_from_db()
    assert submitted.state == "rejected" and submitted.annotator == alice
    payload = client_for(alice).get(f"/api/tasks/{submitted.pk}/payload/").json()
    assert payload["review"]["comment"] == "Box too loose"
    assert payload["review"]["decision"] == "reject"
    assert payload["task"]["editable"] is True


def test_the_annotator_can_fix_a_rejected_task_but_not_an_accepted_one(submitted, rita, alice):
    review_decide(task=submitted, reviewer=rita, decision="accept")
    with pytest.raises(TaskNotEditable):
        annotation_save(task=submitted, user=alice, payload={"boxes": [BOX]}, base_version=1)


def test_a_task_is_decided_only_once(submitted, rita):
    review_decide(task=submitted, reviewer=rita, decision="accept")
    with pytest.raises(TaskNotReviewable):
        review_decide(task=submitted, reviewer=rita, decision="reject", comment="late")
    assert Review.objects.filter(task=submitted).count() == 1


def test_nobody_reviews_their_own_work(submitted, alice, pat):
    AnnotationTask.objects.filter(pk=submitted.pk).update(annotator=pat)
    submitted.refresh_from_db()
    with pytest.raises(TaskNotReviewable):
        review_decide(task=submitted, reviewer=pat, decision="accept")


def test_the_review_endpoint_rejects_with_a_comment(submitted, rita):
    response = client_for(rita).post(
        f"/api/tasks/{submitted.pk}/review/",
        {"decision": "reject", "comment": "Missed the cyclist"},
        format="json",
    )
    assert response.status_code == 200, response.content
    assert response.json()["state"] == "rejected"


def test_an_annotator_cannot_review(submitted, bob):
    response = client_for(bob).post(
        f"/api/tasks/{submitted.pk}/review/", {"decision": "accept"}, format="json"
    )
    assert response.status_code in (403, 404)
    submitted.refresh_from_db()
    assert submitted.state == "submitted"


def test_a_reviewer_of_another_project_sees_no_such_task(submitted, carol):
    response = client_for(carol).post(
        f"/api/tasks/{submitted.pk}/review/", {"decision": "accept"}, format="json"
    )
    assert response.status_code == 404


def test_the_review_list_shows_submitted_tasks_to_the_reviewer(submitted, rita, client):
    client.force_login(rita)
    response = client.get(f"/projects/{submitted.project_id}/review/")
    assert response.status_code == 200
    assert f"/tasks/{submitted.pk}/review/" in response.content.decode()
