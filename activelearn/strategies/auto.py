"""The adaptive strategy `auto`: a bandit over the registry's strategies that learns online,
from the labels as they arrive, which of them pays off on this project.

Active Learning by Learning (Hsu & Lin, "Active learning by learning", AAAI 2015) treats each
strategy as an expert of a contextual bandit (EXP4.P: Beygelzimer, Langford, Li, Reyzin &
Schapire, "Contextual bandit algorithms with supervised learning guarantees", AISTATS 2011):

- every strategy ("arm") advises a distribution over the pool; here, as a batch version of
  ALBL's one pick per query, the uniform distribution over its `batch` best-scored tasks, and
  random's advice is the uniform distribution over the whole pool (random is always an arm);
- the bandit mixes the advice with its arm probabilities into one probability per task, `q`,
  and the queue is a random order by `q` (sequential Poisson sampling, Ohlsson, "Sequential
  Poisson sampling", Journal of Official Statistics 1998: order by u / q, u uniform), so the
  head of the queue, what the annotators label before the next rescoring, is a sample in
  which each task is about batch * q likely to be;
- the reward is the model's importance-weighted test accuracy (ALBL's IW-ACC), here measured
  on labels the model had not been trained on when it predicted them and as a paired gain:
  for the labels picked under model version v, whether v predicted each right minus whether
  the version before v did, averaged with weights 1 / q (self-normalised importance
  weighting), an estimate of how much accuracy the pool gained from v's new training
  labels. Those were picked while the version before was active, so the gain is credited to
  the arms that picked them, each by its importance-weighted share of them (EXP4's reward
  estimate, advice / q, which is 1 on average for every arm).

Where uncertainty sampling hurts (the version after its picks is no better than after random
ones) its weight sinks and the mixture falls back towards random; where one arm wins, its
weight grows. Deliberate departures from the papers, so a reader can judge them:

- the arms start from a prior, not uniform: the strategy the product picks for these
  predictions (`default_arm`, e.g. diverse margin on class probabilities) most, random next,
  the others a little; with the few hundred labels of a small project the reward is too noisy
  to move the weights far (benchmarks/README.md, label efficiency, shows how far), and a
  uniform start would spend those labels on arms that are usually worse;
- every arm keeps a floor probability (EXP3's exploration share, Auer et al. 2002) instead of
  EXP4.P's per-task floor and confidence bonus, so every task stays possible (q > 0) and the
  importance weights stay bounded by 1 / floor;
- the paired gain stands in for IW-ACC on the training labels, because a pushed model's
  training set is not known here; a label whose two predictions are missing gives no reward;
- each gain is centred on the mean gain of all versions before it is credited (a
  baseline), so the falling level of learning is not what the arms are credited with;
- one round's gain is measured on a batch of labels, so it is noisy: the learning rate is
  small, and the weights move on a sustained difference over many rounds, not on one batch;
- the reward is not the simpler "the model was wrong on the picked label": on the
  benchmark's data sets, the arms whose picks the model most often got wrong (entropy, least
  confidence) were not the ones whose labels bought the most accuracy (diverse margin), and
  on the noisy set k-center's picks were wrong as often as margin's while its labels made
  the model worse; a bandit on that reward moved to entropy on digits.

Pure numpy: no Django, no model, no database. The Django side (activelearn.scoring.auto)
stores the picks and the learned credits per project; the label-efficiency benchmark runs
these same functions round by round.
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass

import numpy as np

from activelearn.strategies.blend import rank_normalise
from activelearn.strategies.validation import as_scores

RANDOM_ARM = "random"
# Every arm's probability is at least this much (EXP3's gamma / arms): every task stays
# possible and an arm at the floor can still earn its way up.
ARM_FLOOR = 0.005
# The prior before any reward: shares of the default pick and of random; the other arms
# split what is left equally.
PRIOR_DEFAULT_SHARE = 0.88
PRIOR_RANDOM_SHARE = 0.10
# How far an estimated accuracy gain of 1 (0 to 100%) moves an arm's log-weight, times its
# advice ratio. Small, because one round's estimate is noisy: on the benchmark's data sets 1
# and 3 moved the weights by noise and cost labels, 0.3 and 0 did not (README).
LEARNING_RATE = 0.3
# Advice per arm when the project does not rescore every N labels.
DEFAULT_BATCH = 10


# --- which arms, and their probabilities -------------------------------------------------


def auto_arms(registry: Mapping[str, object], held: Iterable[str], *, exclude: str) -> list[str]:
    """The registry's strategies that can score predictions holding `held` (each needs only
    what is held and has an input adapter), random first, without the strategies whose input
    adapter is `exclude` (auto itself)."""
    held = frozenset(held)
    names = [
        name
        for name, strategy in registry.items()
        if strategy.adapter is not None
        and strategy.adapter != exclude
        and frozenset(strategy.needs) <= held
    ]
    if RANDOM_ARM not in names:
        raise ValueError("random must be an arm of auto; the registry has no 'random'")
    return [RANDOM_ARM] + [name for name in names if name != RANDOM_ARM]


def prior_log_weights(arms: Sequence[str], default_arm: str | None) -> dict[str, float]:
    """Log-weights before any reward: the default pick PRIOR_DEFAULT_SHARE, random
    PRIOR_RANDOM_SHARE, the rest split equally (all to the default and random when there is
    no other arm; to the default's share when random is the default)."""
    if RANDOM_ARM not in arms:
        raise ValueError("random must be an arm of auto")
    others = [arm for arm in arms if arm not in (RANDOM_ARM, default_arm)]
    shares = dict.fromkeys(arms, 0.0)
    has_default = default_arm in arms and default_arm != RANDOM_ARM
    shares[RANDOM_ARM] = PRIOR_RANDOM_SHARE if has_default or others else 1.0
    if has_default:
        shares[default_arm] = PRIOR_DEFAULT_SHARE
    rest = 1.0 - sum(shares.values())
    if others:
        for arm in others:
            shares[arm] = rest / len(others)
    elif has_default:
        shares[default_arm] += rest
    else:
        shares[RANDOM_ARM] += rest
    return {arm: float(np.log(max(share, 1e-12))) for arm, share in shares.items()}


def arm_probabilities(log_weights: Mapping[str, float], *, floor: float = ARM_FLOOR) -> dict:
    """p_i = (1 - arms * floor) * softmax(log-weights)_i + floor (EXP3/EXP4 mixing)."""
    if not log_weights:
        raise ValueError("auto needs at least one arm")
    names = list(log_weights)
    values = as_scores(np.array([log_weights[name] for name in names], dtype=np.float64))
    if not 0 <= floor * len(names) < 1:
        raise ValueError(f"floor {floor} is too large for {len(names)} arms")
    weights = np.exp(values - values.max())
    probabilities = (1.0 - floor * len(names)) * weights / weights.sum() + floor
    return {name: float(p) for name, p in zip(names, probabilities, strict=True)}


def log_weights_of(
    arms: Sequence[str], default_arm: str | None, credits: Mapping[str, float]
) -> dict[str, float]:
    """The prior plus what rewards credited each arm so far (arms never credited: 0)."""
    prior = prior_log_weights(arms, default_arm)
    return {arm: prior[arm] + float(credits.get(arm, 0.0)) for arm in arms}


# --- mixing the advice into one queue order ----------------------------------------------


@dataclass(frozen=True)
class Mixed:
    """One scoring pass of auto: a priority per task (higher first, in (0, 1]), the task's
    probability `q` under the mixture, and which arms advised it (random advises all)."""

    priorities: np.ndarray
    q: np.ndarray
    advised: list[tuple[str, ...]]
    probabilities: dict[str, float]
    batch: int


def arm_advice(scores: np.ndarray, batch: int, *, rng: np.random.Generator) -> np.ndarray:
    """The `batch` best-scored tasks (ties broken by `rng`): the tasks an arm advises."""
    scores = as_scores(scores)
    tie_breaker = rng.random(scores.shape[0])
    return np.lexsort((tie_breaker, -scores))[: min(batch, scores.shape[0])]


def mix(
    arm_scores: Mapping[str, np.ndarray],
    log_weights: Mapping[str, float],
    *,
    batch: int,
    rng: np.random.Generator,
    floor: float = ARM_FLOOR,
) -> Mixed:
    """Mix the arms' advice by the bandit's probabilities into one queue order.

    `arm_scores` holds every arm's scores over the same n tasks except random's (random
    advises the uniform distribution, its scores are not needed); `log_weights` names every
    arm, random included. q_j = p_random / n + sum over the arms advising j of p_arm / batch.
    The priority orders the tasks by the sequential Poisson sampling key u / q, lowest
    first, so the first `batch` tasks hold each about batch * q_j likely (capped at 1), which
    is what the rewards' importance weights assume; rank-normalised into (0, 1]. (Successive
    sampling, the Efraimidis-Spirakis key log(u) / q, gives the arms' top tasks visibly less
    than their share when a batch is small.)"""
    if isinstance(batch, bool) or not isinstance(batch, int | np.integer) or batch < 1:
        raise ValueError(f"batch must be a positive integer, got {batch!r}")
    if RANDOM_ARM not in log_weights:
        raise ValueError("random must be an arm of auto")
    missing = sorted(set(log_weights) - set(arm_scores) - {RANDOM_ARM})
    if missing:
        raise ValueError(f"arms without scores: {', '.join(missing)}")
    lengths = {arm: as_scores(arm_scores[arm]).shape[0] for arm in log_weights if arm in arm_scores}
    if len(set(lengths.values())) > 1:
        raise ValueError(f"all arms must score the same tasks, got {lengths}")
    n = next(iter(lengths.values()), None)
    probabilities = arm_probabilities(log_weights, floor=floor)
    if n is None:
        raise ValueError("auto needs the scores of at least one arm besides random")
    batch = int(min(batch, max(n, 1)))
    q = np.full(n, probabilities[RANDOM_ARM] / max(n, 1))
    advised: list[list[str]] = [[] for _ in range(n)]
    for arm in log_weights:  # in the caller's arm order, so the advice lists are stable
        if arm == RANDOM_ARM:
            continue
        top = arm_advice(arm_scores[arm], batch, rng=rng)
        q[top] += probabilities[arm] / top.shape[0]
        for index in top:
            advised[index].append(arm)
    # The smallest q is p_random / n > 0, so the key is finite.
    keys = -rng.random(n) / q
    return Mixed(
        priorities=rank_normalise(keys) if n else np.zeros(0),
        q=q,
        advised=[tuple(arms) for arms in advised],
        probabilities=probabilities,
        batch=batch,
    )


# --- rewards --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Pick:
    """A labeled task as auto picked it, and what it tells about the models.

    `version`: the model version whose scoring pass picked it (its q, advice, pool size and
    batch are that pass's); `correct`: how right that version was on the label (0 to 1);
    `previous_correct`: how right the version before it was on the same label (None when it
    did not predict the task, or there was none)."""

    version: int
    q: float
    advised: tuple[str, ...]
    pool: int
    batch: int
    correct: float | None = None
    previous_version: int | None = None
    previous_correct: float | None = None


def advice_ratios(pick: Pick, arms: Iterable[str]) -> dict[str, float]:
    """EXP4's importance-weighted share of one pick per arm: advice_arm(task) / q(task).
    Its mean over picks drawn from q is 1 for every arm."""
    ratios = {}
    for arm in arms:
        if arm == RANDOM_ARM:
            advice = 1.0 / pick.pool
        else:
            advice = 1.0 / pick.batch if arm in pick.advised else 0.0
        ratios[arm] = advice / pick.q
    return ratios


def version_gains(picks: Sequence[Pick]) -> dict[int, float]:
    """Per model version v, the pool's accuracy gain from the version before v to v,
    estimated from the labels picked under v that both versions predicted: the mean of
    (correct - previous_correct) weighted by 1 / q (self-normalised importance weighting,
    so it lies in [-1, 1]; the labels picked for their uncertainty are where the two
    versions disagree most, and without the weights they would overstate the change)."""
    sums: dict[int, list[float]] = {}
    for pick in picks:
        if pick.correct is None or pick.previous_correct is None:
            continue
        weight = 1.0 / pick.q
        total = sums.setdefault(pick.version, [0.0, 0.0])
        total[0] += weight * (pick.correct - pick.previous_correct)
        total[1] += weight
    return {version: value / weight for version, (value, weight) in sums.items() if weight > 0}


def credits_from_picks(
    picks: Sequence[Pick], *, learning_rate: float = LEARNING_RATE
) -> dict[str, float]:
    """Every arm's credit (its log-weight above the prior) from the project's labeled picks.

    The gain measured for version v came from the labels v was trained on beyond the version
    before, which were picked while that version was active; so it is credited to the arms
    by their mean advice ratio over those picks (EXP4's importance-weighted reward, which is
    1 for every arm on average and more for the arms that picked more of those labels than
    their probability said). Each gain is taken relative to the mean gain of all versions (a
    baseline, as in policy-gradient bandits, Williams 1992): what an arm is credited is how
    much better the versions after its picks did than the others, not the level of learning,
    which falls as any project goes on; and the batch is a sample without replacement, whose
    advice ratios are 1 on average only roughly, so an uncentred gain would favour whichever
    arm's ratios run high. A function of the whole history, in any order: the same picks give
    the same credits however often they are recomputed."""
    by_version: dict[int, list[Pick]] = {}
    arms: set[str] = {RANDOM_ARM}
    previous_of: dict[int, int] = {}
    for pick in picks:
        by_version.setdefault(pick.version, []).append(pick)
        arms.update(pick.advised)
        if pick.previous_version is not None and pick.previous_correct is not None:
            previous_of[pick.version] = pick.previous_version
    credits = dict.fromkeys(sorted(arms), 0.0)
    gains = {
        version: gain
        for version, gain in version_gains(picks).items()
        if by_version.get(previous_of[version])
    }
    if len(gains) < 2:
        return credits  # one gain says nothing about one arm against another
    baseline = sum(gains.values()) / len(gains)
    for version, gain in sorted(gains.items()):
        ratios = [advice_ratios(pick, arms) for pick in by_version[previous_of[version]]]
        for arm in arms:
            share = sum(r[arm] for r in ratios) / len(ratios)
            credits[arm] += learning_rate * (gain - baseline) * share
    return credits


def classification_correct(probs: Sequence[float], label: int) -> float:
    """1 when the most likely class is the label, else 0."""
    probs = np.asarray(probs, dtype=np.float64)
    if probs.ndim != 1 or probs.shape[0] == 0 or not np.all(np.isfinite(probs)):
        raise ValueError("probs must be a non-empty vector of finite numbers")
    return float(int(np.argmax(probs)) == int(label))


# How right a prediction was on a label, 0 to 1, per kind of prediction.
MATCH_THRESHOLD = 0.5  # IoU for boxes, OKS for keypoints (COCO's loosest)
PREDICTED_SCORE_THRESHOLD = 0.5  # predicted shapes below this score are not claims


def _f1(matches: int, predicted: int, labeled: int) -> float:
    if predicted == 0 and labeled == 0:
        return 1.0  # nothing there, and the model said so
    return 2.0 * matches / (predicted + labeled)


def _greedy_matches(similarity: np.ndarray, threshold: float) -> int:
    """Pairs matched best-first, each shape at most once, at similarity >= threshold."""
    if similarity.size == 0:
        return 0
    order = np.argsort(-similarity, axis=None, kind="stable")
    used_rows, used_columns, matches = set(), set(), 0
    for flat in order:
        row, column = divmod(int(flat), similarity.shape[1])
        if similarity[row, column] < threshold:
            break
        if row in used_rows or column in used_columns:
            continue
        used_rows.add(row)
        used_columns.add(column)
        matches += 1
    return matches


def box_agreement(
    predicted: Sequence[tuple[str, float, float, float, float]],
    labeled: Sequence[tuple[str, float, float, float, float]],
) -> float:
    """F1 of predicted against labeled boxes ((class, x, y, w, h), pixels), a pair matching
    at IoU >= MATCH_THRESHOLD with the same class: 1 when the model found exactly what the
    annotator drew, 0 when nothing matches."""
    similarity = np.zeros((len(predicted), len(labeled)))
    for i, (p_class, px, py, pw, ph) in enumerate(predicted):
        for j, (l_class, lx, ly, lw, lh) in enumerate(labeled):
            if p_class != l_class:
                continue
            width = max(0.0, min(px + pw, lx + lw) - max(px, lx))
            height = max(0.0, min(py + ph, ly + lh) - max(py, ly))
            overlap = width * height
            union = pw * ph + lw * lh - overlap
            similarity[i, j] = overlap / union if union > 0 else 0.0
    return _f1(_greedy_matches(similarity, MATCH_THRESHOLD), len(predicted), len(labeled))


def object_keypoint_similarity(
    predicted: Mapping[str, Sequence[float]],
    labeled: Mapping[str, Sequence[float]],
    sigmas: Mapping[str, float],
) -> float:
    """COCO's OKS of one predicted skeleton against one labeled one ({name: [x, y, v]}):
    the mean over the labeled visible points of exp(-d^2 / (2 s^2 k^2)), s^2 the area of the
    visible points' box, k = 2 sigma; a point the model did not give counts 0."""
    visible = {
        name: point
        for name, point in labeled.items()
        if point is not None and len(point) >= 2 and (len(point) < 3 or point[2])
    }
    if not visible:
        return 0.0
    xs = [float(point[0]) for point in visible.values()]
    ys = [float(point[1]) for point in visible.values()]
    area = max((max(xs) - min(xs)) * (max(ys) - min(ys)), 1.0)
    total = 0.0
    for name, point in visible.items():
        guess = predicted.get(name)
        if guess is None or len(guess) < 2:
            continue
        squared = (float(guess[0]) - float(point[0])) ** 2 + (
            float(guess[1]) - float(point[1])
        ) ** 2
        k = 2.0 * float(sigmas.get(name, 0.05))
        total += float(np.exp(-squared / (2.0 * area * k * k)))
    return total / len(visible)


def keypoint_agreement(
    predicted: Sequence[Mapping[str, Sequence[float]]],
    labeled: Sequence[Mapping[str, Sequence[float]]],
    sigmas: Mapping[str, float],
) -> float:
    """F1 of predicted against labeled skeletons, a pair matching at OKS >= MATCH_THRESHOLD."""
    similarity = np.array(
        [[object_keypoint_similarity(p, lab, sigmas) for lab in labeled] for p in predicted]
    ).reshape(len(predicted), len(labeled))
    return _f1(_greedy_matches(similarity, MATCH_THRESHOLD), len(predicted), len(labeled))
