"""Applying a project's strategy to stored prediction data: from per-task JSON (images, or
video frames) to one score per task with its per-strategy breakdown.

The math is in `activelearn.strategies`. Each registered strategy declares its input adapter
(`Strategy.adapter`); this module holds one function per adapter, which shapes the arrays the
strategy's function takes and reduces frames per task. Nothing here branches on a strategy's
name: what a setting scores with, whether it needs the whole pool and whether it reads
embeddings all come from the registry's declarations."""

from __future__ import annotations

import inspect
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import numpy as np

from activelearn import strategies
from activelearn.inference.linking import link_frames
from activelearn.inference.spec import ScoringError
from activelearn.models import LearningSettings
from activelearn.strategies import auto
from activelearn.strategies.validation import aggregate_by_group

# k-center over the pool picks this many centres farthest-first (O(pool x head)); the rest
# follow by distance to them.
POOL_K_CENTER_HEAD = 2000
# What a key of Prediction.data (an image's, or one video frame's) holds, in the words of
# the strategies' needs.
PREDICTION_KEYS: dict[str, str] = {
    "probs": strategies.CLASS_PROBS,
    "embedding": strategies.EMBEDDINGS,
    "boxes": strategies.BOXES,
    "keypoints": strategies.KEYPOINTS,
}


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
    # For strategies that read tracks (uses_tracks): each video task's first and last frame,
    # its image size, and the shapes optical flow propagated in its latest annotation as
    # rows (frame, track, x, y, w, h, forward-backward confidence).
    frame_ranges: dict[int, tuple[int, int]] = field(default_factory=dict)
    image_sizes: dict[int, tuple[int, int]] = field(default_factory=dict)
    propagated: dict[int, list[tuple]] = field(default_factory=dict)
    auto_credits: dict[str, float] = field(default_factory=dict)  # what auto learned so far
    # The keypoint strategy's weights once joint mastery has figures (manager's weights
    # times mastery: activelearn.scoring.mastery); None: the manager's weights alone.
    keypoint_weights: dict[str, float] | None = None


@dataclass(frozen=True)
class Explained:
    """A strategy's scores with, per task, the reasons a person reads in the queue and what
    else its breakdown should show besides the score (auto: every arm's score and the pick
    record the rewards read, under PICK_KEY)."""

    scores: np.ndarray
    reasons: list[list[dict]]
    breakdowns: list[dict] | None = None


# The breakdown key of auto's pick record: {"q", "advised", "pool", "batch"}.
PICK_KEY = "auto_pick"


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


# --- which strategies a project's setting uses ------------------------------------------------


@dataclass(frozen=True)
class Mix:
    """The strategies a setting scores with and their weights; `ranked`: mixed as a weighted
    rank blend (the blend setting), else the one strategy's scores as they are."""

    weights: dict[str, float]
    ranked: bool = False


def _held(datas: Sequence[dict]) -> frozenset[str]:
    """What the predictions hold, in the registry's words."""
    keys = {key for data in datas for unit in frames_of(data) for key in unit}
    return frozenset(PREDICTION_KEYS[key] for key in keys if key in PREDICTION_KEYS)


def settings_mix(settings: LearningSettings, datas: Sequence[dict]) -> Mix:
    """The strategies `settings` scores these predictions with ("default" resolved by what
    they hold)."""
    name = settings.strategy or strategies.DEFAULT
    if name == strategies.BLEND:
        return Mix({k: float(v) for k, v in (settings.blend or {}).items()}, ranked=True)
    if name == strategies.DEFAULT:
        name = strategies.default_pick(_held(datas))
    return Mix({name: 1.0})


def _candidates(settings: LearningSettings) -> tuple[bool, list[strategies.Strategy]]:
    """Whether the setting ranks a blend, and every registered strategy it may score with
    (all the default's picks before the predictions are seen)."""
    name = settings.strategy or strategies.DEFAULT
    if name == strategies.BLEND:
        ranked, names = True, list(settings.blend or {})
    elif name == strategies.DEFAULT:
        ranked = False
        names = [pick for _, pick in strategies.DEFAULT_PICKS]
        names.append(strategies.DEFAULT_WITHOUT_OUTPUTS)
    else:
        ranked, names = False, [name]
    chosen = [strategies.STRATEGIES[n] for n in names if n in strategies.STRATEGIES]
    if any(strategy.adapter == strategies.AUTO_INPUT for strategy in chosen):
        # auto may score with any strategy scoring can feed: its arms.
        chosen += [s for s in strategies.STRATEGIES.values() if s.adapter and s not in chosen]
    return ranked, chosen


def uses_auto(settings: LearningSettings) -> bool:
    """Whether scoring needs what the adaptive strategy learned on the project."""
    _, candidates = _candidates(settings)
    return any(strategy.adapter == strategies.AUTO_INPUT for strategy in candidates)


def needs_pool(settings: LearningSettings) -> bool:
    """Whether a chunk's scores are provisional: rank blends and pool-wide strategies."""
    ranked, candidates = _candidates(settings)
    return ranked or any(strategy.pool_wide for strategy in candidates)


def uses_tracks(settings: LearningSettings) -> bool:
    """Whether scoring may read tracks (video frame ranges, sizes, propagated shapes)."""
    _, candidates = _candidates(settings)
    return any(strategies.TRACKS in strategy.needs for strategy in candidates)


def reads_every_frame(settings: LearningSettings) -> bool:
    """Whether the model must see every frame of a video segment, not a few."""
    _, candidates = _candidates(settings)
    return any(strategy.every_frame for strategy in candidates)


def uses_embeddings(settings: LearningSettings) -> bool:
    """Whether scoring may read embeddings (the model's, else the assets' colour
    histograms) and the labeled assets' ones: what the strategies declare they use."""
    _, candidates = _candidates(settings)
    wanted = {strategies.EMBEDDINGS}
    return any(wanted & (strategy.needs | strategy.optional) for strategy in candidates)


# --- the input adapters: prediction data to a strategy's arguments ----------------------------


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
    """The project's settings, for the functions that take them."""
    parameters = inspect.signature(function).parameters
    extra = {}
    if "aggregate" in parameters:
        extra["aggregate"] = ctx.settings.detection_aggregate
    if "batch_size" in parameters and ctx.settings.rescore_every_labels:
        # "Set batch_size to the number of labels between rescorings" (diverse_margin).
        extra["batch_size"] = max(1, min(int(ctx.settings.rescore_every_labels), n))
    if "weights" in parameters:
        weights = ctx.keypoint_weights
        if weights is None:
            weights = ctx.settings.keypoint_weights
        if weights:
            extra["weights"] = weights
    if "k" in parameters:  # k-center over a large pool: farthest-first for the head only
        extra["k"] = min(n, POOL_K_CENTER_HEAD)
    return extra


def _per_task(per_unit, owner: np.ndarray, n: int, ctx: ScoringContext) -> np.ndarray:
    """Per-frame scores reduced per task by the project's aggregate (max, mean or sum)."""
    per_unit = np.asarray(per_unit, dtype=np.float64)
    return aggregate_by_group(per_unit, owner, n, how=ctx.settings.detection_aggregate)


def _count_input(strategy, datas, task_ids, ctx) -> np.ndarray:
    rng = np.random.default_rng(list(ctx.seed) + [min(task_ids)])
    return strategy.score(len(datas), rng=rng)


def _unit_probs_input(strategy, datas, task_ids, ctx) -> np.ndarray:
    units, owner = _units(datas)
    rows = [unit.get("probs") for unit in units]
    if any(row is None for row in rows):
        raise ScoringError(
            f"strategy {strategy.name!r} needs class probabilities; the model gives none"
        )
    return _per_task(strategy.score(_unit_matrix(rows, "probs")), owner, len(datas), ctx)


def _task_embeddings_input(strategy, datas, task_ids, ctx) -> np.ndarray:
    inputs = {"embeddings": _embeddings(datas, task_ids, ctx, per_unit=False)}
    if "probs" in strategy.inputs:
        per_task = [_mean_rows([f.get("probs") for f in frames_of(d)], "probs") for d in datas]
        inputs["probs"] = _unit_matrix(per_task, "probs")
    labeled = ctx.labeled_embeddings
    if "labeled_embeddings" in strategy.inputs and labeled is not None and len(labeled):
        inputs["labeled_embeddings"] = labeled
    return strategy.score(**inputs, **_extra_kwargs(strategy.score, ctx, len(datas)))


def _unit_embeddings_input(strategy, datas, task_ids, ctx) -> np.ndarray:
    _, owner = _units(datas)
    embeddings = _embeddings(datas, task_ids, ctx, per_unit=True)
    return _per_task(strategy.score(embeddings, ctx.labeled_embeddings), owner, len(datas), ctx)


def _boxes_input(strategy, datas, task_ids, ctx) -> np.ndarray:
    units, owner = _units(datas)
    probs, objectness, index = [], [], []
    for unit_index, unit in enumerate(units):
        for box in unit.get("boxes") or []:
            probs.append(box.get("class_probs", box.get("probs")))
            objectness.append(box.get("objectness", box.get("score", 1.0)))
            index.append(unit_index)
    if not probs:  # no boxes anywhere: the detector is sure there is nothing to label
        return np.zeros(len(datas))
    per_unit = strategy.score(
        _unit_matrix(probs, "class_probs").reshape(len(probs), -1),
        np.asarray(index, dtype=np.int64),
        len(units),
        objectness=_unit_matrix(objectness, "objectness"),
        aggregate=ctx.settings.detection_aggregate,
    )
    return _per_task(per_unit, owner, len(datas), ctx)


def _keypoints_input(strategy, datas, task_ids, ctx) -> np.ndarray:
    units, owner = _units(datas)
    names = ctx.keypoint_names
    confidences, index = [], []
    for unit_index, unit in enumerate(units):
        for instance in unit.get("keypoints") or []:
            # Per-point confidences; else the instance's score stands for every point.
            points = instance.get("confidences") or dict.fromkeys(names, instance.get("score", 0.0))
            confidences.append([float(points.get(key, 0.0)) for key in names])
            index.append(unit_index)
    if not names:
        raise ScoringError("keypoint predictions, but the project has no skeleton")
    extra = _extra_kwargs(strategy.score, ctx, len(datas))
    per_unit = strategy.score(
        _unit_matrix(confidences, "confidences").reshape(len(confidences), len(names)),
        np.asarray(index, dtype=np.int64),
        len(units),
        names,
        **extra,
    )
    return _per_task(per_unit, owner, len(datas), ctx)


def _tracks_input(strategy, datas, task_ids, ctx) -> Explained:
    """Each video task's boxes joined into tracks (the tracker's own ids when the
    predictions carry them), with the task's frame range, image size and propagated
    shapes. An image task has no tracks: no risk."""
    rows, owner, carried, carried_owner = [], [], [], []
    ranges, sizes = [], []
    for position, (data, task_id) in enumerate(zip(datas, task_ids, strict=True)):
        units = [u for u in frames_of(data) if isinstance(u.get("index"), int)]
        units = units if isinstance(data.get("frames"), list) else []
        for unit, link in zip(units, link_frames(units), strict=True):
            for box, number in zip(unit.get("boxes") or [], link.boxes, strict=True):
                if number is None:
                    continue
                confidence = box.get("score", box.get("objectness", 1.0))
                geometry = box.get("bbox") or [box.get(k) for k in ("x", "y", "w", "h")]
                rows.append([unit["index"], number, *geometry, confidence])
                owner.append(position)
        indices = [u["index"] for u in units]
        default = (min(indices), max(indices)) if indices else (0, 0)
        ranges.append(ctx.frame_ranges.get(task_id, default))
        sizes.append(ctx.image_sizes.get(task_id, (0, 0)))
        for row in ctx.propagated.get(task_id, []):
            carried.append(list(row))
            carried_owner.append(position)
    inputs = {
        "tracks": _unit_matrix(rows, "boxes").reshape(-1, 7),
        "segment_index": np.asarray(owner, dtype=np.int64),
        "n_segments": len(datas),
        "frame_ranges": np.asarray(ranges, dtype=np.float64).reshape(-1, 2),
        "image_sizes": np.asarray(sizes, dtype=np.float64).reshape(-1, 2),
        "propagated": _unit_matrix(carried, "propagated shapes").reshape(-1, 7),
        "propagated_index": np.asarray(carried_owner, dtype=np.int64),
    }
    extra = _extra_kwargs(strategy.score, ctx, len(datas))
    if strategy.explain is None:
        return strategy.score(**inputs, **extra)
    report = strategy.explain(**inputs, **extra)
    return Explained(np.asarray(report.scores, dtype=np.float64), report.reasons)


def _auto_input(strategy, datas, task_ids, ctx) -> Explained:
    """Every arm auto can use on these predictions scores them; the bandit mixes them by
    the project's credits (activelearn.strategies.auto); each task's breakdown gets every
    arm's score and its pick record."""
    held = _held(datas)
    arms = auto.auto_arms(strategies.STRATEGIES, held, exclude=strategies.AUTO_INPUT)
    log_weights = auto.log_weights_of(arms, strategies.default_pick(held), ctx.auto_credits)
    arm_scores = {
        arm: strategy_scores(arm, datas, task_ids, ctx) for arm in arms if arm != auto.RANDOM_ARM
    }
    batch = int(ctx.settings.rescore_every_labels or auto.DEFAULT_BATCH)
    rng = np.random.default_rng(list(ctx.seed) + [min(task_ids)])
    mixed = strategy.score(arm_scores, log_weights, batch=batch, rng=rng)
    breakdowns = []
    for position in range(len(datas)):
        row = {arm: round(float(values[position]), 6) for arm, values in arm_scores.items()}
        row[PICK_KEY] = {
            "q": float(mixed.q[position]),
            "advised": list(mixed.advised[position]),
            "pool": len(datas),
            "batch": mixed.batch,
        }
        breakdowns.append(row)
    return Explained(
        np.asarray(mixed.priorities, dtype=np.float64), [[] for _ in datas], breakdowns
    )


Adapter = Callable[
    [strategies.Strategy, Sequence[dict], Sequence[int], ScoringContext], "np.ndarray | Explained"
]
# One function per input adapter a strategy can declare (Strategy.adapter).
ADAPTERS: dict[str, Adapter] = {
    strategies.COUNT_INPUT: _count_input,
    strategies.UNIT_PROBS_INPUT: _unit_probs_input,
    strategies.TASK_EMBEDDINGS_INPUT: _task_embeddings_input,
    strategies.UNIT_EMBEDDINGS_INPUT: _unit_embeddings_input,
    strategies.BOXES_INPUT: _boxes_input,
    strategies.KEYPOINTS_INPUT: _keypoints_input,
    strategies.TRACKS_INPUT: _tracks_input,
    strategies.AUTO_INPUT: _auto_input,
}


def strategy_scores(
    name: str, datas: Sequence[dict], task_ids: Sequence[int], ctx: ScoringContext
) -> np.ndarray:
    """One score per task for the registered strategy `name`, its inputs built by the
    adapter it declares. Per-frame strategies score every frame and reduce per task by the
    project's aggregate (max, mean or sum)."""
    return strategy_scores_explained(name, datas, task_ids, ctx).scores


def strategy_scores_explained(
    name: str, datas: Sequence[dict], task_ids: Sequence[int], ctx: ScoringContext
) -> Explained:
    """`strategy_scores` with the reasons per task of a strategy that explains itself
    (`Strategy.explain`; else no reasons)."""
    try:
        strategy = strategies.get_strategy(name)
    except ValueError as error:
        raise ScoringError(str(error)) from error
    if not datas:
        return Explained(np.zeros(0), [])
    labeled = ctx.labeled_embeddings
    if strategy.until_labeled and (labeled is None or len(labeled) == 0):
        return strategy_scores_explained(strategy.until_labeled, datas, task_ids, ctx)
    adapter = ADAPTERS.get(strategy.adapter) if strategy.adapter else None
    if adapter is None:
        raise ScoringError(
            f"strategy {name!r} needs inputs ({', '.join(strategy.inputs)}) that scoring a "
            "model version cannot give; choose another strategy in the learning settings"
        )
    result = adapter(strategy, datas, task_ids, ctx)
    if isinstance(result, Explained):
        return result
    return Explained(np.asarray(result, dtype=np.float64), [[] for _ in datas])


# A breakdown keeps this many reasons, the largest first.
MAX_REASONS = 5


def tasks_score(
    datas: Sequence[dict], task_ids: Sequence[int], ctx: ScoringContext
) -> tuple[np.ndarray, list[dict]]:
    """Scores and per-strategy breakdowns of tasks from their prediction data. A pushed
    ready-made score ({"score": x} and nothing else) is taken as it is. A breakdown is
    {strategy: its part, ...} plus, when a strategy explains itself, "reasons": [{"strategy",
    "kind", "text", ...}] (which frames and tracks made a video segment rise)."""
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
    mix = settings_mix(ctx.settings, rest_datas)
    try:
        explained = {
            k: strategy_scores_explained(k, rest_datas, rest_ids, ctx) for k in mix.weights
        }
        parts = {k: result.scores for k, result in explained.items()}
        mixed = strategies.blend(parts, mix.weights) if mix.ranked else next(iter(parts.values()))
    except ValueError as error:  # the strategies refuse bad arrays with a clear message
        label = ctx.settings.strategy if mix.ranked else next(iter(mix.weights))
        raise ScoringError(f"strategy {label!r}: {error}") from error
    for position, i in enumerate(rest):
        scores[i] = float(mixed[position])
        breakdowns[i] = {k: round(float(v[position]), 6) for k, v in parts.items()}
        reasons = [
            {"strategy": k, **reason}
            for k, result in explained.items()
            for reason in result.reasons[position]
        ]
        if reasons:
            reasons.sort(key=lambda reason: -float(reason.get("score", 0.0)))
            breakdowns[i]["reasons"] = reasons[:MAX_REASONS]
        for result in explained.values():
            if result.breakdowns is not None:
                breakdowns[i].update(result.breakdowns[position])
    return scores, breakdowns
