"""Quality control in the admin: a manager marks tasks gold with the task action and reads
the annotator statistics of their project, not of another."""

from __future__ import annotations

from annotate.models import AnnotationTask, QualitySettings

from .quality_fixtures import make_gold
from .queue_fixtures import make_tasks


def test_a_manager_marks_gold_in_the_admin(client, project, pat):
    (gold,) = make_gold(project, pat, 1)
    AnnotationTask.objects.filter(pk=gold.pk).update(is_gold=False, gold_reference=None)
    (pending,) = make_tasks(project, 1)
    client.force_login(pat)
    response = client.post(
        "/admin/annotate/annotationtask/",
        {"action": "mark_gold", "_selected_action": [gold.pk, pending.pk]},
        follow=True,
    )
    assert response.status_code == 200
    gold.refresh_from_db()
    pending.refresh_from_db()
    assert gold.is_gold and gold.gold_reference is not None
    assert not pending.is_gold  # no reference: refused, with the reason shown
    assert b"no reference yet" in response.content


def test_the_annotator_statistics_open_in_the_admin_for_the_projects_manager(
    client, project, other_project, pat
):
    mine = QualitySettings.objects.create(project=project)
    theirs = QualitySettings.objects.create(project=other_project)
    client.force_login(pat)
    page = client.get(f"/admin/annotate/qualitysettings/{mine.pk}/annotators/")
    assert page.status_code == 200 and b"annotator-stats-title" in page.content
    assert client.get(f"/admin/annotate/qualitysettings/{theirs.pk}/annotators/").status_code == 404
