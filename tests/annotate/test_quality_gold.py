"""Gold tasks: served at the project's share of each annotator's claims as copies nobody can
tell from other tasks, scored on submit against the reference, and a failed one sends the
annotator's recent work to review."""

from __future__ import annotations

import json

import pytest

from annotate.models import AnnotationTask, GoldAttempt, QualitySettings, ReviewSample
from annotate.queue.gold import GoldRefused, gold_due, task_mark_gold
from annotate.selectors_labeling import tasks_to_review

from .quality_fixtures import TRUTH, WRONG, claim, make_gold, submit
from .queue_fixtures import client_for, make_tasks


def test_gold_comes_due_at_exactly_the_share_of_each_annotators_claims():
    for user_id in (1, 2, 3, 77):
        due = [
            gold_due(claims_so_far=n, share=0.2, user_id=user_id, project_id=5) for n in range(100)
        ]
        assert sum(due) == 20
    firsts = {
        next(n for n in range(100) if gold_due(claims_so_far=n, share=0.2, user_id=u, project_id=5))
        for u in range(1, 30)
    }
    assert len(firsts) > 1  # not the same claims for everyone


def test_the_queue_serves_gold_copies_at_the_share_and_each_annotator_gets_their_own(
    project, alice, bob, pat
):
    QualitySettings.objects.create(project=project, gold_share=0.25, review_share=1.0)
    golds = make_gold(project, pat, 8)
    make_tasks(project, 40)
    served = {}
    for user in (alice, bob):
        copies = 0
        for _ in range(20):
            task = claim(user, project)
            copy = AnnotationTask.objects.get(pk=task["id"])
            if copy.gold_of_id is not None:
                copies += 1
                assert copy.gold_of_id in {g.pk for g in golds}
            submit(user, task["id"], TRUTH)
        served[user.username] = copies
        assert copies == 5, served
    # The same gold task can go to both, each as a copy of their own.
    attempts = GoldAttempt.objects.all()
    assert attempts.count() == 10
    assert len({a.copy_id for a in attempts}) == 10
    assert all(a.score == 1.0 and a.passed for a in attempts)
    # The reference stays as the manager made it.
    for gold in golds:
        gold.refresh_from_db()
        assert gold.state == "accepted" and gold.gold_reference.author == pat


def test_a_gold_copy_looks_like_any_task_to_the_annotator(project, alice, pat, client):
    QualitySettings.objects.create(project=project, gold_share=0.5)
    make_gold(project, pat, 3)
    make_tasks(project, 6)
    seen = []
    for _ in range(4):
        task = claim(alice, project)
        seen.append(task)
        submit(alice, task["id"], TRUTH)
    gold_tasks = [t for t in seen if AnnotationTask.objects.get(pk=t["id"]).gold_of_id]
    plain_tasks = [t for t in seen if not AnnotationTask.objects.get(pk=t["id"]).gold_of_id]
    assert gold_tasks and plain_tasks
    assert {tuple(sorted(t)) for t in seen} == {tuple(sorted(seen[0]))}

    task = claim(alice, project)
    copy = AnnotationTask.objects.get(pk=task["id"])
    if copy.gold_of_id is None:  # make sure the one held now is a copy
        submit(alice, task["id"], TRUTH)
        task = claim(alice, project)
        copy = AnnotationTask.objects.get(pk=task["id"])
    assert copy.gold_of_id is not None
    api = client_for(alice)
    for url in (f"/api/tasks/{copy.pk}/payload/", f"/api/tasks/{copy.pk}/", "/api/tasks/"):
        response = api.get(url)
        assert response.status_code == 200, (url, response.content)
        text = json.dumps(response.json()).lower()
        assert "gold" not in text, url
        assert 'bicycle", "x": 300' not in text  # the reference's shapes are not offered
    payload = api.get(f"/api/tasks/{copy.pk}/payload/").json()
    assert payload["annotation"]["version"] is None
    assert payload["annotation"]["payload"]["boxes"] == []
    # The reference annotation itself is out of the annotator's reach.
    reference = copy.gold_of.gold_reference
    assert api.get(f"/api/annotations/{reference.pk}/").status_code == 404
    client.force_login(alice)
    page = client.get(f"/tasks/{copy.pk}/label/")
    assert page.status_code == 200
    assert b"gold" not in page.content.lower()


@pytest.mark.parametrize("phase", [0.0, 0.9], ids=["gold_later", "gold_first"])
def test_a_failed_gold_attempt_sends_the_annotators_recent_work_to_review(
    project, alice, pat, rita, phase, monkeypatch
):
    monkeypatch.setattr("annotate.queue.gold._phase", lambda user_id, project_id: phase)
    QualitySettings.objects.create(
        project=project, gold_share=0.2, review_share=0.0, review_min_random_share=0.0,
        review_batch_size=1, gold_pass_score=0.7, gold_recent_tasks=3,
    )  # fmt: skip
    make_gold(project, pat, 2)
    make_tasks(project, 12)
    plain, attempt = [], None
    while attempt is None:
        task = claim(alice, project)
        copy = AnnotationTask.objects.get(pk=task["id"])
        if copy.gold_of_id and not plain:
            # Gold may come due at the first claim (the phase is hashed from the user's and
            # the project's ids): passed, it sends nothing; the next gold task's copy fails.
            submit(alice, task["id"], TRUTH)
        elif copy.gold_of_id:
            submit(alice, task["id"], WRONG)
            attempt = GoldAttempt.objects.get(copy=copy)
        else:
            submit(alice, task["id"], TRUTH)
            plain.append(task["id"])
    assert attempt.score < 0.7 and attempt.passed is False
    recent = plain[-3:]
    assert attempt.sent_to_review == len(recent)
    for task_id in recent:
        task = AnnotationTask.objects.get(pk=task_id)
        assert task.state == "submitted"
        assert task.review_sample.reason == ReviewSample.Reason.GOLD_FAILED
    waiting = set(tasks_to_review(rita, project).values_list("pk", flat=True))
    assert waiting == set(recent)
    # Older work stays accepted without review, and the copy never reaches a reviewer.
    for task_id in plain[:-3]:
        assert AnnotationTask.objects.get(pk=task_id).state == "accepted"
    assert attempt.copy_id not in waiting


def test_a_passed_gold_attempt_sends_nothing(project, alice, pat):
    QualitySettings.objects.create(project=project, gold_share=0.5, review_share=0.0)
    make_gold(project, pat, 2)
    make_tasks(project, 4)
    for _ in range(4):
        task = claim(alice, project)
        submit(alice, task["id"], TRUTH)
    attempts = GoldAttempt.objects.filter(annotator=alice)
    assert attempts.exists()
    assert all(a.passed and a.sent_to_review == 0 for a in attempts)


def test_a_task_without_a_reference_cannot_be_gold(project):
    (task,) = make_tasks(project, 1)
    try:
        task_mark_gold(task=task)
    except GoldRefused as error:
        assert "reference" in error.detail["errors"]
    else:
        raise AssertionError("a pending task without an import became gold")
