"""Each of the k holders of a task has their own lease and their own drafts: the labeling
endpoints read who holds a task from the lease rows, not from AnnotationTask.lease_user
(which only a single holder is copied to)."""

from __future__ import annotations

from activelearn.models import LearningSettings
from annotate.models import Annotation

from .queue_fixtures import client_for, make_annotators, make_tasks

BOX = {"frame": None, "label": "person", "x": 10, "y": 20, "w": 100, "h": 50}


def claim(user, project) -> dict:
    response = client_for(user).post(f"/api/projects/{project.pk}/tasks/next/", format="json")
    assert response.status_code == 200, response.content
    return response.json()["task"]


def save_draft(user, task_id: int, base_version, boxes=(BOX,)):
    return client_for(user).put(
        f"/api/tasks/{task_id}/annotation/",
        {"base_version": base_version, "payload": {"boxes": list(boxes)}},
        format="json",
    )


def two_holders(project, alice, bob) -> int:
    LearningSettings.objects.create(project=project, annotators_per_task=2)
    (task,) = make_tasks(project, 1)
    assert claim(alice, project)["id"] == task.pk
    assert claim(bob, project)["id"] == task.pk
    return task.pk


def test_with_two_annotators_per_task_draft_save_and_payload_are_not_404_for_either_holder(
    project, alice, bob
):
    task_id = two_holders(project, alice, bob)
    for user in (alice, bob):
        payload = client_for(user).get(f"/api/tasks/{task_id}/payload/")
        assert payload.status_code == 200, (user.username, payload.content)
        assert payload.json()["task"]["editable"] is True
        assert payload.json()["task"]["leased_to_me"] is True
        assert save_draft(user, task_id, None).status_code == 200
        submit = client_for(user).post(
            f"/api/tasks/{task_id}/submit/",
            {"base_version": Annotation.objects.filter(author=user).get().version,
             "payload": {"boxes": [BOX]}},
            format="json",
        )  # fmt: skip
        assert submit.status_code == 200, submit.content


def test_two_holders_drafts_neither_overwrite_nor_conflict_with_each_other(project, alice, bob):
    task_id = two_holders(project, alice, bob)
    first = save_draft(alice, task_id, None)
    assert first.status_code == 200
    # Bob never saved: his chain is empty, whatever alice did.
    second = save_draft(bob, task_id, None, boxes=[{**BOX, "x": 200}])
    assert second.status_code == 200, second.content
    again = save_draft(alice, task_id, first.json()["version"], boxes=[{**BOX, "x": 5}])
    assert again.status_code == 200, again.content
    # Each holder reads back their own latest draft.
    mine = client_for(alice).get(f"/api/tasks/{task_id}/annotation/").json()
    theirs = client_for(bob).get(f"/api/tasks/{task_id}/annotation/").json()
    assert mine["version"] == again.json()["version"]
    assert theirs["version"] == second.json()["version"]
    assert [b["x"] for b in mine["payload"]["boxes"]] == [5]
    assert [b["x"] for b in theirs["payload"]["boxes"]] == [200]
    # A holder saving from a stale version of their own chain is still told so.
    assert save_draft(alice, task_id, first.json()["version"]).status_code == 409


def test_an_annotator_who_does_not_hold_a_shared_task_cannot_save_a_draft(project, alice, bob):
    task_id = two_holders(project, alice, bob)
    (outsider,) = make_annotators(project, 1)
    assert save_draft(outsider, task_id, None).status_code == 404
