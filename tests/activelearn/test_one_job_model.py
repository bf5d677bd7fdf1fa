"""The one job model: every kind (scoring run, export, import, retraining round, webhook
delivery, audit measurement, propagation) waits visibly while the broker is down and is sent
by the jobs sweep later; a running job whose worker died is run again while attempts remain,
else failed with the reason in words; the sweep and the tasks can run twice with the same result."""

from __future__ import annotations

import io
from datetime import timedelta

import pytest
from django.core.files.uploadedfile import SimpleUploadedFile
from django.utils import timezone
from rest_framework.test import APIClient

from activelearn.models import RetrainingRound, ScoringRun, WebhookDelivery, WebhookEndpoint
from activelearn.retraining.rounds import retraining_round_start
from activelearn.scoring.runs import (
    audit_measure_request,
    scoring_run_split,
    scoring_run_start,
)
from activelearn.selectors import loop_summary
from activelearn.webhooks.delivery import webhook_attempt, webhook_ping
from annotate.exchange.services import export_create, export_run, import_create
from annotate.jobs import job_models, jobs_sweep
from annotate.models import ExportJob, ImportJob
from annotate.models.jobs import GIVE_UP_AFTER_S, RESEND_AFTER_S
from annotate.propagation.services import propagation_start
from tests.browser.media import video_task

pytestmark = pytest.mark.django_db


@pytest.fixture
def broker(monkeypatch):
    """The broker as the jobs see it: `down` refuses every message, `sent` holds the others."""

    class Broker:
        down = False
        sent: list[tuple[str, int]] = []

        def send(self, name: str, args: list) -> None:
            if self.down:
                from kombu.exceptions import OperationalError

                raise OperationalError("connection refused")
            self.sent.append((name, args[0]))

    fake = Broker()
    fake.sent = []
    monkeypatch.setattr("annotate.jobs.job_send", fake.send)
    return fake


def _later(seconds: float = RESEND_AFTER_S + 1):
    return timezone.now() + timedelta(seconds=seconds)


def _make(kind: str, project, pat):
    if kind == "export":
        return export_create(project=project, user=pat, format="coco")
    if kind == "import":
        upload = SimpleUploadedFile("labels.json", b"{}", content_type="application/json")
        return import_create(project=project, user=pat, format="coco", upload=upload)
    if kind == "scoring run":
        return scoring_run_start(project=project, reason=ScoringRun.Reason.MANUAL)
    if kind == "retraining round":
        return retraining_round_start(project=project, count=0)
    if kind == "audit measurement":
        return audit_measure_request(project=project)
    if kind == "propagation":
        task = video_task(project, frames=3, write_file=False)
        first = task.asset.frames.order_by("index").first()
        return propagation_start(task=task, user=pat, frame_id=first.pk)
    endpoint = WebhookEndpoint.objects.create(
        project=project, url="https://train.example.com/hook", secret="s"
    )
    return webhook_ping(endpoint=endpoint)


KINDS = [
    "export",
    "import",
    "scoring run",
    "retraining round",
    "webhook delivery",
    "audit measurement",
    "propagation",
]


def test_every_job_kind_is_a_job_the_sweep_knows():
    # (A bucket registration needs a bucket server: tests/annotate/test_bucket_sources.py.)
    assert {model.kind_name for model in job_models()} == {*KINDS, "bucket registration"}


@pytest.mark.parametrize("kind", KINDS)
def test_a_job_made_while_the_broker_is_down_waits_saying_so_and_the_sweep_sends_it_later(
    kind, project, pat, broker, media_root, django_capture_on_commit_callbacks
):
    broker.down = True
    with django_capture_on_commit_callbacks(execute=True):
        job = _make(kind, project, pat)
    job.refresh_from_db()
    assert job.state == "queued"
    assert "unreachable" in job.error and f"this {kind} waits" in job.error

    broker.down = False
    assert jobs_sweep().total == 0  # not yet: a message may still be on its way
    report = jobs_sweep(now=_later())
    assert (type(job).task_name, job.pk) in broker.sent
    assert job.pk in report.sent[type(job)._meta.label]
    # Sent once: the next sweep leaves it to the worker for another while.
    assert jobs_sweep(now=_later()).total == 0


def test_webhook_deliveries_pending_with_no_message_are_sent_again(project, broker):
    """Deliveries used to stay pending forever when their message was lost."""
    endpoint = WebhookEndpoint.objects.create(
        project=project, url="https://train.example.com/hook", secret="s"
    )
    lost = WebhookDelivery.objects.create(endpoint=endpoint, event="labels.ready")
    waiting_for_retry = WebhookDelivery.objects.create(
        endpoint=endpoint, event="labels.ready", attempts=2, deadline_at=_later(900)
    )
    WebhookDelivery.objects.filter(pk=lost.pk).update(
        created_at=timezone.now() - timedelta(hours=1)
    )

    jobs_sweep()

    assert broker.sent == [("activelearn.webhook_deliver", lost.pk)]
    assert waiting_for_retry.pk not in [pk for _, pk in broker.sent]


def test_a_running_import_whose_worker_died_is_failed_with_the_reason_in_words(
    project, pat, broker, media_root
):
    upload = SimpleUploadedFile("labels.json", b"{}", content_type="application/json")
    job = import_create(project=project, user=pat, format="coco", upload=upload)
    ImportJob.objects.filter(pk=job.pk).update(
        state="running", attempts=1, deadline_at=timezone.now() - timedelta(seconds=1)
    )

    report = jobs_sweep()

    job.refresh_from_db()
    assert report.failed == {"annotate.ImportJob": [job.pk]}
    assert job.state == "failed" and job.finished_at is not None
    assert job.error.startswith(
        "The worker running this import stopped (killed or restarted) without finishing it"
    )
    assert broker.sent == []


def test_an_export_whose_worker_died_runs_again_until_its_attempts_are_used_up(
    project, pat, broker, media_root
):
    job = export_create(project=project, user=pat, format="coco")
    for attempt in range(1, ExportJob.max_attempts + 1):
        ExportJob.objects.filter(pk=job.pk).update(
            state="running", attempts=attempt, deadline_at=timezone.now() - timedelta(seconds=1)
        )
        report = jobs_sweep()
        job.refresh_from_db()
        if attempt < ExportJob.max_attempts:
            assert report.restarted == {"annotate.ExportJob": [job.pk]}
            assert job.state == "queued" and f"attempt {attempt + 1} of 3" in job.error
            assert broker.sent[-1] == ("annotate.exchange.export_run", job.pk)
    assert job.state == "failed"
    assert "The worker running this export stopped (killed or restarted)" in job.error
    assert "started 3 times" in job.error


def test_a_job_no_worker_took_for_a_day_is_failed_saying_so(project, broker):
    run = ScoringRun.objects.create(project=project, reason="manual")
    ScoringRun.objects.filter(pk=run.pk).update(
        created_at=timezone.now() - timedelta(seconds=GIVE_UP_AFTER_S + 60)
    )
    jobs_sweep()
    run.refresh_from_db()
    assert run.state == "failed" and "No worker took this scoring run" in run.error
    assert broker.sent == []


def test_only_runs_still_queued_for_a_while_are_sent(project, broker):
    old = timezone.now() - timedelta(minutes=5)
    waiting = ScoringRun.objects.create(project=project, reason="cold_start")
    running = ScoringRun.objects.create(
        project=project, reason="manual", state="running", deadline_at=_later(3600)
    )
    just_made = ScoringRun.objects.create(project=project, reason="manual")
    ScoringRun.objects.filter(pk__in=[waiting.pk, running.pk]).update(created_at=old)

    assert jobs_sweep().sent == {"activelearn.ScoringRun": [waiting.pk]}
    assert broker.sent == [("activelearn.score_project", waiting.pk)]
    assert just_made.pk not in [pk for _, pk in broker.sent]


def test_a_sweep_for_a_new_empty_broker_sends_every_queued_job_at_once(project, broker):
    """serve's private Redis starts empty: seed_demo's cold-start run waited two minutes."""
    just_made = ScoringRun.objects.create(project=project, reason="cold_start")
    assert jobs_sweep().sent == {}
    assert jobs_sweep(all_queued=True).sent == {"activelearn.ScoringRun": [just_made.pk]}
    assert broker.sent == [("activelearn.score_project", just_made.pk)]


# --- run twice, same result -----------------------------------------------------------------


def test_an_export_task_run_twice_gives_the_same_result(project, pat, broker, media_root):
    job = export_create(project=project, user=pat, format="coco")
    first = export_run(job_id=job.pk)
    second = export_run(job_id=job.pk)
    assert (first.state, first.attempts, first.progress) == ("done", 1, 1.0)
    assert (second.state, second.attempts, second.file.name) == ("done", 1, first.file.name)


def test_a_scoring_split_run_twice_gives_the_same_run(project, broker):
    run = ScoringRun.objects.create(project=project, reason="manual")
    assert scoring_run_split(run_id=run.pk) == []  # nothing pending: done at once
    assert scoring_run_split(run_id=run.pk) == []
    run.refresh_from_db()
    assert (run.state, run.attempts, run.progress) == ("done", 1, 1.0)


def test_a_delivered_webhook_run_twice_is_not_sent_again(project, broker, settings):
    endpoint = WebhookEndpoint.objects.create(
        project=project, url="https://train.example.com/hook", secret="s"
    )
    delivery = WebhookDelivery.objects.create(
        endpoint=endpoint, event="ping", state="done", attempts=1
    )
    assert webhook_attempt(delivery_id=delivery.pk) == "done"
    delivery.refresh_from_db()
    assert delivery.attempts == 1


# --- states where people see them ------------------------------------------------------------


def test_each_kinds_states_show_in_the_admin(project, pat, broker, media_root, client):
    from django.contrib.auth.models import User

    ScoringRun.objects.create(project=project, state="running", chunks_total=2)
    ExportJob.objects.create(project=project, format="coco", state="failed", error="broken")
    ImportJob.objects.create(project=project, format="coco", file=_file("a.json"))
    RetrainingRound.objects.create(project=project, accepted_count=5, state="skipped")
    endpoint = WebhookEndpoint.objects.create(
        project=project, url="https://train.example.com/hook", secret="s"
    )
    WebhookDelivery.objects.create(endpoint=endpoint, event="ping", state="done")
    User.objects.create_superuser("root", "root@example.com", "pw-0123456789")
    client.login(username="root", password="pw-0123456789")

    for path, state in [
        ("activelearn/scoringrun", "Running"),
        ("annotate/exportjob", "Failed"),
        ("annotate/importjob", "Queued"),
        ("activelearn/retraininground", "Skipped"),
        ("activelearn/webhookdelivery", "Done"),
    ]:
        page = client.get(f"/admin/{path}/")
        assert page.status_code == 200, path
        assert state in page.content.decode(), path
        assert client.get(f"/admin/{path}/?state__exact=queued").status_code == 200


@pytest.mark.django_db(transaction=True)
def test_an_export_made_while_the_broker_is_down_is_a_503_that_says_it_waits(project, pat, broker):
    broker.down = True
    client = APIClient()
    client.force_authenticate(pat)
    answer = client.post(f"/api/projects/{project.pk}/exports/", {"format": "coco"})
    assert answer.status_code == 503
    body = answer.json()
    assert body["state"] == "queued" and "unreachable" in body["error"]


def test_a_training_round_reads_running_in_the_loop_summary(project):
    RetrainingRound.objects.create(project=project, accepted_count=5, state="running")
    summary = loop_summary(project=project)
    assert summary.retraining_state == "running"
    assert "Retraining on 5 labels" in summary.text


def _file(name: str) -> SimpleUploadedFile:
    return SimpleUploadedFile(name, io.BytesIO(b"{}").read())
