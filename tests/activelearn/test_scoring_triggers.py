"""When rescoring starts: on activation, on pushed predictions, and after N new labels."""

from __future__ import annotations

from datetime import timedelta

import pytest
from django.utils import timezone

from activelearn.models import LearningSettings, ModelVersion, ScoringRun
from activelearn.scoring.runs import maybe_rescore_after_labels, rescore_project
from annotate.models import AnnotationTask
from tests.activelearn.scoring_helpers import image_task_create, version_register

pytestmark = pytest.mark.django_db


def _submit(tasks) -> None:
    AnnotationTask.objects.filter(pk__in=[t.pk for t in tasks]).update(
        state="submitted", submitted_at=timezone.now()
    )


def test_a_run_starts_after_every_n_new_labels_and_not_before(project):
    LearningSettings.objects.create(project=project, rescore_every_labels=3)
    version_register(project, None, name="pushed", kind=ModelVersion.Kind.PUSHED)
    tasks = [image_task_create(project, (10 * i, 0, 0)) for i in range(7)]
    rescore_project(project=project, reason=ScoringRun.Reason.ACTIVATION)
    ScoringRun.objects.update(created_at=timezone.now() - timedelta(minutes=1))

    _submit(tasks[:2])
    assert maybe_rescore_after_labels(project=project) is None
    _submit(tasks[2:3])
    run = maybe_rescore_after_labels(project=project)
    assert run is not None and run.reason == ScoringRun.Reason.LABELS
    # The count starts again from the new run.
    assert maybe_rescore_after_labels(project=project) is None
    assert ScoringRun.objects.count() == 2


def test_zero_turns_rescoring_after_labels_off(project):
    LearningSettings.objects.create(project=project, rescore_every_labels=0)
    tasks = [image_task_create(project, (10 * i, 0, 0)) for i in range(3)]
    _submit(tasks)
    assert maybe_rescore_after_labels(project=project) is None
    assert not ScoringRun.objects.exists()


def test_without_any_model_a_rescoring_is_a_cold_start(project):
    run = rescore_project(project=project, reason=ScoringRun.Reason.PUSH)
    assert run.reason == ScoringRun.Reason.COLD_START
    assert run.model_version is None
