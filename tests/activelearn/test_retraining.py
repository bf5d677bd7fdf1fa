"""The retraining loop: after N accepted labels an export is made, the webhooks are told, and
the built-in baseline is retrained to ONNX, measured on a fixed validation slice and
activated when it beats the active version - end to end through a real Celery worker."""

from __future__ import annotations

import time
from datetime import timedelta

import numpy as np
import onnxruntime as ort
import pytest
from django.utils import timezone

from activelearn.models import (
    LearningSettings,
    ModelVersion,
    RetrainingRound,
    ScoringRun,
    WebhookDelivery,
    WebhookEndpoint,
)
from activelearn.retraining.baseline import baseline_fit
from activelearn.retraining.rounds import (
    FEATURE_SIZE,
    baseline_spec,
    baseline_to_onnx,
    in_validation_slice,
    labels_accepted,
    retraining_round_run,
)
from annotate.jobs import jobs_sweep
from annotate.models import Annotation, AnnotationTask, Box, LabelClass
from annotate.models.exchange_jobs import ExportJob
from annotate.queue.reviews import review_decide
from tests.activelearn.scoring_helpers import image_task_create, version_register

RED, BLUE = "person", "bicycle"


def _wait_for(predicate, *, timeout: float, what: str):
    deadline = time.monotonic() + timeout
    while time.monotonic() < deadline:
        value = predicate()
        if value:
            return value
        time.sleep(0.2)
    raise AssertionError(f"timed out waiting for {what}")


def _submitted_task(project, annotator, index: int) -> AnnotationTask:
    """A red picture boxed as a person or a blue one boxed as a bicycle, submitted."""
    red = index % 2 == 0
    colour = (200 + index % 50, 20 + index % 30, 30) if red else (30, 20 + index % 30, 200)
    task = image_task_create(project, colour, noise=20, salt=str(index))
    annotation = Annotation.objects.create(
        task=task, author=annotator, version=1, kind=Annotation.Kind.SUBMISSION
    )
    label = LabelClass.objects.get(project=project, name=RED if red else BLUE)
    Box.objects.create(annotation=annotation, label_class=label, x=8, y=6, w=40, h=30)
    task.state = AnnotationTask.State.SUBMITTED
    task.annotator = annotator
    task.save(update_fields=["state", "annotator"])
    return task


def _labeled_project(project, annotator, *, count: int) -> list[AnnotationTask]:
    """At least `count` submitted tasks, and enough of them in the validation slice."""
    tasks: list[AnnotationTask] = []
    while len(tasks) < count or sum(_in_slice(t) for t in tasks) < 4:
        tasks.append(_submitted_task(project, annotator, len(tasks)))
    return tasks


def _in_slice(task) -> bool:
    return in_validation_slice(project_id=task.project_id, task_id=task.pk)


def _wrong_baseline(project) -> ModelVersion:
    """An active baseline that calls red pictures bicycles and blue ones persons."""
    rng = np.random.default_rng(3)
    pixels = FEATURE_SIZE * FEATURE_SIZE
    red = np.concatenate([np.full(pixels, 0.8), np.full(pixels, 0.1), np.full(pixels, 0.1)])
    blue = red[::-1].copy()
    features = np.stack([red if i % 2 == 0 else blue for i in range(20)])
    features = features + rng.normal(0, 0.05, features.shape)
    labels = np.asarray([BLUE if i % 2 == 0 else RED for i in range(20)])
    model = baseline_fit(features, labels)
    return version_register(
        project,
        baseline_to_onnx(model),
        name="baseline-wrong",
        kind=ModelVersion.Kind.BASELINE,
        spec=baseline_spec([str(c) for c in model.classes]),
    )


@pytest.mark.worker
@pytest.mark.django_db(transaction=True)
def test_accepted_labels_retrain_the_baseline_which_is_activated_and_rescores(
    project, alice, rita, celery_worker
):
    tasks = _labeled_project(project, alice, count=24)
    LearningSettings.objects.create(
        project=project, retrain_every_accepted=len(tasks), rescore_every_labels=0
    )
    pending = [image_task_create(project, (120, 20, 120), salt=f"p{i}") for i in range(3)]
    wrong = _wrong_baseline(project)
    # The worker's settings refuse loopback URLs: the delivery is logged as refused.
    WebhookEndpoint.objects.create(project=project, url="http://127.0.0.1:9/hook", secret="s")

    for task in tasks[:-1]:
        review_decide(task=task, reviewer=rita, decision="accept")
    assert not RetrainingRound.objects.exists()
    review_decide(task=tasks[-1], reviewer=rita, decision="accept")

    round_ = RetrainingRound.objects.get(project=project)
    assert round_.accepted_count == len(tasks)
    _wait_for(
        lambda: RetrainingRound.objects.get(pk=round_.pk).state not in ("queued", "running"),
        timeout=90,
        what="the retraining round to finish",
    )
    round_.refresh_from_db()
    assert (round_.state, round_.activated, round_.note) == ("done", True, "")

    version = round_.model_version
    assert version.kind == "baseline" and version.is_active
    assert version.labels_at_training == len(tasks)
    assert version.spec["class_names"] == sorted([RED, BLUE])
    metrics = version.metrics
    assert metrics["metric"] == "accuracy" and metrics["accuracy"] == 1.0
    assert metrics["compared_with"]["version"] == wrong.pk
    assert metrics["compared_with"]["accuracy"] == 0.0
    assert metrics["validation_task_ids"] == sorted(t.pk for t in tasks if _in_slice(t))
    wrong.refresh_from_db()
    assert not wrong.is_active

    # A real ONNX file that takes the image tensor scoring feeds.
    with version.file.open("rb") as handle:
        session = ort.InferenceSession(handle.read(), providers=["CPUExecutionProvider"])
    assert session.get_inputs()[0].shape[1:] == [3, FEATURE_SIZE, FEATURE_SIZE]

    run = _wait_for(
        lambda: ScoringRun.objects.filter(
            model_version=version, reason="activation", state="done"
        ).first(),
        timeout=60,
        what="the activation's scoring run",
    )
    assert run.tasks_scored == len(pending)

    export = _wait_for(
        lambda: ExportJob.objects.filter(pk=round_.export_job_id, state="done").first(),
        timeout=60,
        what="the export the webhook links to",
    )
    assert export.format == "coco"
    delivery = _wait_for(
        lambda: WebhookDelivery.objects.filter(state="failed").first(),
        timeout=30,
        what="the refused delivery",
    )
    assert delivery.payload["export"]["url"].endswith(f"/api/exports/{export.pk}/")
    assert delivery.attempt_log.get().error.startswith("refused:")


@pytest.mark.django_db
def test_a_version_that_does_not_beat_the_active_one_is_kept_but_not_activated(
    project, alice, rita, media_root, django_capture_on_commit_callbacks
):
    tasks = _labeled_project(project, alice, count=16)
    AnnotationTask.objects.filter(pk__in=[t.pk for t in tasks]).update(state="accepted")
    first = RetrainingRound.objects.create(project=project, accepted_count=len(tasks))
    with django_capture_on_commit_callbacks(execute=False):
        assert retraining_round_run(round_id=first.pk) == "done"
    first.refresh_from_db()
    assert first.activated and first.model_version.is_active

    second = RetrainingRound.objects.create(project=project, accepted_count=len(tasks) + 1)
    with django_capture_on_commit_callbacks(execute=False):
        retraining_round_run(round_id=second.pk)
    second.refresh_from_db()
    assert second.state == "done" and not second.activated
    assert second.note == "Not activated: 1.000 does not beat 1.000."
    assert (
        second.model_version.metrics["validation_task_ids"]
        == (first.model_version.metrics["validation_task_ids"])
    )
    assert ModelVersion.objects.get(is_active=True) == first.model_version


@pytest.mark.django_db
def test_a_round_run_twice_trains_once(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    tasks = _labeled_project(project, alice, count=16)
    AnnotationTask.objects.filter(pk__in=[t.pk for t in tasks]).update(state="accepted")
    round_ = RetrainingRound.objects.create(project=project, accepted_count=len(tasks))
    with django_capture_on_commit_callbacks(execute=False):
        assert retraining_round_run(round_id=round_.pk) == "done"
        assert retraining_round_run(round_id=round_.pk) == "taken"
    assert ModelVersion.objects.filter(project=project).count() == 1


@pytest.mark.django_db
def test_a_round_starts_only_after_n_more_accepted_labels(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    LearningSettings.objects.create(project=project, retrain_every_accepted=3)
    tasks = [_submitted_task(project, alice, i) for i in range(7)]
    started = []
    with django_capture_on_commit_callbacks(execute=False):
        for task in tasks:
            AnnotationTask.objects.filter(pk=task.pk).update(state="accepted")
            started.append(labels_accepted(project_id=project.pk) is not None)
    assert started == [False, False, True, False, False, True, False]
    assert list(
        RetrainingRound.objects.order_by("accepted_count").values_list("accepted_count", flat=True)
    ) == [3, 6]


@pytest.mark.django_db
def test_a_project_on_an_uploaded_model_still_retrains_the_baseline_without_activating_it(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    # Regression: every round was "Skipped" once an uploaded checkpoint was active.
    LearningSettings.objects.create(project=project, retrain_every_accepted=1)
    mine = version_register(project, None, name="engineer-model", kind=ModelVersion.Kind.ONNX)
    WebhookEndpoint.objects.create(project=project, url="https://train.example.com/", secret="s")
    tasks = _labeled_project(project, alice, count=16)
    AnnotationTask.objects.filter(pk__in=[t.pk for t in tasks]).update(state="accepted")
    with django_capture_on_commit_callbacks(execute=False):
        round_ = labels_accepted(project_id=project.pk)
    assert round_.state == "queued" and round_.export_job is not None
    delivery = WebhookDelivery.objects.get()
    assert delivery.event == "labels.ready" and delivery.payload["accepted_labels"] == len(tasks)

    with django_capture_on_commit_callbacks(execute=False):
        assert retraining_round_run(round_id=round_.pk) == "done"
    round_.refresh_from_db()
    baseline = round_.model_version
    assert baseline.kind == "baseline" and not round_.activated
    assert baseline.metrics["accuracy"] == 1.0  # stored and measured
    assert round_.note == (
        "Not activated: the active version 'engineer-model' (ONNX checkpoint) was chosen by a "
        "user; this baseline measures 1.000 on the validation slice and can be activated by "
        "hand."
    )
    assert ModelVersion.objects.get(is_active=True) == mine


@pytest.mark.django_db
def test_a_round_whose_worker_died_while_training_is_run_again_by_the_sweep(
    project, alice, media_root, monkeypatch, django_capture_on_commit_callbacks
):
    """Rounds used to be taken again only by a message that never came."""
    sent = []
    monkeypatch.setattr("annotate.jobs.job_send", lambda name, args: sent.append((name, args)))
    tasks = _labeled_project(project, alice, count=16)
    AnnotationTask.objects.filter(pk__in=[t.pk for t in tasks]).update(state="accepted")
    round_ = RetrainingRound.objects.create(
        project=project, accepted_count=len(tasks), state="running", attempts=1
    )
    with django_capture_on_commit_callbacks(execute=False):
        assert retraining_round_run(round_id=round_.pk) == "taken"  # a redelivery: left alone
        RetrainingRound.objects.filter(pk=round_.pk).update(
            deadline_at=timezone.now() - timedelta(seconds=1)
        )
        report = jobs_sweep()
        assert report.restarted == {"activelearn.RetrainingRound": [round_.pk]}
        assert sent == [("activelearn.retrain_baseline", [round_.pk])]
        assert retraining_round_run(round_id=round_.pk) == "done"
    round_.refresh_from_db()
    assert (round_.state, round_.attempts) == ("done", 2)
    assert ModelVersion.objects.get().name == f"baseline-{len(tasks)}-r{round_.pk}"


def _labeled_outside_the_slice(project, annotator, *, count: int) -> list[AnnotationTask]:
    """`count` submitted tasks of both classes, none of them in the validation slice."""
    tasks: list[AnnotationTask] = []
    index = 0
    while len(tasks) < count:
        task = _submitted_task(project, annotator, index)
        index += 1
        if _in_slice(task):
            task.delete()
        else:
            tasks.append(task)
    return tasks


@pytest.mark.django_db
def test_the_first_round_trains_and_activates_even_with_no_label_in_the_validation_slice(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    """A newcomer's first five labels used to give no model when none fell in the slice."""
    tasks = _labeled_outside_the_slice(project, alice, count=5)
    AnnotationTask.objects.filter(pk__in=[t.pk for t in tasks]).update(state="accepted")
    round_ = RetrainingRound.objects.create(project=project, accepted_count=len(tasks))
    with django_capture_on_commit_callbacks(execute=False):
        assert retraining_round_run(round_id=round_.pk) == "done"
    round_.refresh_from_db()
    version = ModelVersion.objects.get(project=project)
    assert version.is_active and round_.activated
    assert "first model" in round_.note


@pytest.mark.django_db
def test_a_later_round_with_too_few_validation_labels_is_skipped_and_keeps_the_active_model(
    project, alice, media_root, django_capture_on_commit_callbacks
):
    active = _wrong_baseline(project)
    active.is_active = True
    active.save(update_fields=["is_active"])
    tasks = _labeled_outside_the_slice(project, alice, count=5)
    AnnotationTask.objects.filter(pk__in=[t.pk for t in tasks]).update(state="accepted")
    round_ = RetrainingRound.objects.create(project=project, accepted_count=len(tasks))
    with django_capture_on_commit_callbacks(execute=False):
        assert retraining_round_run(round_id=round_.pk) == "skipped"
    assert list(ModelVersion.objects.filter(project=project, is_active=True)) == [active]
