"""The audit's statistics, pure numpy and scipy (no Django: an import-linter contract checks
it): intervals for a mean over a uniform sample, the inverse power law learning curve with
its fit, inverse and forecast, and the labels saved against random sampling.

Every interval is a 95% one. Randomness only through an explicit `rng`.

- A proportion (accuracy over the audit sample): Wilson's score interval (E. B. Wilson,
  "Probable inference, the law of succession, and statistical inference", JASA 1927), which
  stays inside [0, 1] and behaves for small samples and proportions near 0 or 1.
- Any other statistic of a uniform sample (mAP, OKS AP): the percentile bootstrap over the
  sampled tasks (B. Efron, "Bootstrap methods: another look at the jackknife", Ann. Statist.
  1979).
- Learning curves: the inverse power law acc(n) = a - b n^-c, the usual model of accuracy
  against training set size (J. Hestness et al., "Deep learning scaling is predictable,
  empirically", arXiv:1712.00409, 2017; R. L. Figueroa et al., "Predicting sample size
  required for classification performance", BMC Med. Inform. Decis. Mak. 2012), fitted by
  weighted least squares (scipy.optimize.curve_fit); its intervals are drawn from the fit's
  covariance (parameters ~ normal, kept inside their bounds).
"""

from __future__ import annotations

import math
import warnings
from collections.abc import Callable
from dataclasses import dataclass, field

import numpy as np
from scipy.optimize import OptimizeWarning, curve_fit

Z95 = 1.959963984540054
LEVEL = 0.95
# Parameter bounds of the power law (n in units of the fit's `scale`, its largest labels):
# the asymptote a within the metric's range, the gap b at the largest n and the exponent c
# positive and moderate (measured learning curves fall within 0.05-1).
B_MAX = 10.0
C_MIN, C_MAX = 0.01, 3.0


# --- a mean over a uniform sample ---------------------------------------------------------


def wilson_interval(hits: int, n: int, *, z: float = Z95) -> tuple[float, float]:
    """Wilson's score interval for a proportion hits / n; (0, 1) without data."""
    if n <= 0:
        return 0.0, 1.0
    p = hits / n
    denominator = 1 + z * z / n
    centre = (p + z * z / (2 * n)) / denominator
    half = z / denominator * math.sqrt(p * (1 - p) / n + z * z / (4 * n * n))
    return max(0.0, centre - half), min(1.0, centre + half)


def bootstrap_interval(
    n: int,
    statistic: Callable[[np.ndarray], float | None],
    *,
    rng: np.random.Generator,
    draws: int = 1000,
) -> tuple[float, float] | None:
    """The percentile bootstrap of `statistic`, given the indices (with repeats) of a
    resample of n sampled units. Draws where the statistic is undefined (None, NaN) are
    left out; None when fewer than half remain."""
    if n <= 0:
        return None
    values = []
    for _ in range(draws):
        value = statistic(rng.integers(0, n, size=n))
        if value is not None and math.isfinite(value):
            values.append(value)
    if len(values) < draws / 2:
        return None
    low, high = np.quantile(values, [(1 - LEVEL) / 2, (1 + LEVEL) / 2])
    return float(low), float(high)


# --- the inverse power law ----------------------------------------------------------------


def _power_law(x, a, b, c):
    return a - b * np.power(x, -c)


@dataclass(frozen=True)
class PowerLaw:
    """acc(n) = a - b (n / scale)^-c, fitted to `points` measured points."""

    a: float
    b: float
    c: float
    scale: float
    covariance: np.ndarray = field(repr=False)
    points: int
    upper: float = 1.0  # the metric's upper bound (1 for accuracy, mAP, OKS AP)

    def __call__(self, labels) -> np.ndarray:
        x = np.asarray(labels, dtype=np.float64) / self.scale
        return _power_law(np.maximum(x, 1e-9), self.a, self.b, self.c)

    def labels_for(self, value: float) -> float:
        """The labels at which the curve reaches `value`: inf when it never does (the
        asymptote is not above it)."""
        return float(labels_for(np.array([[self.a, self.b, self.c]]), value, self.scale)[0])

    @property
    def determined(self) -> bool:
        """Whether the fit's covariance is finite, so that it has intervals."""
        return bool(np.all(np.isfinite(self.covariance)))

    def draws(self, rng: np.random.Generator, count: int = 2000) -> np.ndarray | None:
        """Parameter sets [count, 3] drawn from the fit's normal approximation, kept
        inside the bounds; None when the covariance is not finite."""
        if not self.determined:
            return None
        mean = np.array([self.a, self.b, self.c])
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", RuntimeWarning)  # a singular covariance is fine
            samples = rng.multivariate_normal(mean, self.covariance, size=count, method="svd")
        lower = np.array([0.0, 0.0, C_MIN])
        upper = np.array([self.upper, B_MAX, C_MAX])
        return np.clip(samples, lower, upper)

    def as_dict(self) -> dict:
        return {"a": self.a, "b": self.b, "c": self.c, "scale": self.scale, "points": self.points}


def curve_values(params: np.ndarray, labels, scale: float) -> np.ndarray:
    """The curves of parameter sets [k, 3] at labels [m]: [k, m]."""
    x = np.maximum(np.asarray(labels, dtype=np.float64) / scale, 1e-9)
    a, b, c = (params[:, i : i + 1] for i in range(3))
    return a - b * np.power(x[None, :], -c)


def labels_for(params: np.ndarray, value: float, scale: float) -> np.ndarray:
    """The labels where each curve [k, 3] reaches `value`: inf where it never does (its
    asymptote is not above the value), and at least 1."""
    a, b, c = params[:, 0], params[:, 1], params[:, 2]
    gap = a - value
    x = np.full(len(params), np.inf)
    reach = gap > 0
    with np.errstate(over="ignore"):
        x[reach] = np.power(b[reach] / gap[reach], 1.0 / c[reach])
    return np.maximum(x * scale, 1.0)


def power_law_fit(labels, values, *, sigma=None, upper: float = 1.0) -> PowerLaw | None:
    """Fit acc(n) = a - b n^-c to measured (labels, value) points by least squares,
    weighted by each point's standard error `sigma` when given (absolute: the covariance
    then says how sure the measurements make the fit). None with fewer than 3 points at
    3 distinct label counts, or when the fit does not converge."""
    labels = np.asarray(labels, dtype=np.float64)
    values = np.asarray(values, dtype=np.float64)
    keep = np.isfinite(labels) & np.isfinite(values) & (labels > 0)
    if sigma is not None:
        sigma = np.asarray(sigma, dtype=np.float64)
        keep &= np.isfinite(sigma)
        sigma = np.maximum(sigma[keep], 1e-3)
    labels, values = labels[keep], values[keep]
    if len(np.unique(labels)) < 3:
        return None
    scale = float(labels.max())
    x = labels / scale
    top = float(values[np.argmax(labels)])
    start = [min(upper, max(top + 0.02, float(values.max()))), max(top - values.min(), 0.05), 0.5]
    try:
        with warnings.catch_warnings():
            warnings.simplefilter("ignore", OptimizeWarning)
            params, covariance = curve_fit(
                _power_law,
                x,
                values,
                p0=start,
                sigma=sigma,
                absolute_sigma=sigma is not None,
                bounds=([0.0, 0.0, C_MIN], [upper, B_MAX, C_MAX]),
                maxfev=20000,
            )
    except (RuntimeError, ValueError):
        return None
    a, b, c = (float(p) for p in params)
    return PowerLaw(a, b, c, scale, np.asarray(covariance), int(len(labels)), upper)


def interval_of(samples: np.ndarray, axis: int = 0) -> tuple[np.ndarray, np.ndarray]:
    low, high = np.quantile(samples, [(1 - LEVEL) / 2, (1 + LEVEL) / 2], axis=axis)
    return low, high


# --- what the rest of the budget buys -------------------------------------------------------


@dataclass(frozen=True)
class Forecast:
    """The fitted curve read at the labels spent now and at the end of the budget, the gain
    of the next `per` labels, and where (if anywhere within the budget) that gain, at the
    top of its interval, falls under the threshold."""

    labels_now: int
    labels_end: int
    now: tuple[float, float, float]  # value, low, high
    end: tuple[float, float, float]
    gain_next: tuple[float, float, float]  # over the next `per` labels
    per: int
    stop_at: int | None  # labels where the gain's top falls under the threshold
    threshold: float
    path: list[dict]  # {labels, value, low, high} from now to the end

    @property
    def stop_now(self) -> bool:
        return self.stop_at is not None and self.stop_at <= self.labels_now

    def as_dict(self) -> dict:
        def triple(values):
            return dict(zip(("value", "low", "high"), (float(v) for v in values), strict=True))

        return {
            "labels_now": self.labels_now,
            "labels_end": self.labels_end,
            "now": triple(self.now),
            "end": triple(self.end),
            "gain_next": triple(self.gain_next),
            "per": self.per,
            "threshold": self.threshold,
            "stop_at": self.stop_at,
            "stop_now": self.stop_now,
            "path": self.path,
        }


def budget_forecast(
    fit: PowerLaw,
    *,
    labels_now: int,
    labels_left: int,
    threshold: float,
    rng: np.random.Generator,
    per: int = 1000,
    steps: int = 40,
) -> Forecast | None:
    """Read the fit at `labels_now` and `labels_now + labels_left`, the gain of the next
    `per` labels, and the first label count on a grid from now to the end of the budget
    where that gain's 95% top falls under `threshold` (0: never). None when the fit has no
    intervals (its covariance is not finite)."""
    params = fit.draws(rng)
    if params is None:
        return None
    labels_left = max(0, int(labels_left))
    end = labels_now + labels_left
    grid = np.unique(
        np.concatenate(
            [[labels_now, end], np.geomspace(max(labels_now, 1), max(end, 1), steps).round()]
        )
    ).astype(int)
    grid = grid[(grid >= labels_now) & (grid <= end)]
    curves = curve_values(params, grid, fit.scale)
    low, high = interval_of(curves)
    point = fit(grid)
    gains = curve_values(params, grid + per, fit.scale) - curves
    gain_high = np.quantile(gains, (1 + LEVEL) / 2, axis=0)
    gain_point = fit(grid + per) - point
    gain_low = np.quantile(gains, (1 - LEVEL) / 2, axis=0)
    stop_at = None
    if threshold > 0:
        under = np.nonzero(gain_high < threshold)[0]
        if len(under):
            stop_at = int(grid[under[0]])
    path = [
        {"labels": int(n), "value": float(v), "low": float(lo), "high": float(hi)}
        for n, v, lo, hi in zip(grid, point, low, high, strict=True)
    ]
    return Forecast(
        labels_now=int(labels_now),
        labels_end=int(end),
        now=(float(point[0]), float(low[0]), float(high[0])),
        end=(float(point[-1]), float(low[-1]), float(high[-1])),
        gain_next=(float(gain_point[0]), float(gain_low[0]), float(gain_high[0])),
        per=per,
        stop_at=stop_at,
        threshold=float(threshold),
        path=path,
    )


# --- the learner's two arms: actively chosen labels against audit labels -------------------


@dataclass(frozen=True)
class Arms:
    """The same learner trained on growing sets of actively chosen labels and of audit
    labels, each scored on the audit tasks it did not train on.

    active_hits [A, m]: 1/0 whether the learner trained on the first active_sizes[i]
    actively chosen labels got audit test task j right. random_hits [R, repeats, m]: the
    same for random_sizes[i] audit labels drawn at random (repeat r), NaN where task j was
    among its training labels."""

    active_sizes: np.ndarray
    active_hits: np.ndarray
    random_sizes: np.ndarray
    random_hits: np.ndarray

    @property
    def tested(self) -> int:
        return int(self.active_hits.shape[1])


def _grid(low: int, high: int, points: int) -> np.ndarray:
    if high < low or high < 1:
        return np.zeros(0, dtype=int)
    return np.unique(np.geomspace(max(low, 1), high, points).round().astype(int))


def arms_measure(
    *,
    active: list,
    audited: list,
    tests: list,
    hits: Callable[[list, list], np.ndarray],
    rng: np.random.Generator,
    repeats: int = 5,
    points: int = 8,
    progress: Callable[[float], None] = lambda done: None,
) -> Arms:
    """Train and score both arms with `hits(train, tests)` (whether a learner trained on the
    labels `train` gets each of `tests` right): the first n of `active` (the labels the
    ranking chose, in the order they came), for n on a geometric grid up to all of them,
    scored on every one of `tests` (audit labels, never trained on); and `repeats` random
    draws of n of `audited`, n up to three quarters of them, scored on the tests they left
    out. The active grid holds the random sizes it reaches, for the equal-labels comparison."""
    random_sizes = _grid(2, int(len(audited) * 0.75), 6)
    active_sizes = np.unique(
        np.concatenate(
            [
                _grid(min(5, len(active)), len(active), points),
                random_sizes[random_sizes <= len(active)],
            ]
        )
    ).astype(int)
    total = len(active_sizes) + len(random_sizes) * repeats
    done = 0
    active_hits = []
    for size in active_sizes:
        active_hits.append(hits(active[:size], tests))
        done += 1
        progress(done / total)
    index = {t: j for j, t in enumerate(tests)}
    random_hits = np.full((len(random_sizes), repeats, len(tests)), np.nan)
    for i, size in enumerate(random_sizes):
        for r in range(repeats):
            chosen = sorted(rng.choice(len(audited), size=int(size), replace=False).tolist())
            train = [audited[k] for k in chosen]
            left = set(train)
            scored = [t for t in tests if t not in left]
            if scored:
                random_hits[i, r, [index[t] for t in scored]] = hits(train, scored)
            done += 1
            progress(done / total)
    return Arms(active_sizes, np.asarray(active_hits, dtype=float), random_sizes, random_hits)


def arm_values(arms: Arms, weights: np.ndarray) -> tuple[np.ndarray, np.ndarray]:
    """Each arm's accuracy at each size, with audit test task j counted weights[j] times
    (all ones: the measured values; a bootstrap resample's counts: one replicate)."""
    weights = np.asarray(weights, dtype=np.float64)
    active = (arms.active_hits * weights).sum(axis=1) / weights.sum()
    if not len(arms.random_sizes):
        return active, np.zeros(0)
    tested = ~np.isnan(arms.random_hits)
    hits = np.where(tested, arms.random_hits, 0.0)
    with np.errstate(invalid="ignore", divide="ignore"):
        per_repeat = (hits * weights).sum(axis=2) / (tested * weights).sum(axis=2)
    return active, np.nanmean(per_repeat, axis=1)


# The random curve's fit is read at most this many times beyond its largest measured size:
# a power law fitted to 15 labels says little about 1,000 (benchmarks/audit_honesty.py).
EXTRAPOLATION_LIMIT = 4.0


def _bounds(samples) -> tuple[float | None, float | None]:
    """A 95% percentile interval of samples that may hold infinities (no interpolation
    across them); an infinite bound is None: unbounded on that side."""
    samples = np.asarray(samples, dtype=np.float64)
    samples = samples[~np.isnan(samples)]
    if not len(samples):
        return None, None
    low = float(np.quantile(samples, (1 - LEVEL) / 2, method="lower"))
    high = float(np.quantile(samples, (1 + LEVEL) / 2, method="higher"))
    return (low if math.isfinite(low) else None), (high if math.isfinite(high) else None)


def _finite(value: float | None) -> float | None:
    return float(value) if value is not None and math.isfinite(value) else None


@dataclass(frozen=True)
class Savings:
    """What the ranking saved against random sampling, two ways.

    Measured, without extrapolation: at `target_value`, the accuracy the most audit labels
    measured reached (`target_labels` of them), the labels the actively chosen arm needed
    to reach it (`active_needed`), and the share of labels that saves. The figure the issue
    asks for: the labels random sampling would need to reach the accuracy all the actively
    chosen labels reached (`random_needed`, from the random curve's fit beyond its measured
    points), minus the labels used; only within EXTRAPOLATION_LIMIT times the measured
    range, else None with the `reason`. Intervals: bootstrap over the audit sample; a bound
    of None is unbounded (a resample whose curve never gets there)."""

    labels_used: int
    active_value: float
    target_labels: int
    target_value: float
    active_needed: float | None  # None: the active arm never reached target_value
    measured_share: tuple[float | None, float | None, float | None] | None
    random_needed: float | None
    saved: float | None
    saved_low: float | None
    saved_high: float | None
    cap: int  # random can use no more labels than there are tasks
    capped: bool
    beyond_measured: bool
    extrapolation_limit: int  # labels up to which the fit is read
    reason: str  # why `saved` is None ("" when it is not)
    equal_labels: int | None
    equal_gain: tuple[float, float, float] | None  # active - random at equal_labels
    random_fit: PowerLaw | None
    replicates: int

    def as_dict(self) -> dict:
        def triple(values):
            if values is None:
                return None
            return dict(zip(("value", "low", "high"), map(_finite, values), strict=True))

        return {
            "labels_used": self.labels_used,
            "active_value": self.active_value,
            "target_labels": self.target_labels,
            "target_value": self.target_value,
            "active_needed": _finite(self.active_needed),
            "measured_share": triple(self.measured_share),
            "random_needed": _finite(self.random_needed),
            "saved": _finite(self.saved),
            "saved_low": _finite(self.saved_low),
            "saved_high": _finite(self.saved_high),
            "share_saved": (
                _finite(self.saved / min(self.random_needed, self.cap))
                if self.saved is not None and self.random_needed
                else None
            ),
            "cap": self.cap,
            "capped": self.capped,
            "beyond_measured": self.beyond_measured,
            "extrapolation_limit": self.extrapolation_limit,
            "reason": self.reason,
            "equal_labels": self.equal_labels,
            "equal_gain": triple(self.equal_gain),
            "random_fit": None if self.random_fit is None else self.random_fit.as_dict(),
            "replicates": self.replicates,
        }


def curve_needed(value: float, sizes: np.ndarray, values: np.ndarray) -> float:
    """The labels a measured curve needs to reach `value`, interpolated in log labels
    between the points around it; inf when no point reaches it."""
    reached = np.nonzero(np.asarray(values) >= value)[0]
    if not len(reached):
        return math.inf
    k = int(reached[0])
    if k == 0:
        return float(sizes[0])
    below, above = float(values[k - 1]), float(values[k])
    share = (value - below) / (above - below) if above > below else 1.0
    return float(np.exp(np.log(sizes[k - 1]) + share * (np.log(sizes[k]) - np.log(sizes[k - 1]))))


def labels_saved(
    arms: Arms, *, labels_used: int, cap: int, rng: np.random.Generator, draws: int = 500
) -> Savings | None:
    """What the ranking saved (see Savings). random_needed reads the audit curve's measured
    points where they reach the accuracy all `labels_used` actively chosen labels reached,
    and its power law fit beyond them, up to EXTRAPOLATION_LIMIT times its largest size;
    capped at `cap`. Once the curve is flat, more labels lower the saving: they bought
    nothing random would have needed. The intervals resample the audit test tasks with
    replacement (curves and fit computed again on each resample), so they cover how the
    audit sample happened to fall, not the randomness of training beyond the repeats
    averaged. None when the random arm has fewer than 3 sizes."""
    if len(arms.random_sizes) < 3 or arms.tested == 0 or not len(arms.active_sizes):
        return None
    ones = np.ones(arms.tested)
    sizes = arms.random_sizes
    limit = float(sizes.max()) * EXTRAPOLATION_LIMIT

    def figures(active: np.ndarray, random: np.ndarray):
        target = float(random[-1])
        active_needed = curve_needed(target, arms.active_sizes, active)
        share = 1.0 - active_needed / float(sizes[-1])
        fit = power_law_fit(sizes, random)
        value = float(active[-1])
        needed = curve_needed(value, sizes, random)
        if not math.isfinite(needed):
            needed = fit.labels_for(value) if fit is not None else math.inf
        return target, active_needed, share, needed, fit

    active, random = arm_values(arms, ones)
    target, active_needed, share, needed, fit = figures(active, random)
    equal = _equal_size(arms)
    shares, saveds, gains = [], [], []
    for _ in range(draws):
        weights = rng.multinomial(arms.tested, ones / arms.tested).astype(np.float64)
        replicate_active, replicate_random = arm_values(arms, weights)
        if not np.all(np.isfinite(replicate_random)):
            continue
        if equal is not None:
            i, j = equal
            gains.append(replicate_active[i] - replicate_random[j])
        _, _, replicate_share, replicate_needed, _ = figures(replicate_active, replicate_random)
        shares.append(replicate_share)
        if replicate_needed > limit:
            replicate_needed = math.inf
        saveds.append(min(replicate_needed, cap) - labels_used)
    share_low, share_high = _bounds(shares)
    within = needed <= limit
    reason = ""
    saved = saved_low = saved_high = None
    if within:
        saved = min(needed, cap) - labels_used
        saved_low, saved_high = _bounds(saveds)
    else:
        reason = (
            f"Random labels would need more than {int(limit)} labels to reach "
            f"{value_words(float(active[-1]))}: beyond {EXTRAPOLATION_LIMIT:g} times the "
            f"{int(sizes.max())} audit labels measured, too far to read off a fitted curve. "
            "More audit labels (or a larger audit share) measure it."
        )
    equal_gain = None
    if equal is not None:
        i, j = equal
        gain_low, gain_high = interval_of(np.asarray(gains))
        equal_gain = (float(active[i] - random[j]), float(gain_low), float(gain_high))
    return Savings(
        labels_used=int(labels_used),
        active_value=float(active[-1]),
        target_labels=int(sizes[-1]),
        target_value=target,
        active_needed=active_needed if math.isfinite(active_needed) else None,
        measured_share=(share, share_low, share_high),
        random_needed=float(needed) if within else None,
        saved=saved,
        saved_low=saved_low,
        saved_high=saved_high,
        cap=int(cap),
        capped=bool(within and needed > cap),
        beyond_measured=bool(needed > sizes.max()),
        extrapolation_limit=int(limit),
        reason=reason,
        equal_labels=None if equal is None else int(sizes[equal[1]]),
        equal_gain=equal_gain,
        random_fit=fit,
        replicates=len(saveds),
    )


def value_words(value: float) -> str:
    return f"{100 * value:.1f}%"


def _equal_size(arms: Arms) -> tuple[int, int] | None:
    """(active index, random index) of the largest size both arms were measured at."""
    common = np.intersect1d(arms.active_sizes, arms.random_sizes)
    if not len(common):
        return None
    size = common.max()
    return (
        int(np.nonzero(arms.active_sizes == size)[0][0]),
        int(np.nonzero(arms.random_sizes == size)[0][0]),
    )


def arm_standard_errors(
    arms: Arms, *, rng: np.random.Generator, draws: int = 300
) -> tuple[np.ndarray, np.ndarray]:
    """Bootstrap standard errors of each arm's points over the audit test tasks."""
    ones = np.ones(arms.tested)
    actives, randoms = [], []
    for _ in range(draws):
        weights = rng.multinomial(arms.tested, ones / arms.tested).astype(np.float64)
        active, random = arm_values(arms, weights)
        actives.append(active)
        randoms.append(random)
    random_errors = np.nanstd(np.asarray(randoms), axis=0) if len(arms.random_sizes) else []
    return np.std(np.asarray(actives), axis=0), np.asarray(random_errors)
