"""Scoring runs: split a project's pending tasks into chunks, score each chunk with the active
model version and the project's strategy, store predictions, scores and queue priorities.

Every write is an upsert on (task, model version) in one transaction per chunk, so a chunk run
twice (a retry, or a redelivery after its worker died) leaves the same rows and counts once.
The math lives in `activelearn.strategies`; running the model in `activelearn.inference.runtime`.
"""

from __future__ import annotations

import json
import logging
from collections.abc import Sequence

import numpy as np
from django.conf import settings as django_settings
from django.db import connection, transaction
from django.db.models import F, Q
from django.utils import timezone

from activelearn.inference.runtime import (
    ImageRef,
    ModelOutputs,
    asset_features_compute,
    images_infer,
)
from activelearn.models import (
    AuditReport,
    LearningSettings,
    ModelVersion,
    Prediction,
    ScoringRun,
    TaskScore,
)
from activelearn.scoring.adapters import (
    ScoringContext,
    frames_of,
    needs_pool,
    reads_every_frame,
    tasks_score,
    uses_auto,
    uses_embeddings,
    uses_tracks,
)
from activelearn.scoring.auto import auto_credits_of
from activelearn.scoring.evaluation import version_evaluate
from activelearn.scoring.mastery import keypoint_weights_following_mastery
from annotate.jobs import job_enqueue, job_fail, job_finish, job_heartbeat, job_run_deadline
from annotate.models import AnnotationTask, Asset, Frame, Project
from annotate.propagation.selectors import propagated_boxes
from annotate.queue.audit import audit_draw
from annotate.queue.priorities import priorities_replace, priorities_write_bulk
from annotate.queue.selectors import ranked_head_ids

logger = logging.getLogger(__name__)

PENDING = AnnotationTask.State.PENDING
# Frames of a video segment run through the model: first, middle and last. Consecutive
# frames look alike; three catch a change within the segment at a tenth of the cost.
FRAMES_PER_SEGMENT = 3


# --- starting and splitting runs ------------------------------------------------------------


# Reasons that come in bursts (20 uploads: 20 "new tasks"). A queued run has not read its
# pending tasks yet, so it also covers tasks added after it was made: one run, not twenty.
COALESCED_REASONS = (ScoringRun.Reason.NEW_TASKS, ScoringRun.Reason.COLD_START)


def scoring_run_start(
    *, project: Project, reason: str, model_version: ModelVersion | None = None
) -> ScoringRun:
    """Start rescoring `project` with `model_version` (default: the active one; with no
    model at all, the cold-start coverage order). A burst reason reuses a still-queued run
    of the same version and reason; otherwise unfinished runs of the project are
    superseded. The Celery task is sent after commit; if the broker is unreachable the run
    stays queued with the reason in `error`, never silently run inline."""
    with transaction.atomic():
        _starts_serialize(project.pk)
        if model_version is None:
            model_version = ModelVersion.objects.active_for(project)
        reason = ScoringRun.Reason.COLD_START if model_version is None else reason
        if reason in COALESCED_REASONS:
            # Locked: a worker splitting it (select_for_update there too) waits, then reads
            # the tasks this transaction added; or it split first, and this finds nothing.
            waiting = (
                ScoringRun.objects.select_for_update()
                .filter(
                    project=project,
                    model_version=model_version,
                    reason=reason,
                    state=ScoringRun.State.QUEUED,
                )
                .order_by("-created_at", "-id")
                .first()
            )
            if waiting is not None:
                return waiting
        now = timezone.now()
        ScoringRun.objects.filter(
            project=project, state__in=[ScoringRun.State.QUEUED, ScoringRun.State.RUNNING]
        ).update(state=ScoringRun.State.SUPERSEDED, finished_at=now, deadline_at=None)
        run = ScoringRun.objects.create(project=project, model_version=model_version, reason=reason)
        # The broker down: the run stays queued saying so, and the jobs sweep sends it.
        job_enqueue(run)
    return run


# First key of the advisory lock that serializes a project's run starts (the project id the
# second): "scr".
START_LOCK_NAMESPACE = 0x736372


def _starts_serialize(project_id: int) -> None:
    """One start at a time per project, until the caller's transaction ends. Two starts
    superseding the same runs with one UPDATE each could lock those rows in different
    orders (each sees its own row versions) and deadlock: an upload's "new tasks" start
    against a push's activation, say."""
    with connection.cursor() as cursor:
        cursor.execute("SELECT pg_advisory_xact_lock(%s, %s)", [START_LOCK_NAMESPACE, project_id])


# A run after new labels scores a bounded set, not the pool: the previous top of the
# queue (where the next claims come from, so where a better model matters first) and a fresh
# random sample of the pool (so a task the old model undervalued can rise, and over rounds
# every task is seen again). Its cost is the same at 10,000 tasks as at 1,000,000; runs
# after an activation, a push or new tasks still score the whole pool.
LABELS_RESCORE_TOP = 1000
LABELS_RESCORE_SAMPLE = 1000


def bounded_candidates(
    *, project: Project, seed: int, top: int | None = None, sample: int | None = None
) -> list[int] | None:
    """The pending tasks a bounded run scores (ids ascending): the `top` highest-priority
    ranked ones and about `sample` drawn at random (pages of the table sampled, seeded by
    the run), or None when the pool is small enough to score whole. Reads in proportion to
    top + sample, never the whole pool."""
    top = LABELS_RESCORE_TOP if top is None else top
    sample = LABELS_RESCORE_SAMPLE if sample is None else sample
    task = AnnotationTask._meta.db_table
    bound = top + sample
    with connection.cursor() as cursor:
        cursor.execute(
            f"SELECT count(*) FROM (SELECT 1 FROM {task} WHERE project_id = %s"  # noqa: S608
            " AND state = 'pending' LIMIT %s) AS pool",
            [project.pk, bound + 1],
        )
        if cursor.fetchone()[0] <= bound:
            return None
        # The head of the queue, from the claim's own index.
        ids = set(ranked_head_ids(project_id=project.pk, count=top))
        # The planner's row count of the table (kept by autovacuum): the share of its pages
        # that holds about `sample` tasks of the project, were they all its own and pending.
        cursor.execute(
            "SELECT greatest(reltuples, 1) FROM pg_class WHERE oid = %s::regclass", [task]
        )
        percent = min(100.0, 100.0 * 2 * sample / cursor.fetchone()[0])
        # The table holds other projects' tasks too (or the count is stale): a sample that
        # finds too few of this project's is drawn again from four times as many pages.
        while True:
            cursor.execute(
                f"SELECT id FROM {task} TABLESAMPLE SYSTEM (%s) REPEATABLE (%s)"  # noqa: S608
                " WHERE project_id = %s AND state = 'pending' LIMIT %s",
                [percent, seed, project.pk, sample],
            )
            sampled = [row[0] for row in cursor.fetchall()]
            if len(sampled) >= sample // 2 or percent >= 100.0:
                break
            percent = min(100.0, percent * 4)
        ids.update(sampled)
    return sorted(ids)


def scoring_run_split(*, run_id: int) -> list[list[int]]:
    """Turn a queued run into a running one: its pending tasks in chunks (ids ascending).
    A run after new labels with a model scores a bounded set (bounded_candidates). A run
    that is not queued any more (already split, superseded) gives no chunks."""
    with transaction.atomic():
        run = ScoringRun.objects.select_for_update().select_related("project").get(pk=run_id)
        if run.state != ScoringRun.State.QUEUED:
            return []
        size = LearningSettings.for_project(run.project).scoring_chunk_size
        candidates = None
        if run.reason == ScoringRun.Reason.LABELS and run.model_version_id is not None:
            candidates = bounded_candidates(project=run.project, seed=run.pk)
        if candidates is None:
            ids = list(
                AnnotationTask.objects.filter(project=run.project, state=PENDING)
                .order_by("pk")
                .values_list("pk", flat=True)
            )
        else:
            ids = candidates
        run.candidates = candidates
        chunks = [ids[start : start + size] for start in range(0, len(ids), size)]
        # The claim of the one job model, under this lock: queued -> running, one attempt.
        now = timezone.now()
        run.chunks_total = len(chunks)
        run.chunks_done = run.tasks_scored = 0
        run.state = ScoringRun.State.RUNNING if chunks else ScoringRun.State.DONE
        run.error = ""
        run.attempts += 1
        run.started_at = now
        run.progress = 0.0 if chunks else 1.0
        run.deadline_at = job_run_deadline(ScoringRun, now) if chunks else None
        run.finished_at = None if chunks else now
        run.save(
            update_fields=[
                "candidates",
                "chunks_total",
                "chunks_done",
                "tasks_scored",
                "state",
                "error",
                "attempts",
                "started_at",
                "progress",
                "deadline_at",
                "finished_at",
            ]
        )
    return chunks


def scoring_run_fail(*, run_id: int, error: str) -> None:
    job_fail(ScoringRun, run_id, error[:2000])


# --- loading a chunk ------------------------------------------------------------------------


def _segment_frames(frames: list[Frame]) -> list[Frame]:
    if len(frames) <= FRAMES_PER_SEGMENT:
        return frames
    positions = np.unique(np.linspace(0, len(frames) - 1, FRAMES_PER_SEGMENT).round().astype(int))
    return [frames[p] for p in positions]


def _rounded(row: np.ndarray) -> list[float]:
    return [round(float(v), 6) for v in row]


def _infer(
    version: ModelVersion, tasks: list[AnnotationTask], *, every_frame: bool = False
) -> dict[int, dict]:
    """Run the model over the chunk's images (video segments: a few frames each, or every
    frame for a strategy that reads tracks) and return the prediction data per task id,
    in the shape Prediction.data documents."""
    video = [task for task in tasks if task.kind == AnnotationTask.Kind.VIDEO]
    frames_by_asset: dict[int, list[Frame]] = {}
    if video:
        condition = Q()
        for task in video:
            condition |= Q(asset_id=task.asset_id, index__range=(task.frame_start, task.frame_end))
        for frame in Frame.objects.filter(condition).order_by("asset_id", "index"):
            frames_by_asset.setdefault(frame.asset_id, []).append(frame)
    refs: list[ImageRef] = []
    owners: list[tuple[int, int | None]] = []  # (task id, frame index or None)
    for task in tasks:
        if task.kind == AnnotationTask.Kind.VIDEO:
            segment = [
                frame
                for frame in frames_by_asset.get(task.asset_id, [])
                if task.frame_start <= frame.index <= task.frame_end
            ]
            for frame in segment if every_frame else _segment_frames(segment):
                refs.append(ImageRef(frame.image.name, frame.width, frame.height))
                owners.append((task.pk, frame.index))
        else:
            refs.append(ImageRef(task.asset.file.name, task.asset.width, task.asset.height))
            owners.append((task.pk, None))
    outputs, kept = images_infer(version, refs) if refs else (ModelOutputs(), [])
    datas: dict[int, dict] = {}
    for row, position in enumerate(kept):
        task_id, frame_index = owners[position]
        unit: dict = {}
        if outputs.probs is not None:
            unit["probs"] = _rounded(outputs.probs[row])
        if outputs.embeddings is not None:
            unit["embedding"] = _rounded(outputs.embeddings[row])
        if outputs.units is not None:  # boxes (and keypoints) in the image's pixels
            unit.update(outputs.units[row])
        if frame_index is None:
            datas[task_id] = unit
        else:
            datas.setdefault(task_id, {"frames": []})["frames"].append(
                {"index": frame_index, **unit}
            )
    return datas


def predictions_infer(version: ModelVersion, tasks: list[AnnotationTask]) -> dict[int, dict]:
    """Run an ONNX (or baseline) version over the tasks' images, as a chunk does, and return
    the prediction data per task id without storing it (tasks need `asset` loaded)."""
    return _infer(version, tasks)


def features_for_assets(assets: Sequence[Asset]) -> dict[int, list[float]]:
    """Colour histograms of the assets; missing ones are made now and stored on the asset."""
    found: dict[int, list[float]] = {}
    made: list[Asset] = []
    for asset in assets:
        histogram = (asset.features or {}).get("color_histogram")
        if histogram is None:
            features = asset_features_compute(asset)
            if features is None:
                continue
            asset.features = features
            made.append(asset)
            histogram = features["color_histogram"]
        found[asset.pk] = histogram
    if made:
        Asset.objects.bulk_update(made, ["features"])
    return found


def labeled_embeddings_of(
    project: Project, version: ModelVersion | None, *, model_embeddings: bool
) -> np.ndarray:
    labeled = AnnotationTask.objects.filter(project=project, state__in=AnnotationTask.State.LABELED)
    rows: list = []
    if model_embeddings and version is not None:
        for data in Prediction.objects.filter(model_version=version, task__in=labeled).values_list(
            "data", flat=True
        ):
            vectors = [frame.get("embedding") for frame in frames_of(data)]
            if vectors and all(v is not None for v in vectors):
                rows.append(np.mean(np.asarray(vectors, dtype=np.float64), axis=0))
    else:
        assets = Asset.objects.filter(pk__in=labeled.values("asset_id")).exclude(features=None)
        for features in assets.values_list("features", flat=True):
            if isinstance(features, dict) and features.get("color_histogram"):
                rows.append(features["color_histogram"])
    if not rows:
        return np.zeros((0, 1))
    try:
        return np.asarray(rows, dtype=np.float64)
    except ValueError:  # embeddings of different sizes: a changed model; ignore the old ones
        return np.zeros((0, 1))


def _context(
    project: Project,
    version: ModelVersion | None,
    settings: LearningSettings,
    asset_of: dict[int, int],
    datas: Sequence[dict],
    seed: tuple[int, ...],
    assets: Sequence[Asset] | None = None,
) -> ScoringContext:
    """What the strategy needs besides the predictions. `assets` when already loaded (a
    chunk); otherwise only their features are read (the pool pass)."""
    model_embeddings = bool(datas) and all(
        all("embedding" in frame for frame in frames_of(data)) for data in datas
    )
    ctx = ScoringContext(
        settings=settings,
        keypoint_names=project.keypoint_names,
        features={},
        seed=seed,
        uses_model_embeddings=model_embeddings,
        asset_of=asset_of,
    )
    if uses_auto(settings):
        ctx.auto_credits = auto_credits_of(project)
    if project.keypoints_enabled and project.keypoint_names:
        ctx.keypoint_weights = keypoint_weights_following_mastery(
            project=project, settings=settings
        )
    if uses_embeddings(settings):
        if not model_embeddings:
            if assets is None:
                ids = set(asset_of.values())
                stored = dict(
                    Asset.objects.filter(pk__in=ids)
                    .exclude(features=None)
                    .values_list("pk", "features__color_histogram")
                )
                ctx.features = {k: v for k, v in stored.items() if v is not None}
                missing = ids - set(ctx.features)
                if missing:
                    ctx.features |= features_for_assets(list(Asset.objects.filter(pk__in=missing)))
            else:
                ctx.features = features_for_assets(assets)
        ctx.labeled_embeddings = labeled_embeddings_of(
            project, version, model_embeddings=model_embeddings
        )
    if uses_tracks(settings):
        _tracks_context(ctx, list(asset_of))
    return ctx


def _tracks_context(ctx: ScoringContext, task_ids: list[int]) -> None:
    """Video tasks' frame ranges and image sizes, and the propagated shapes of their latest
    annotation (annotate.propagation.selectors): three queries."""
    for task_id, start, end, width, height in AnnotationTask.objects.filter(
        pk__in=task_ids, kind=AnnotationTask.Kind.VIDEO
    ).values_list("pk", "frame_start", "frame_end", "asset__width", "asset__height"):
        if start is not None and end is not None:
            ctx.frame_ranges[task_id] = (start, end)
        ctx.image_sizes[task_id] = (width or 0, height or 0)
    for task_id, rows in propagated_boxes(list(ctx.frame_ranges)).items():
        ctx.propagated.setdefault(task_id, []).extend(rows)


# --- writing --------------------------------------------------------------------------------


def _upsert(
    version: ModelVersion | None,
    task_ids: list[int],
    scores: list[float],
    breakdowns: list[str],
    predictions: list[tuple[int, str]],
) -> None:
    """Upsert predictions and scores, one statement each over unnest()ed arrays: a few
    parameters instead of five per row, and no model instances."""
    version_id = version.pk if version is not None else None
    now = timezone.now()
    with connection.cursor() as cursor:
        if predictions:
            cursor.execute(
                "INSERT INTO activelearn_prediction (task_id, model_version_id, data, created_at) "
                "SELECT v.task_id, %s, v.data::jsonb, %s "
                "FROM unnest(%s::bigint[], %s::text[]) AS v(task_id, data) "
                "ON CONFLICT (task_id, model_version_id) DO UPDATE SET data = EXCLUDED.data",
                [version_id, now, [p[0] for p in predictions], [p[1] for p in predictions]],
            )
        cursor.execute(
            "INSERT INTO activelearn_taskscore "
            "(task_id, model_version_id, score, breakdown, computed_at) "
            "SELECT v.task_id, %s::bigint, v.score, v.breakdown::jsonb, %s "
            "FROM unnest(%s::bigint[], %s::double precision[], %s::text[]) "
            "AS v(task_id, score, breakdown) "
            "ON CONFLICT (task_id, model_version_id) DO UPDATE SET score = EXCLUDED.score, "
            "breakdown = EXCLUDED.breakdown, computed_at = EXCLUDED.computed_at",
            [version_id, now, task_ids, scores, breakdowns],
        )


def scores_write(
    *,
    project: Project,
    version: ModelVersion | None,
    task_ids: Sequence[int],
    scores: np.ndarray,
    breakdowns: Sequence[dict],
    predictions: dict[int, dict] | None = None,
    queue: bool = True,
) -> None:
    """Upsert predictions and scores on (task, model version) and set the queue priorities
    (unless `queue` is False: the caller wrote them already): a bounded number of statements
    whatever the chunk size. Call inside a transaction."""
    ids = [int(task_id) for task_id in task_ids]
    values = [float(score) for score in scores]
    if not ids:
        return
    _upsert(
        version,
        ids,
        values,
        [json.dumps(breakdown) for breakdown in breakdowns],
        [(t, json.dumps(predictions[t])) for t in ids if t in predictions] if predictions else [],
    )
    if queue:
        priorities_write_bulk(project=project, priorities=list(zip(ids, values, strict=True)))


# --- the chunk and the end of a run ---------------------------------------------------------


def score_chunk(*, run_id: int, task_ids: Sequence[int]) -> int:
    """Score one chunk of a running run; returns how many tasks got a score.

    Reads the tasks in one query, runs the model (or reads pushed predictions), applies the
    strategy, then in one transaction: upserts predictions and scores, writes priorities and
    counts the chunk once. A chunk whose scores this run already wrote (a redelivery after
    the commit) rewrites the same rows and is not counted again."""
    run = ScoringRun.objects.select_related("project", "model_version").filter(pk=run_id).first()
    if run is None or run.state != ScoringRun.State.RUNNING or run.model_version is None:
        return 0
    project, version = run.project, run.model_version
    settings = LearningSettings.for_project(project)
    tasks = list(
        AnnotationTask.objects.filter(project=project, pk__in=list(task_ids))
        .select_related("asset")
        .order_by("pk")
    )
    if version.kind == ModelVersion.Kind.PUSHED:
        datas_by_task = dict(
            Prediction.objects.filter(model_version=version, task__in=tasks).values_list(
                "task_id", "data"
            )
        )
        new_predictions = None
    else:
        datas_by_task = _infer(version, tasks, every_frame=reads_every_frame(settings))
        new_predictions = datas_by_task
    tasks = [task for task in tasks if task.pk in datas_by_task]
    ids = [task.pk for task in tasks]
    datas = [datas_by_task[task_id] for task_id in ids]
    ctx = _context(
        project,
        version,
        settings,
        {task.pk: task.asset_id for task in tasks},
        datas,
        seed=(run.pk,),
        assets=[task.asset for task in tasks],
    )
    scores, breakdowns = tasks_score(datas, ids, ctx)
    with transaction.atomic():
        state = (
            ScoringRun.objects.select_for_update().filter(pk=run_id).values_list("state", flat=True)
        ).first()
        if state != ScoringRun.State.RUNNING:
            return 0
        # Since this attempt started: a run the sweep started again counts its chunks anew.
        since = run.started_at or run.created_at
        already_counted = bool(ids) and (
            TaskScore.objects.filter(
                task_id__in=ids, model_version=version, computed_at__gte=since
            ).count()
            == len(ids)
        )
        scores_write(
            project=project,
            version=version,
            task_ids=ids,
            scores=scores,
            breakdowns=breakdowns,
            predictions=new_predictions,
        )
        if not already_counted:
            ScoringRun.objects.filter(pk=run_id, chunks_done__lt=F("chunks_total")).update(
                chunks_done=F("chunks_done") + 1, tasks_scored=F("tasks_scored") + len(ids)
            )
        # The run's sign of life (the sweep's deadline moves on) and its progress.
        job_heartbeat(ScoringRun, run_id, progress=_progress_of(run_id))
    return len(ids)


def _progress_of(run_id: int) -> float:
    done, total = ScoringRun.objects.values_list("chunks_done", "chunks_total").get(pk=run_id)
    return done / total if total else 0.0


def batch_close(*, project: Project, run_id: int, version: ModelVersion | None) -> None:
    """The end of a batch (the pending tasks one run ranked): its random audit share is
    drawn from them (annotate.queue.audit), seeded by the run, the previous draw's tasks
    going back to the ranked queue at their scores under `version` (None: the cold-start
    scores), and the audit is measured again (activelearn.audit). Call inside the
    transaction that finishes the run, so the batch's order and its audit sample start
    together."""

    def scores_of(task_ids: list[int]) -> dict[int, float]:
        return dict(
            TaskScore.objects.filter(task_id__in=task_ids, model_version=version).values_list(
                "task_id", "score"
            )
        )

    audit_draw(project_id=project.pk, seed=run_id, priorities_of=scores_of)
    audit_measure_request(project=project)


def audit_measure_request(*, project: Project) -> AuditReport | None:
    """Ask for the audit's figures to be measured again (a batch closed, a retraining round
    ended): a measurement still queued takes the request in; none is made for a project
    whose audit is off and never drew a task. Sent after commit."""
    with transaction.atomic():
        waiting = AuditReport.objects.filter(project=project, state=AuditReport.State.QUEUED)
        if (report := waiting.order_by("-created_at").first()) is not None:
            return report
        share = LearningSettings.for_project(project).audit_share
        if not share and not project.tasks.filter(audit_drawn_at__isnull=False).exists():
            return None
        report = AuditReport.objects.create(project=project)
        job_enqueue(report)
    return report


def _still_running(run_id: int) -> bool:
    """Inside the swap of a pool pass: the run was not superseded meanwhile. Its row stays
    locked until the swap commits, so a run that supersedes it waits, then writes after."""
    return bool(
        ScoringRun.objects.select_for_update(no_key=True)
        .filter(pk=run_id, state=ScoringRun.State.RUNNING)
        .values_list("pk", flat=True)
    )


def scoring_run_finish(*, run_id: int) -> bool:
    """Close a run whose chunks are all done. Pool-wide strategies and blends are scored
    again over every pending task, since a chunk only saw its own; a large pool's order is
    swapped in as a fresh generation of the queue before the run closes
    (settings.SCORING_POOL_SWAP_MIN).
    The batch's audit share is drawn as it closes. True when it closed."""
    run = ScoringRun.objects.select_related("project", "model_version").filter(pk=run_id).first()
    if run is None or run.state != ScoringRun.State.RUNNING or run.chunks_done < run.chunks_total:
        return False
    project, version = run.project, run.model_version
    settings = LearningSettings.for_project(project)
    rows = []
    # One chunk already saw the whole pool; more chunks each saw only their own part.
    if version is not None and run.chunks_total > 1 and needs_pool(settings):
        pool = Prediction.objects.filter(
            model_version=version, task__project=project, task__state=PENDING
        )
        if run.candidates is not None:
            pool = pool.filter(task_id__in=run.candidates)  # a bounded run: its own set
        rows = list(pool.order_by("task_id").values_list("task_id", "task__asset_id", "data"))
    task_ids = [task_id for task_id, _, _ in rows]
    scores, breakdowns = np.zeros(0), []
    if rows:
        asset_of = {task_id: asset_id for task_id, asset_id, _ in rows}
        datas = [data for _, _, data in rows]
        ctx = _context(project, version, settings, asset_of, datas, seed=(run.pk,))
        scores, breakdowns = tasks_score(datas, task_ids, ctx)
    # A pool of settings.SCORING_POOL_SWAP_MIN tasks or more: its order goes in as a fresh
    # generation (priorities_replace: one COPY into a new table, indexed once and swapped
    # in, about 2 s at 1,000,000 tasks), not in place (one UPDATE per 50,000 in the closing
    # transaction, 8 s at 1,000,000, leaving every old row dead: benchmarks/README.md). The
    # swap commits its own steps: inside a caller's transaction the pass writes in place.
    swapped = (
        bool(rows)
        and len(rows) >= django_settings.SCORING_POOL_SWAP_MIN
        and not connection.in_atomic_block
    )
    if swapped:
        order = zip(task_ids, map(float, scores), strict=True)
        if (
            priorities_replace(
                project=project, priorities=order, still_current=lambda: _still_running(run_id)
            )
            is None
        ):
            return False  # superseded while it was scored: the newer run orders the queue
    with transaction.atomic():
        state = (
            ScoringRun.objects.select_for_update().filter(pk=run_id).values_list("state", flat=True)
        ).first()
        if state != ScoringRun.State.RUNNING:
            return False
        if rows:
            scores_write(
                project=project,
                version=version,
                task_ids=task_ids,
                scores=scores,
                breakdowns=breakdowns,
                queue=not swapped,
            )
        if run.candidates is None:
            batch_close(project=project, run_id=run_id, version=version)
        else:
            # A bounded run re-ranks part of the batch the last full run ranked: that
            # batch and its audit sample stay (a draw reads the whole pool).
            audit_measure_request(project=project)
        job_finish(ScoringRun, run_id)
    if version is not None:
        _version_measure(version)
    return True


def _version_measure(version: ModelVersion) -> None:
    """Measure the run's version on the validation slice; never fails the run."""
    try:
        version_evaluate(version=version)
    except Exception:
        logger.exception("Measuring version %s on the validation slice failed", version.pk)


# --- when to rescore ------------------------------------------------------------------------


def rescore_project(*, project: Project, reason: str) -> ScoringRun:
    """Rescore with the active version (cold start without one). Called when a version is
    activated (reason "activation"), predictions are pushed ("push"), after N labels."""
    return scoring_run_start(project=project, reason=reason)


def tasks_added(*, project_id: int) -> ScoringRun:
    """New tasks (an upload, a processed video) take their place in the queue: the
    cold-start coverage order before any model exists, the active model's scores after.
    Called by the receiver of annotate's TASKS_ADDED event (activelearn.receivers)."""
    project = Project.objects.get(pk=project_id)
    return rescore_project(project=project, reason=ScoringRun.Reason.NEW_TASKS)


def maybe_rescore_after_labels(*, project: Project) -> ScoringRun | None:
    """Start a run when `rescore_every_labels` tasks were submitted since the last run
    started (0 turns it off). Cheap: two indexed queries (task_submitted_idx), counting at
    most `every` rows; called on every submission (activelearn.receivers)."""
    every = LearningSettings.for_project(project).rescore_every_labels
    if not every:
        return None
    with transaction.atomic():
        # One submitter at a time decides, so a burst of submissions starts one run.
        Project.objects.select_for_update().filter(pk=project.pk).first()
        last = ScoringRun.objects.filter(project=project).order_by("-created_at").first()
        labeled = AnnotationTask.objects.filter(project=project, submitted_at__isnull=False)
        if last is not None:
            labeled = labeled.filter(submitted_at__gte=last.created_at)
        if labeled.order_by()[:every].count() < every:
            return None
        return scoring_run_start(project=project, reason=ScoringRun.Reason.LABELS)
