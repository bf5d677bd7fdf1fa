"""The active model measured on the audit sample: its accuracy (or mAP, or OKS AP) on the
labeled audit tasks it cannot have trained on, with a 95% interval.

The audit tasks were drawn uniformly from the pool (annotate.queue.audit) and handed out in
an order that does not depend on them, so those labeled are a uniform sample of the pool
they were drawn from: the plain mean of the model's hits is an unbiased estimate of its
accuracy there, and Wilson's interval says how sure it is (mAP and OKS AP: a bootstrap over
the sampled tasks). The version's figure on the validation slice is given beside it: the
slice's labeled tasks are the ones the ranking chose, the hardest, so it reads low.

On which data: each batch's pool is what the ranking left, and the ranking takes the hardest
tasks first, so the pools shrink towards easier tasks. All audit labels together measure the
pools over the project's history: higher than the model would score on the whole data set
(which holds the hard tasks already labeled), lower than on today's pool. The audit labels of
the latest batch alone (`latest_batch`) measure today's pool, with fewer examples.

A version may not be measured on labels it trained on. The built-in baseline never trains
on audit tasks (activelearn.retraining.rounds), so every labeled audit task counts for it;
an uploaded checkpoint or pushed predictions come from training outside, which may have
used exported audit labels, so for them only the audit tasks first labeled after the version
was made count.
"""

from __future__ import annotations

import logging

import numpy as np

from activelearn.audit.samples import LabelOrder
from activelearn.audit.stats import bootstrap_interval, wilson_interval
from activelearn.inference.spec import ScoringError
from activelearn.models import ModelVersion, Prediction
from activelearn.scoring.curve import headline_metric
from activelearn.scoring.evaluation import (
    HEADLINE_OF,
    accuracy_hits,
    box_map,
    class_names_of,
    keypoint_ap,
    latest_annotations,
)
from activelearn.scoring.runs import predictions_infer
from annotate.models import AnnotationTask, LabelClass, Project

logger = logging.getLogger(__name__)

# mAP and OKS AP run COCOeval once per resample.
COCO_BOOTSTRAP_DRAWS = 200
MIN_EXAMPLES = 1


def _predictions(version: ModelVersion, task_ids: list[int]) -> dict[int, dict]:
    """The version's predictions on the tasks: stored ones, and for an ONNX file (uploaded
    or the baseline) the missing ones made now, as scoring makes them."""
    stored = dict(
        Prediction.objects.filter(model_version=version, task_id__in=task_ids).values_list(
            "task_id", "data"
        )
    )
    missing = [task_id for task_id in task_ids if task_id not in stored]
    if missing and version.kind != ModelVersion.Kind.PUSHED and version.file:
        tasks = list(AnnotationTask.objects.filter(pk__in=missing).select_related("asset"))
        try:
            stored |= predictions_infer(version, tasks)
        except ScoringError as error:
            logger.warning("cannot run %s on the audit tasks: %s", version, error)
    return stored


def _eligible(version: ModelVersion, order: LabelOrder) -> tuple[list[int], int]:
    """The labeled audit tasks the version cannot have trained on, and how many were left
    out because they were labeled before it was made."""
    audited = order.audited
    if version.kind == ModelVersion.Kind.BASELINE:
        return audited, 0
    after = [pk for pk in audited if order.first_labeled[pk] > version.created_at]
    return after, len(audited) - len(after)


def model_on_audit(
    *, project: Project, version: ModelVersion | None, order: LabelOrder, rng: np.random.Generator
) -> dict:
    """The version's headline metric on its eligible audit tasks with a 95% interval, or
    {"reason": ...} saying why there is none."""
    if version is None:
        return {"reason": "No model is active: the queue is in cold-start order."}
    base = {"version": version.pk, "name": version.name, "kind": version.kind}
    slice_metric = headline_metric(version.metrics or {})
    base["validation_slice"] = (
        None
        if slice_metric is None
        else {
            "metric": slice_metric[0],
            "value": slice_metric[1],
            "examples": (version.metrics or {}).get("validation_examples"),
        }
    )
    eligible, before = _eligible(version, order)
    base["left_out_labeled_before_the_version"] = before
    if not eligible:
        why = (
            "No labeled audit task yet."
            if not order.audited
            else f"All {before} labeled audit tasks were labeled before {version.name!r} was "
            "made, so it may have trained on them."
        )
        return {**base, "reason": why}
    latest = latest_annotations(project, eligible)
    predictions = _predictions(version, list(latest))
    latest = {pk: annotation for pk, annotation in latest.items() if pk in predictions}
    classes = list(LabelClass.objects.filter(project=project).order_by("order", "id"))
    metric = HEADLINE_OF.get(version.task_type, "accuracy")
    figure = _figure(project, version, metric, predictions, latest, classes, rng)
    if "reason" in figure:
        return {**base, **figure}
    last = max(order.drawn_at[pk] for pk in latest)
    newest = {pk: a for pk, a in latest.items() if order.drawn_at[pk] == last}
    latest_batch = _figure(project, version, metric, predictions, newest, classes, rng)
    if "reason" not in latest_batch:
        latest_batch = {key: latest_batch[key] for key in ("value", "low", "high", "examples")} | {
            "drawn_at": last.isoformat()
        }
    else:
        latest_batch = None
    return {**base, **figure, "latest_batch": latest_batch}


def _figure(project, version, metric, predictions, latest, classes, rng) -> dict:
    """The metric over the tasks of `latest`, with its interval, or {"reason": ...}."""
    if metric == "accuracy":
        hits = accuracy_hits(predictions, latest, classes, class_names_of(version))
        if len(hits) < MIN_EXAMPLES:
            return {"reason": "No labeled audit image has one class the model predicts."}
        right = int(sum(hits.values()))
        low, high = wilson_interval(right, len(hits))
        return {
            "metric": "accuracy",
            "value": right / len(hits),
            "low": low,
            "high": high,
            "examples": len(hits),
            "interval": "Wilson 95%",
        }
    ids = sorted(latest)
    names = project.keypoint_names

    def measure(indices: np.ndarray) -> float | None:
        # A resample repeats tasks: each copy becomes an image of its own.
        chosen = {n: ids[i] for n, i in enumerate(indices)}
        sample_latest = {n: latest[pk] for n, pk in chosen.items()}
        sample_predictions = {n: predictions[pk] for n, pk in chosen.items()}
        if metric == "mAP":
            return box_map(sample_predictions, sample_latest, classes)
        return keypoint_ap(sample_predictions, sample_latest, classes, names)

    value = measure(np.arange(len(ids)))
    if value is None:
        return {"reason": f"The labeled audit tasks hold nothing to measure {metric} on."}
    interval = bootstrap_interval(len(ids), measure, rng=rng, draws=COCO_BOOTSTRAP_DRAWS)
    return {
        "metric": metric,
        "value": value,
        "low": None if interval is None else interval[0],
        "high": None if interval is None else interval[1],
        "examples": len(ids),
        "interval": "bootstrap 95%",
    }
