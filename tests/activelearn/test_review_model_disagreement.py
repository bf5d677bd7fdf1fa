"""The review sample's model disagreement is filled by activelearn from the active version's
prediction: a submission that matches the prediction disagrees 0, one that misses it 1."""

from __future__ import annotations

from activelearn.models import ModelVersion, Prediction
from activelearn.predictions.disagreement import model_disagreement_fill
from annotate.models import QualitySettings, ReviewSample
from tests.annotate.quality_fixtures import TRUTH, WRONG, claim, submit
from tests.annotate.queue_fixtures import make_tasks


def test_model_disagreement_follows_the_prediction(project, alice):
    QualitySettings.objects.create(project=project, review_share=0.5, review_batch_size=100)
    first, second = make_tasks(project, 2)
    version = ModelVersion.objects.create(
        project=project, name="det", kind="pushed", task_type="detection", is_active=True
    )
    boxes = [{**box, "score": 0.9} for box in TRUTH]
    for task in (first, second):
        Prediction.objects.create(task=task, model_version=version, data={"boxes": boxes})
    for payload in (TRUTH, WRONG):
        task = claim(alice, project)
        submit(alice, task["id"], payload)
    assert model_disagreement_fill(project_id=project.pk) == 2
    values = dict(ReviewSample.objects.values_list("task_id", "model_disagreement"))
    assert values[first.pk] == 0.0
    assert values[second.pk] == 1.0
    assert model_disagreement_fill(project_id=project.pk) == 0  # idempotent
