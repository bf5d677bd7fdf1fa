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


@dataclass(frozen=True)
class Savings:
    """Labels random sampling would have needed to reach the accuracy the actively chosen
    labels reached, minus the labels used, with a bootstrap interval over the audit sample;
    and, without any extrapolation, the two arms compared at equal labels."""

    labels_used: int
    active_value: float
    random_needed: float  # may be inf: the random curve's fit never reaches active_value
    saved: float
    saved_low: float
    saved_high: float
    cap: int  # random can use no more labels than there are tasks: figures are capped here
    capped: bool  # random_needed went beyond the cap (the saving is at least `saved`)
    beyond_measured: bool  # random_needed lies beyond the largest measured random size
    equal_labels: int | None
    equal_gain: tuple[float, float, float] | None  # active - random at equal_labels
    random_fit: PowerLaw | None
    replicates: int

    def as_dict(self) -> dict:
        def finite(value: float) -> float | None:
            return float(value) if math.isfinite(value) else None

        return {
            "labels_used": self.labels_used,
            "active_value": self.active_value,
            "random_needed": finite(self.random_needed),
            "saved": finite(self.saved),
            "saved_low": finite(self.saved_low),
            "saved_high": finite(self.saved_high),
            "share_saved": (
                finite(self.saved / min(self.random_needed, self.cap))
                if self.random_needed > 0
                else None
            ),
            "cap": self.cap,
            "capped": self.capped,
            "beyond_measured": self.beyond_measured,
            "equal_labels": self.equal_labels,
            "equal_gain": (
                None
                if self.equal_gain is None
                else dict(zip(("value", "low", "high"), self.equal_gain, strict=True))
            ),
            "random_fit": None if self.random_fit is None else self.random_fit.as_dict(),
            "replicates": self.replicates,
        }


def labels_saved(
    arms: Arms, *, labels_used: int, cap: int, rng: np.random.Generator, draws: int = 500
) -> Savings | None:
    """How many labels the ranking saved: random_needed (the labels the audit curve needs to
    reach the accuracy the active arm reached with all `labels_used` labels: its measured
    points, and beyond them its power law fit) minus `labels_used`, capped at `cap` labels.
    Once the curve is flat, more labels lower the saving: they bought nothing random would
    have needed. The interval resamples the audit test tasks with replacement (the curves
    and the fit are computed again on each resample), so it covers how the audit sample
    happened to fall, not the randomness of training itself beyond the repeats averaged.
    None when the random arm has fewer than 3 sizes or does not fit."""
    if len(arms.random_sizes) < 3 or arms.tested == 0 or not len(arms.active_sizes):
        return None
    ones = np.ones(arms.tested)
    active, random = arm_values(arms, ones)
    fit = power_law_fit(arms.random_sizes, random)
    if fit is None:
        return None
    active_value = float(active[-1])
    needed = random_needed(active_value, arms.random_sizes, random, fit)

    def saved_of(needed_labels: float) -> float:
        return min(needed_labels, cap) - labels_used

    equal = _equal_size(arms)
    savings, gains = [], []
    for _ in range(draws):
        weights = rng.multinomial(arms.tested, ones / arms.tested).astype(np.float64)
        replicate_active, replicate_random = arm_values(arms, weights)
        if equal is not None:
            i, j = equal
            gains.append(replicate_active[i] - replicate_random[j])
        replicate_fit = power_law_fit(arms.random_sizes, replicate_random)
        if replicate_fit is None or not np.all(np.isfinite(replicate_random)):
            continue
        savings.append(
            saved_of(
                random_needed(
                    float(replicate_active[-1]), arms.random_sizes, replicate_random, replicate_fit
                )
            )
        )
    if len(savings) < draws / 2:
        return None
    low, high = interval_of(np.asarray(savings))
    equal_gain = None
    if equal is not None:
        i, j = equal
        gain_low, gain_high = interval_of(np.asarray(gains))
        equal_gain = (float(active[i] - random[j]), float(gain_low), float(gain_high))
    return Savings(
        labels_used=int(labels_used),
        active_value=active_value,
        random_needed=float(needed),
        saved=float(saved_of(needed)),
        saved_low=float(low),
        saved_high=float(high),
        cap=int(cap),
        capped=bool(needed > cap),
        beyond_measured=bool(needed > arms.random_sizes.max()),
        equal_labels=None if equal is None else int(arms.random_sizes[equal[1]]),
        equal_gain=equal_gain,
        random_fit=fit,
        replicates=len(savings),
    )


def random_needed(value: float, sizes: np.ndarray, values: np.ndarray, fit: PowerLaw) -> float:
    """The labels random sampling needs to reach `value`: read off its measured curve where
    a measured point reaches it (interpolated in log labels from the point before), and
    from the power law fit only beyond them (inf where the fit never gets there)."""
    reached = np.nonzero(values >= value)[0]
    if not len(reached):
        return fit.labels_for(value)
    k = int(reached[0])
    if k == 0:
        return float(sizes[0])
    below, above = float(values[k - 1]), float(values[k])
    share = (value - below) / (above - below) if above > below else 1.0
    return float(np.exp(np.log(sizes[k - 1]) + share * (np.log(sizes[k]) - np.log(sizes[k - 1]))))


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
