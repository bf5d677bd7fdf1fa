"""The audit measurement on the real database: the active model measured on the audit
labels it cannot have trained on, the learner's curves of actively chosen against audit
labels with the labels saved, the forecast of what the rest of the budget buys, and the
stop recommendation announced to the webhooks once."""

from __future__ import annotations

import datetime as dt
from decimal import Decimal

import numpy as np
import pytest
from django.utils import timezone

from activelearn.audit.forecast import budget_left
from activelearn.audit.model import model_on_audit
from activelearn.audit.reports import audit_measure_run, audit_report_latest
from activelearn.audit.samples import audit_counts, label_order
from activelearn.models import (
    AuditReport,
    LearningSettings,
    ModelVersion,
    Prediction,
    RetrainingRound,
    StopRecommendation,
    WebhookDelivery,
    WebhookEndpoint,
)
from activelearn.retraining.rounds import retraining_round_run
from activelearn.scoring.runs import audit_measure_request
from activelearn.webhooks.delivery import webhooks_notify
from annotate.models import AnnotationTask, Budget
from tests.activelearn.test_retraining import _submitted_task

pytestmark = pytest.mark.django_db

DRAWN = "2026-01-01T00:00:00Z"


def _mark_audit(tasks) -> None:
    for order, task in enumerate(tasks, start=1):
        AnnotationTask.objects.filter(pk=task.pk).update(audit_drawn_at=DRAWN, audit_order=order)


def _submitted(project, annotator, count: int, start: int = 0) -> list[AnnotationTask]:
    return [_submitted_task(project, annotator, start + i) for i in range(count)]


def test_an_outside_model_is_measured_on_the_audit_labels_made_after_it(project, alice, media_root):
    LearningSettings.objects.create(project=project, retrain_counts="submitted")
    early = _submitted(project, alice, 2)
    version = ModelVersion.objects.create(
        project=project,
        name="pushed-v1",
        kind=ModelVersion.Kind.PUSHED,
        task_type=ModelVersion.TaskType.CLASSIFICATION,
        is_active=True,
        metrics={"metric": "accuracy", "accuracy": 0.55, "validation_examples": 40},
    )
    later = _submitted(project, alice, 20, start=2)
    _mark_audit(early + later)
    for index, task in enumerate(early + later):
        red = (index % 2 == 0) if index >= 2 else True
        right = index < 2 or index - 2 < 15  # 15 of the 20 later ones predicted right
        person_first = red == right
        probs = [0.8, 0.2] if person_first else [0.2, 0.8]
        Prediction.objects.create(task=task, model_version=version, data={"probs": probs})

    order = label_order(project)
    figures = model_on_audit(
        project=project, version=version, order=order, rng=np.random.default_rng(0)
    )
    assert figures["metric"] == "accuracy" and figures["examples"] == 20
    assert figures["value"] == pytest.approx(0.75)
    assert figures["low"] == pytest.approx(0.5313, abs=1e-3)
    assert figures["high"] == pytest.approx(0.8881, abs=1e-3)
    assert figures["left_out_labeled_before_the_version"] == 2
    assert figures["validation_slice"] == {"metric": "accuracy", "value": 0.55, "examples": 40}
    assert figures["latest_batch"]["examples"] == 20  # one batch drew them all


def test_the_latest_batch_alone_measures_todays_pool(project, alice, media_root):
    LearningSettings.objects.create(project=project, retrain_counts="submitted")
    version = ModelVersion.objects.create(
        project=project, name="p", kind="pushed", task_type="classification", is_active=True
    )
    tasks = _submitted(project, alice, 12)
    _mark_audit(tasks)
    later = tasks[8:]  # drawn again by a later batch (claimed then)
    AnnotationTask.objects.filter(pk__in=[t.pk for t in later]).update(
        audit_drawn_at="2026-02-01T00:00:00Z"
    )
    for index, task in enumerate(tasks):
        red = index % 2 == 0
        right = index >= 8  # the model gets only the latest batch's right
        probs = [0.8, 0.2] if red == right else [0.2, 0.8]
        Prediction.objects.create(task=task, model_version=version, data={"probs": probs})
    figures = model_on_audit(
        project=project, version=version, order=label_order(project), rng=np.random.default_rng(0)
    )
    assert figures["value"] == pytest.approx(4 / 12) and figures["examples"] == 12
    latest = figures["latest_batch"]
    assert (latest["value"], latest["examples"]) == (1.0, 4)
    assert latest["drawn_at"].startswith("2026-02-01")


def test_without_an_audit_label_there_is_no_estimate_and_it_says_why(project, alice, media_root):
    _submitted(project, alice, 3)
    version = ModelVersion.objects.create(
        project=project, name="p", kind="pushed", task_type="classification", is_active=True
    )
    figures = model_on_audit(
        project=project, version=version, order=label_order(project), rng=np.random.default_rng(0)
    )
    assert figures["reason"] == "No labeled audit task yet."


def test_the_counts_say_what_became_of_the_draws(project, alice, media_root):
    LearningSettings.objects.create(project=project, retrain_counts="submitted")
    labeled = _submitted(project, alice, 3)
    pending = [_submitted_task(project, alice, 10 + i) for i in range(3)]
    AnnotationTask.objects.filter(pk__in=[t.pk for t in pending]).update(state="pending")
    AnnotationTask.objects.filter(pk=pending[0].pk).update(state="skipped")
    _mark_audit(labeled + pending)
    counts = audit_counts(project)
    assert (counts.labeled, counts.waiting, counts.skipped, counts.batches) == (3, 2, 1, 1)


def _labeled_project(project, annotator, *, audit: int, active: int) -> None:
    LearningSettings.objects.create(project=project, retrain_counts="submitted")
    tasks = _submitted(project, annotator, audit + active)
    # Spread through the labels, as the claims would have handed them out.
    step = (audit + active) / audit
    audit_tasks = [tasks[int(k * step)] for k in range(audit)]
    _mark_audit(audit_tasks)


def test_a_measurement_compares_actively_chosen_with_audit_labels_on_the_same_learner(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    _labeled_project(project, alice, audit=16, active=24)
    round_ = RetrainingRound.objects.create(project=project, accepted_count=40)
    with django_capture_on_commit_callbacks(execute=False):
        assert retraining_round_run(round_id=round_.pk) == "done"
        baseline = ModelVersion.objects.get(project=project, is_active=True)
        report = AuditReport.objects.get(project=project)  # the round asked for it
        assert audit_measure_run(report_id=report.pk) == "done"
        assert audit_measure_run(report_id=report.pk) == "taken"
    report.refresh_from_db()
    figures = report.figures
    assert (report.labels, report.model_version) == (40, baseline)
    assert (figures["labels"], figures["audit_labels"], figures["active_labels"]) == (40, 16, 24)
    # The baseline never trained on an audit label: all 16 measure it.
    model = figures["model"]
    assert model["examples"] == 16 and model["value"] == 1.0 and model["low"] < 1.0
    assert model["interval"] == "Wilson 95%"
    curves = figures["curves"]
    assert curves["tested"] == 16 and curves["reason"] == ""
    assert [p["labels"] for p in curves["active"]][-1] == 24
    assert max(p["labels"] for p in curves["random"]) <= 12  # three quarters of the audit
    assert all(p["low"] <= p["value"] <= p["high"] for p in curves["active"] + curves["random"])
    saved = figures["saved"]
    assert "reason" in saved or saved["labels_used"] == 24
    assert "forecast" in figures and figures["audit"]["labeled"] == 16
    done, live = audit_report_latest(project=project)
    assert done == report and live is None


def test_too_few_audit_labels_give_no_curves_and_say_how_many_are_needed(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    _labeled_project(project, alice, audit=3, active=10)
    report = AuditReport.objects.create(project=project)
    with django_capture_on_commit_callbacks(execute=False):
        assert audit_measure_run(report_id=report.pk) == "done"
    report.refresh_from_db()
    assert report.figures["curves"]["reason"].startswith("3 labeled audit images")
    assert report.figures["saved"] == {"reason": report.figures["curves"]["reason"]}
    assert report.figures["model"]["reason"].startswith("No model is active")


def _versions_curve(project, *, threshold: float) -> None:
    """Measured versions along acc(n) = 0.9 - 0.6 (n / 10)^-0.5, at 200 slice examples."""
    LearningSettings.objects.create(project=project, stop_gain_per_1000=threshold)
    for labels in (100, 200, 400, 800, 1600):
        value = 0.9 - 0.6 * (labels / 10) ** -0.5
        ModelVersion.objects.create(
            project=project,
            name=f"b-{labels}",
            kind="baseline",
            task_type="classification",
            labels_at_training=labels,
            metrics={"metric": "accuracy", "accuracy": value, "validation_examples": 2000},
        )


def test_without_audit_curves_the_forecast_fits_the_versions_learning_curve(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    _versions_curve(project, threshold=0.0)
    report = AuditReport.objects.create(project=project)
    with django_capture_on_commit_callbacks(execute=False):
        audit_measure_run(report_id=report.pk)
    report.refresh_from_db()
    forecast = report.figures["forecast"]
    assert forecast["source"] == "validation_slice" and forecast["metric"] == "accuracy"
    assert forecast["fit"]["a"] == pytest.approx(0.9, abs=0.02)
    assert forecast["stop_recommended"] is False and forecast["stop_at"] is None
    assert forecast["path"][0]["labels"] == forecast["labels_now"] == 1600
    assert forecast["path"][-1]["labels"] == forecast["labels_end"]
    assert not StopRecommendation.objects.exists()


def test_a_stop_recommendation_is_announced_to_the_webhooks_once(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    _versions_curve(project, threshold=0.5)  # any gain is under half a point per label
    WebhookEndpoint.objects.create(project=project, url="https://train.example.com/", secret="s")
    with django_capture_on_commit_callbacks(execute=False):
        for _ in range(2):
            report = AuditReport.objects.create(project=project)
            audit_measure_run(report_id=report.pk)
    report.refresh_from_db()
    assert report.figures["forecast"]["stop_recommended"] is True
    recommendation = StopRecommendation.objects.get(project=project)
    assert recommendation.threshold == 0.5 and recommendation.gain_per_1000_high < 0.5
    (delivery,) = WebhookDelivery.objects.all()
    assert delivery.event == "learning.stop_recommended"
    payload = delivery.payload
    assert payload["project"]["id"] == project.pk and payload["source"] == "validation_slice"
    assert set(payload["gain_per_1000"]) == {"value", "low", "high"}
    assert payload["threshold"] == 0.5 and "labels_left" in payload


def test_the_budget_left_is_the_tightest_of_the_queue_the_task_limit_and_the_money(
    project, alice, media_root
):
    LearningSettings.objects.create(project=project, retrain_counts="submitted")
    labeled = _submitted(project, alice, 4)
    now = timezone.now()
    AnnotationTask.objects.filter(pk__in=[t.pk for t in labeled]).update(
        submitted_at=now - dt.timedelta(hours=1)
    )
    for index in range(30):
        task = _submitted_task(project, alice, 100 + index)
        AnnotationTask.objects.filter(pk=task.pk).update(state="pending")
    order = label_order(project)
    assert budget_left(project, order)["labels_left"] == 30
    budget = Budget.objects.get(project=project)
    budget.task_limit = 20
    budget.save()
    assert budget_left(project, order) | {} == budget_left(project, order)
    left = budget_left(project, order)
    assert (left["labels_left"], left["limited_by"]) == (16, "tasks")
    budget.task_limit = None
    budget.money_limit = Decimal("0.50")  # 4 labels at 0.05 spent: 0.30 left = 6 labels
    budget.save()
    left = budget_left(project, order)
    assert (left["labels_left"], left["limited_by"]) == (6, "money")
    assert left["money_per_label"] == pytest.approx(0.05)
    assert left["labels_per_day"] > 0


def test_a_queued_measurement_takes_in_later_requests(project):
    first = audit_measure_request(project=project)
    assert audit_measure_request(project=project) == first
    AuditReport.objects.filter(pk=first.pk).update(state="done")
    assert audit_measure_request(project=project) != first


def test_a_project_with_the_audit_off_that_never_drew_is_not_measured(project):
    LearningSettings.objects.create(project=project, audit_share=0.0)
    assert audit_measure_request(project=project) is None


def test_an_event_nobody_documented_cannot_be_sent(project):
    with pytest.raises(ValueError, match="unknown webhook event"):
        webhooks_notify(project_id=project.pk, event="labels.maybe", payload={})


def test_only_the_newest_reports_are_kept(project, django_capture_on_commit_callbacks):
    from activelearn.audit.reports import KEEP_REPORTS

    old = [AuditReport.objects.create(project=project, state="done") for _ in range(KEEP_REPORTS)]
    report = AuditReport.objects.create(project=project)
    with django_capture_on_commit_callbacks(execute=False):
        audit_measure_run(report_id=report.pk)
    kept = set(AuditReport.objects.values_list("pk", flat=True))
    assert report.pk in kept and old[0].pk not in kept and len(kept) == KEEP_REPORTS
