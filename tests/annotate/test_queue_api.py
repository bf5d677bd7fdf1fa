"""The queue's endpoints: shapes of the answers, errors, and who may call them."""

from __future__ import annotations

from decimal import Decimal

from activelearn.models import ModelVersion, TaskScore
from annotate.models import AnnotationTask, Budget
from annotate.services.annotations import annotation_save

from .queue_fixtures import client_for, make_tasks

BOX = {"frame": None, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50}


def next_task(user, project, **body):
    return client_for(user).post(f"/api/projects/{project.pk}/tasks/next/", body, format="json")


def test_next_task_answers_with_the_task_and_its_lease(project, alice):
    (best,) = make_tasks(project, 1, priorities=[3.5])
    response = next_task(alice, project)
    assert response.status_code == 200
    task = response.json()["task"]
    assert task["id"] == best.pk and task["asset"] == best.asset_id
    assert task["kind"] == "image" and task["frame_count"] == 1 and task["priority"] == 3.5
    assert task["state"] == "in_progress" and task["lease_expires_at"]


def test_next_task_prefetches_with_exclude(project, alice):
    make_tasks(project, 3)
    first = next_task(alice, project).json()["task"]["id"]
    second = next_task(alice, project, exclude=[first]).json()["task"]["id"]
    assert second != first
    assert next_task(alice, project, exclude=[first, second]).json()["code"] == "too_many_leases"


def test_an_empty_queue_says_so(project, alice):
    response = next_task(alice, project)
    assert response.status_code == 200
    assert response.json() == {"task": None, "detail": "No tasks left in this project."}


def test_next_task_in_another_project_is_not_found(project, other_project, carol):
    make_tasks(project, 1)
    assert next_task(carol, project).status_code == 404


def test_a_reviewer_may_not_take_tasks(project, rita):
    make_tasks(project, 1)
    assert next_task(rita, project).status_code == 403


def test_bad_exclude_is_a_field_error(project, alice):
    response = next_task(alice, project, exclude=["x"])
    assert response.status_code == 400 and "exclude" in response.json()


def test_an_exhausted_budget_is_a_clear_409(project, alice):
    Budget.objects.filter(project=project).update(money_limit=Decimal("0"))
    make_tasks(project, 1)
    response = next_task(alice, project)
    assert response.status_code == 409
    body = response.json()
    assert body["code"] == "budget_exhausted" and "budget" in body["detail"]


def test_heartbeat_renews_and_reports_the_new_expiry(project, alice):
    make_tasks(project, 1)
    task = next_task(alice, project).json()["task"]
    response = client_for(alice).post(f"/api/tasks/{task['id']}/heartbeat/")
    assert response.status_code == 200
    assert response.json()["lease_expires_at"] >= task["lease_expires_at"]


def test_heartbeat_on_a_task_someone_else_holds_is_lease_lost(project, alice, bob):
    make_tasks(project, 1)
    task = next_task(alice, project).json()["task"]
    response = client_for(bob).post(f"/api/tasks/{task['id']}/heartbeat/")
    assert response.status_code == 409 and response.json()["code"] == "lease_lost"


def test_heartbeat_on_a_task_of_another_project_is_not_found(project, alice, carol):
    make_tasks(project, 1)
    task = next_task(alice, project).json()["task"]
    assert client_for(carol).post(f"/api/tasks/{task['id']}/heartbeat/").status_code == 404
    assert (
        client_for(carol).post(f"/api/tasks/{task['id']}/skip/", {"reason": "x"}).status_code == 404
    )
    assert client_for(carol).post("/api/tasks/999999/heartbeat/").status_code == 404


def test_skip_without_a_reason_is_a_400_on_the_reason_field(project, alice):
    make_tasks(project, 1)
    task = next_task(alice, project).json()["task"]
    response = client_for(alice).post(f"/api/tasks/{task['id']}/skip/", {"reason": " "})
    assert response.status_code == 400 and "reason" in response.json()
    assert AnnotationTask.objects.get(pk=task["id"]).state == "in_progress"


def test_skip_with_a_reason_takes_the_task_out_of_the_queue(project, alice):
    make_tasks(project, 1)
    task = next_task(alice, project).json()["task"]
    response = client_for(alice).post(f"/api/tasks/{task['id']}/skip/", {"reason": "Corrupt"})
    assert response.status_code == 200
    assert response.json()["state"] == "skipped"


def test_submit_returns_the_saved_version(project, alice):
    make_tasks(project, 1)
    task = next_task(alice, project).json()["task"]
    response = client_for(alice).post(
        f"/api/tasks/{task['id']}/submit/",
        {"base_version": None, "payload": {"boxes": [BOX]}},
        format="json",
    )
    assert response.status_code == 200 and response.json() == {"version": 1}
    assert AnnotationTask.objects.get(pk=task["id"]).state == "submitted"


def test_submit_with_bad_shapes_is_a_400_with_field_paths(project, alice):
    make_tasks(project, 1)
    task = next_task(alice, project).json()["task"]
    response = client_for(alice).post(
        f"/api/tasks/{task['id']}/submit/",
        {"base_version": None, "payload": {"boxes": [{**BOX, "h": 0}]}},
        format="json",
    )
    assert response.status_code == 400
    assert "boxes[0].h" in response.json()["errors"]


def test_submit_from_a_stale_version_is_a_409_version_conflict(project, alice):
    make_tasks(project, 1)
    task = next_task(alice, project).json()["task"]
    draft_task = AnnotationTask.objects.get(pk=task["id"])
    annotation_save(task=draft_task, user=alice, payload={"boxes": [BOX]}, base_version=None)
    response = client_for(alice).post(
        f"/api/tasks/{task['id']}/submit/",
        {"base_version": None, "payload": {"boxes": [BOX]}},
        format="json",
    )
    assert response.status_code == 409 and response.json()["code"] == "version_conflict"


def test_the_ranked_queue_shows_order_scores_and_breakdown(project, pat):
    low, high = make_tasks(project, 2, priorities=[0.1, 0.9])
    version = ModelVersion.objects.create(
        project=project, name="v1", kind="pushed", task_type="detection", is_active=True
    )
    TaskScore.objects.create(
        task=high, model_version=version, score=0.9, breakdown={"entropy": 0.7, "novelty": 0.2}
    )
    TaskScore.objects.create(task=high, model_version=None, score=0.5, breakdown={"coverage": 1})
    response = client_for(pat).get(f"/api/projects/{project.pk}/queue/")
    assert response.status_code == 200
    body = response.json()
    assert body["count"] == 2 and body["model_version"] == "v1"
    first, second = body["results"]
    assert (first["id"], first["rank"], second["id"], second["rank"]) == (high.pk, 1, low.pk, 2)
    assert first["breakdown"] == {"entropy": 0.7, "novelty": 0.2} and first["score"] == 0.9
    assert second["score"] is None and second["breakdown"] == {}
    assert body["budget"]["tasks_committed"] == 0


def test_the_ranked_queue_uses_cold_start_scores_before_any_model(project, eve):
    (task,) = make_tasks(project, 1)
    TaskScore.objects.create(task=task, model_version=None, score=0.5, breakdown={"coverage": 1})
    body = client_for(eve).get(f"/api/projects/{project.pk}/queue/").json()
    assert body["model_version"] is None
    assert body["results"][0]["breakdown"] == {"coverage": 1}


def test_the_ranked_queue_pages_keep_counting_ranks(project, pat):
    make_tasks(project, 5)
    body = client_for(pat).get(f"/api/projects/{project.pk}/queue/?page=2&page_size=2").json()
    assert [row["rank"] for row in body["results"]] == [3, 4]


def test_annotators_may_not_see_the_ranked_queue(project, alice, carol):
    assert client_for(alice).get(f"/api/projects/{project.pk}/queue/").status_code == 403
    assert client_for(carol).get(f"/api/projects/{project.pk}/queue/").status_code == 404
