"""Applying a project's strategy to stored prediction data: from per-task JSON (images, or
video frames) to one score per task with its per-strategy breakdown. The math itself is in
`activelearn.strategies`; this module only shapes the arrays and reduces frames per task."""

from __future__ import annotations

import inspect
from collections.abc import Sequence
from dataclasses import dataclass, field

import numpy as np

from activelearn import strategies
from activelearn.inference.runtime import ScoringError
from activelearn.models import LearningSettings
from activelearn.strategies.validation import aggregate_by_group

# Strategies whose score of one task depends on the other tasks scored with it. A chunk
# gives them a provisional score; the run's last step recomputes them over the whole pool.
POOL_WIDE = frozenset({"k_center", "diverse_margin"})
# k-center over the pool picks this many centres farthest-first (O(pool x head)); the rest
# follow by distance to them.
POOL_K_CENTER_HEAD = 2000


@dataclass
class ScoringContext:
    """Everything a strategy may need besides the predictions, loaded once per chunk."""

    settings: LearningSettings
    keypoint_names: list[str]
    features: dict[int, list[float]]  # asset id -> cheap features (colour histogram)
    labeled_embeddings: np.ndarray | None = None
    seed: tuple[int, ...] = ()
    uses_model_embeddings: bool = False
    asset_of: dict[int, int] = field(default_factory=dict)  # task id -> asset id


def frames_of(data: dict) -> list[dict]:
    frames = data.get("frames")
    if isinstance(frames, list) and frames:
        return [frame for frame in frames if isinstance(frame, dict)]
    return [data]


def _unit_matrix(rows: list, name: str) -> np.ndarray:
    try:
        return np.asarray(rows, dtype=np.float64)
    except (TypeError, ValueError) as error:
        raise ScoringError(f"{name} rows have different lengths or are not numbers") from error


def _mean_rows(rows: list, name: str):
    """The mean of a task's per-frame rows; an image's single row as it is."""
    return rows[0] if len(rows) == 1 else np.mean(_unit_matrix(rows, name), axis=0)


def _strategy_for(settings: LearningSettings, datas: Sequence[dict]) -> str:
    """The stored name, with "default" resolved by what the predictions hold."""
    name = settings.strategy or "default"
    if name != "default":
        return name
    held = {key for data in datas for unit in frames_of(data) for key in unit}
    if "keypoints" in held:  # pose predictions come with their boxes; the points matter more
        return "keypoints"
    if "boxes" in held:
        return "detection"
    if "probs" in held:
        return strategies.DEFAULT_STRATEGY
    return "k_center"


def _embeddings(
    datas: Sequence[dict], task_ids: Sequence[int], ctx: ScoringContext, *, per_unit: bool
):
    """Model embeddings when the model gives them, else the assets' cheap features."""
    rows = []
    for data, task_id in zip(datas, task_ids, strict=True):
        frames = frames_of(data)
        if ctx.uses_model_embeddings:
            vectors = [frame.get("embedding") for frame in frames]
            if any(v is None for v in vectors):
                raise ScoringError(f"task {task_id} has a prediction without an embedding")
        else:
            feature = ctx.features.get(ctx.asset_of.get(task_id))
            if feature is None:
                raise ScoringError(f"task {task_id} has no embedding and its asset no features")
            vectors = [feature] * len(frames)
        if per_unit:
            rows.extend(vectors)
        else:
            rows.append(_mean_rows(vectors, "embedding"))
    return _unit_matrix(rows, "embedding")


def _units(datas: Sequence[dict]) -> tuple[list[dict], np.ndarray]:
    units, owner = [], []
    for index, data in enumerate(datas):
        for frame in frames_of(data):
            units.append(frame)
            owner.append(index)
    return units, np.asarray(owner, dtype=np.int64)


def _extra_kwargs(function, ctx: ScoringContext, n: int) -> dict:
    parameters = inspect.signature(function).parameters
    extra = {}
    if "aggregate" in parameters:
        extra["aggregate"] = ctx.settings.detection_aggregate
    if "batch_size" in parameters and ctx.settings.rescore_every_labels:
        # "Set batch_size to the number of labels between rescorings" (diverse_margin).
        extra["batch_size"] = max(1, min(int(ctx.settings.rescore_every_labels), n))
    if "weights" in parameters and ctx.settings.keypoint_weights:
        extra["weights"] = ctx.settings.keypoint_weights
    return extra


def strategy_scores(
    name: str, datas: Sequence[dict], task_ids: Sequence[int], ctx: ScoringContext
) -> np.ndarray:
    """One score per task for the registered strategy `name`. Per-frame strategies score
    every frame and reduce per task by the project's aggregate (max, mean or sum)."""
    try:
        strategy = strategies.get_strategy(name)
    except ValueError as error:
        raise ScoringError(str(error)) from error
    n = len(datas)
    if n == 0:
        return np.zeros(0)
    function = strategy.score
    extra = _extra_kwargs(function, ctx, n)
    aggregate = ctx.settings.detection_aggregate
    if name == "random":
        return function(n, rng=np.random.default_rng(list(ctx.seed) + [min(task_ids)]))
    if name in POOL_WIDE:
        inputs = {"embeddings": _embeddings(datas, task_ids, ctx, per_unit=False)}
        if "probs" in strategy.inputs:
            per_task = [_mean_rows([f.get("probs") for f in frames_of(d)], "probs") for d in datas]
            inputs["probs"] = _unit_matrix(per_task, "probs")
        labeled = ctx.labeled_embeddings
        if "labeled_embeddings" in strategy.inputs and labeled is not None and len(labeled):
            inputs["labeled_embeddings"] = ctx.labeled_embeddings
        if name == "k_center":
            extra["k"] = min(n, POOL_K_CENTER_HEAD)
        return function(**inputs, **extra)
    units, owner = _units(datas)
    if strategy.inputs == ("probs",) and strategy.task == "classification":
        rows = [unit.get("probs") for unit in units]
        if any(row is None for row in rows):
            raise ScoringError(f"strategy {name!r} needs class probabilities; the model gives none")
        per_unit = function(_unit_matrix(rows, "probs"))
    elif name == "novelty":
        labeled = ctx.labeled_embeddings
        if labeled is None or len(labeled) == 0:
            # Nothing labeled yet: novelty is undefined; coverage is what it would approach.
            return strategy_scores("k_center", datas, task_ids, ctx)
        per_unit = function(_embeddings(datas, task_ids, ctx, per_unit=True), labeled)
    elif name == "detection":
        probs, objectness, index = [], [], []
        for unit_index, unit in enumerate(units):
            for box in unit.get("boxes") or []:
                probs.append(box.get("class_probs", box.get("probs")))
                objectness.append(box.get("objectness", box.get("score", 1.0)))
                index.append(unit_index)
        if not probs:  # no boxes anywhere: the detector is sure there is nothing to label
            return np.zeros(n)
        per_unit = function(
            _unit_matrix(probs, "class_probs").reshape(len(probs), -1),
            np.asarray(index, dtype=np.int64),
            len(units),
            objectness=_unit_matrix(objectness, "objectness"),
            aggregate=aggregate,
        )
    elif name == "keypoints":
        names = ctx.keypoint_names
        confidences, index = [], []
        for unit_index, unit in enumerate(units):
            for instance in unit.get("keypoints") or []:
                # Per-point confidences; else the instance's score stands for every point.
                points = instance.get("confidences") or dict.fromkeys(
                    names, instance.get("score", 0.0)
                )
                confidences.append([float(points.get(key, 0.0)) for key in names])
                index.append(unit_index)
        if not names:
            raise ScoringError("keypoint predictions, but the project has no skeleton")
        per_unit = function(
            _unit_matrix(confidences, "confidences").reshape(len(confidences), len(names)),
            np.asarray(index, dtype=np.int64),
            len(units),
            names,
            **{k: v for k, v in extra.items() if k != "aggregate"},
            aggregate=aggregate,
        )
    else:
        raise ScoringError(
            f"strategy {name!r} needs inputs ({', '.join(strategy.inputs)}) that scoring a "
            "model version cannot give; choose another strategy in the learning settings"
        )
    return aggregate_by_group(np.asarray(per_unit, dtype=np.float64), owner, n, how=aggregate)


def tasks_score(
    datas: Sequence[dict], task_ids: Sequence[int], ctx: ScoringContext
) -> tuple[np.ndarray, list[dict]]:
    """Scores and per-strategy breakdowns of tasks from their prediction data. A pushed
    ready-made score ({"score": x} and nothing else) is taken as it is."""
    scores = np.zeros(len(datas))
    breakdowns: list[dict] = [{} for _ in datas]
    ready = [i for i, d in enumerate(datas) if set(d) == {"score"}]
    rest = [i for i, d in enumerate(datas) if set(d) != {"score"}]
    for i in ready:
        value = float(datas[i]["score"])
        if not np.isfinite(value):
            raise ScoringError(f"task {task_ids[i]} has a non-finite pushed score")
        scores[i] = value
        breakdowns[i] = {"pushed": value}
    if not rest:
        return scores, breakdowns
    rest_datas = [datas[i] for i in rest]
    rest_ids = [task_ids[i] for i in rest]
    name = _strategy_for(ctx.settings, rest_datas)
    try:
        if name == "blend":
            weights = {k: float(v) for k, v in (ctx.settings.blend or {}).items()}
            parts = {k: strategy_scores(k, rest_datas, rest_ids, ctx) for k in weights}
            mixed = strategies.blend(parts, weights)
        else:
            parts = {name: strategy_scores(name, rest_datas, rest_ids, ctx)}
            mixed = parts[name]
    except ValueError as error:  # the strategies refuse bad arrays with a clear message
        raise ScoringError(f"strategy {name!r}: {error}") from error
    for position, i in enumerate(rest):
        scores[i] = float(mixed[position])
        breakdowns[i] = {k: round(float(v[position]), 6) for k, v in parts.items()}
    return scores, breakdowns


def needs_pool(settings: LearningSettings) -> bool:
    """Whether a chunk's scores are provisional: rank blends and pool-wide strategies."""
    name = settings.strategy or "default"
    if name == "default":
        return strategies.DEFAULT_STRATEGY in POOL_WIDE
    return name == "blend" or name in POOL_WIDE
