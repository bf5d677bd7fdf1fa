"""Annotator statistics: time per task and per shape, gold score, rejection rate, agreement
and who needs help, from the real queue; only managers and ML engineers may read them."""

from __future__ import annotations

from django.utils import timezone

from annotate.models import AnnotationTask, QualitySettings, ReviewSample, TaskLease
from annotate.quality.stats import annotator_stats
from annotate.queue.reviews import review_decide

from .quality_fixtures import TRUTH, WRONG, claim, make_gold, submit
from .queue_fixtures import client_for, make_tasks


def labeled_by_two(project, alice, bob, pat, rita):
    """alice labels well, bob badly; both meet gold; rita rejects bob's plain work."""
    QualitySettings.objects.create(project=project, gold_share=0.5, gold_recent_tasks=0)
    make_gold(project, pat, 4)
    make_tasks(project, 8)
    for user, boxes in ((alice, TRUTH), (bob, WRONG)):
        for _ in range(4):
            task = claim(user, project)
            submit(user, task["id"], boxes)
    for task in AnnotationTask.objects.filter(state="submitted", gold_of__isnull=True):
        decision = "accept" if task.annotator == alice else "reject"
        review_decide(task=task, reviewer=rita, decision=decision, comment="Redo the boxes.")


def test_stats_rank_the_careless_annotator_below_and_flag_them(project, alice, bob, pat, rita):
    labeled_by_two(project, alice, bob, pat, rita)
    rows = {row.username: row for row in annotator_stats(project_id=project.pk)}
    good, bad = rows["alice"], rows["bob"]
    assert good.gold_attempts == bad.gold_attempts == 2
    assert good.gold_score == 1.0 and bad.gold_score == 0.0
    assert good.tasks == 2 and bad.tasks == 2  # gold copies are not counted as work
    assert good.shapes == 2 * len(TRUTH) and good.seconds_per_task is not None
    assert good.seconds_per_shape is not None
    assert good.rejection_rate == 0.0 and bad.rejection_rate == 1.0
    assert not good.needs_help
    assert bad.needs_help and any("gold" in f for f in bad.flags)
    assert any("rejection" in f for f in bad.flags)
    assert bad.weeks and bad.weeks[-1].rejection_rate == 1.0
    # Who needs help comes first.
    assert annotator_stats(project_id=project.pk)[0].username == "bob"


def test_agreement_comes_from_the_tasks_labeled_by_several(project, alice):
    QualitySettings.objects.create(project=project)
    (task,) = make_tasks(project, 1)
    AnnotationTask.objects.filter(pk=task.pk).update(annotator=alice)
    ReviewSample.objects.create(task=task, annotator_disagreement=0.6)

    now = timezone.now()
    TaskLease.objects.create(task=task, user=alice, state="submitted", expires_at=now,
                             claimed_at=now, submitted_at=now)  # fmt: skip
    (row,) = [r for r in annotator_stats(project_id=project.pk) if r.username == "alice"]
    assert abs(row.agreement - 0.4) < 1e-9
    assert row.needs_help and any("agreement" in f for f in row.flags)


def test_the_stats_endpoint_answers_managers_and_not_annotators(
    project, alice, bob, pat, rita, client
):
    labeled_by_two(project, alice, bob, pat, rita)
    answer = client_for(pat).get(f"/api/projects/{project.pk}/quality/annotators/")
    assert answer.status_code == 200
    by_name = {row["username"]: row for row in answer.json()["annotators"]}
    assert by_name["bob"]["needs_help"] is True and by_name["alice"]["needs_help"] is False
    assert (
        client_for(alice).get(f"/api/projects/{project.pk}/quality/annotators/").status_code == 403
    )
    assert client_for(alice).get(f"/api/projects/{project.pk}/quality/settings/").status_code == 403
    client.force_login(alice)
    assert client.get(f"/projects/{project.pk}/quality/annotators/").status_code == 403
    client.force_login(pat)
    page = client.get(f"/projects/{project.pk}/quality/annotators/")
    assert page.status_code == 200 and b"gold score below" in page.content
    quality = client.get(f"/projects/{project.pk}/quality/")  # the project's quality page
    assert quality.status_code == 200 and b'id="annotator-stats"' in quality.content


def test_quality_settings_are_changed_by_a_manager_with_field_errors(project, pat, eve):
    url = f"/api/projects/{project.pk}/quality/settings/"
    bad = client_for(pat).put(url, {"gold_share": 0.9, "review_share": 2}, format="json")
    assert bad.status_code == 400
    assert "gold_share" in bad.json() or "gold_share" in str(bad.json())
    good = client_for(pat).put(url, {"gold_share": 0.1, "review_share": 0.3}, format="json")
    assert good.status_code == 200 and good.json()["gold_share"] == 0.1
    assert QualitySettings.objects.get(project=project).review_share == 0.3
    assert client_for(eve).put(url, {"gold_share": 0.2}, format="json").status_code == 403


def test_a_manager_marks_a_task_gold_through_the_api(project, pat, alice):
    (task,) = make_tasks(project, 1)
    refused = client_for(pat).post(f"/api/tasks/{task.pk}/gold/", {}, format="json")
    assert refused.status_code == 400 and "reference" in str(refused.json())
    (gold,) = make_gold(project, pat, 1)
    AnnotationTask.objects.filter(pk=gold.pk).update(is_gold=False, gold_reference=None)
    marked = client_for(pat).post(f"/api/tasks/{gold.pk}/gold/", {}, format="json")
    assert marked.status_code == 200 and marked.json()["is_gold"] is True
    assert client_for(alice).post(f"/api/tasks/{gold.pk}/gold/", {}, format="json").status_code in (
        403,
        404,
    )
