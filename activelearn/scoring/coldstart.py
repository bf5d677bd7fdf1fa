"""Cold start: before any model exists, order the queue for coverage instead of upload order.

k-center greedy over the cheap features made at ingest (colour histograms of thumbnails):
the first tasks handed out are spread over what the project holds, so the first labels
already cover it. Scores are stored with no model version.
"""

from __future__ import annotations

import numpy as np
from django.db import transaction
from django.db.models import F

from activelearn.models import ScoringRun
from activelearn.scoring.adapters import POOL_K_CENTER_HEAD
from activelearn.scoring.runs import (
    PENDING,
    batch_close,
    features_for_assets,
    labeled_embeddings_of,
    scores_write,
)
from activelearn.strategies import k_center_scores
from annotate.jobs import job_claim, job_finish
from annotate.models import AnnotationTask, Asset, Project


def coldstart_scores(*, project: Project) -> tuple[list[int], np.ndarray]:
    """Pending task ids (ascending) and their coverage scores in (0, 1]: the k-center pick
    order first, the rest by distance to the picks. Tasks whose asset has no features
    (and none can be made) are left out."""
    rows = list(
        AnnotationTask.objects.filter(project=project, state=PENDING)
        .order_by("pk")
        .values_list("pk", "asset_id")
    )
    assets = Asset.objects.filter(pk__in={asset_id for _, asset_id in rows})
    features = features_for_assets(list(assets))
    rows = [(task_id, asset_id) for task_id, asset_id in rows if asset_id in features]
    if not rows:
        return [], np.zeros(0)
    embeddings = np.asarray([features[asset_id] for _, asset_id in rows], dtype=np.float64)
    labeled = labeled_embeddings_of(project, None, model_embeddings=False)
    labeled_ok = labeled.shape[0] > 0 and labeled.shape[1] == embeddings.shape[1]
    scores = k_center_scores(
        embeddings,
        labeled_embeddings=labeled if labeled_ok else None,
        k=min(len(rows), POOL_K_CENTER_HEAD),
    )
    return [task_id for task_id, _ in rows], scores


def coldstart_order(*, project: Project, run_id: int | None = None) -> int:
    """Score the pending tasks for coverage and write their priorities; with `run_id`, as
    that (one-chunk) run, whose batch draws its audit share as it closes. Idempotent: the
    same tasks and features give the same rows."""
    if run_id is not None:
        # A redelivery of a run already running does it again: the writes are upserts.
        claimed = job_claim(ScoringRun, run_id, chunks_total=1, chunks_done=0, tasks_scored=0)
        if (
            not claimed
            and not ScoringRun.objects.filter(pk=run_id, state=ScoringRun.State.RUNNING).exists()
        ):
            return 0
    task_ids, scores = coldstart_scores(project=project)
    breakdowns = [{"k_center": round(float(score), 6)} for score in scores]
    with transaction.atomic():
        if run_id is not None:
            state = (
                ScoringRun.objects.select_for_update()
                .filter(pk=run_id)
                .values_list("state", flat=True)
                .first()
            )
            if state != ScoringRun.State.RUNNING:
                return 0
        scores_write(
            project=project,
            version=None,
            task_ids=task_ids,
            scores=scores,
            breakdowns=breakdowns,
        )
        if run_id is not None:
            batch_close(project=project, run_id=run_id, version=None)
            job_finish(
                ScoringRun, run_id, chunks_done=F("chunks_total"), tasks_scored=len(task_ids)
            )
    return len(task_ids)
