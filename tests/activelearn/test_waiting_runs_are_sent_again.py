"""A scoring run made while the broker was down is sent again by the periodic job."""

from datetime import timedelta

import pytest
from django.utils import timezone

from activelearn.models import ScoringRun
from activelearn.scoring.runs import scoring_runs_requeue_waiting

pytestmark = pytest.mark.django_db


def test_only_runs_still_queued_for_a_while_are_sent(project, monkeypatch):
    sent = []
    monkeypatch.setattr("annotate.jobs.job_send", lambda name, args: sent.append(args[0]))
    old = timezone.now() - timedelta(minutes=5)
    waiting = ScoringRun.objects.create(project=project, reason="cold_start")
    running = ScoringRun.objects.create(project=project, reason="manual", state="running")
    just_made = ScoringRun.objects.create(project=project, reason="manual")
    ScoringRun.objects.filter(pk__in=[waiting.pk, running.pk]).update(created_at=old)

    assert scoring_runs_requeue_waiting() == 1
    assert sent == [waiting.pk]
    assert just_made.pk not in sent
