"""The audit's statistics on synthetic numbers with known answers: intervals that cover
what they claim to, a power law fit that finds the curve it was made from, a forecast that
says when more labels stop paying, and labels saved that match the curves they come from."""

from __future__ import annotations

import math

import numpy as np
import pytest

from activelearn.audit.stats import (
    Arms,
    arm_standard_errors,
    arm_values,
    bootstrap_interval,
    budget_forecast,
    labels_saved,
    power_law_fit,
    wilson_interval,
)


def truth(n, a=0.9, b=0.6, c=0.5, scale=10.0):
    return a - b * np.power(np.asarray(n, dtype=float) / scale, -c)


@pytest.mark.parametrize(
    ("hits", "n", "low", "high"),
    [
        (5, 10, 0.2366, 0.7634),
        (0, 10, 0.0, 0.2775),
        (10, 10, 0.7225, 1.0),
        (81, 100, 0.7222, 0.8749),
    ],
)
def test_the_wilson_interval_matches_its_published_values(hits, n, low, high):
    assert wilson_interval(hits, n) == pytest.approx((low, high), abs=1e-4)


def test_a_proportion_without_data_is_anything_from_zero_to_one():
    assert wilson_interval(0, 0) == (0.0, 1.0)


def test_the_wilson_interval_covers_the_true_accuracy_about_95_times_in_100():
    rng = np.random.default_rng(1)
    covered = 0
    for _ in range(4000):
        hits = rng.binomial(40, 0.85)
        low, high = wilson_interval(int(hits), 40)
        covered += low <= 0.85 <= high
    assert 0.93 <= covered / 4000 <= 0.975


def test_the_bootstrap_of_a_mean_is_close_to_the_normal_interval():
    rng = np.random.default_rng(2)
    values = rng.normal(0.6, 0.2, size=400)
    low, high = bootstrap_interval(len(values), lambda i: float(values[i].mean()), rng=rng)
    half = 1.96 * values.std() / math.sqrt(len(values))
    assert low == pytest.approx(values.mean() - half, abs=0.01)
    assert high == pytest.approx(values.mean() + half, abs=0.01)


def test_a_bootstrap_whose_statistic_is_mostly_undefined_gives_no_interval():
    rng = np.random.default_rng(3)
    assert bootstrap_interval(10, lambda i: None, rng=rng) is None


def test_the_fit_finds_the_power_law_it_was_made_from():
    labels = np.array([10, 20, 50, 100, 200, 400])
    fit = power_law_fit(labels, truth(labels))
    assert fit is not None and fit.points == 6
    assert fit(np.array([1000.0]))[0] == pytest.approx(truth(1000), abs=1e-4)
    assert fit.a == pytest.approx(0.9, abs=1e-3) and fit.c == pytest.approx(0.5, abs=1e-2)
    assert fit.labels_for(float(truth(300))) == pytest.approx(300, rel=1e-3)


def test_a_value_at_or_above_the_asymptote_is_never_reached():
    labels = np.array([10, 20, 50, 100, 200, 400])
    fit = power_law_fit(labels, truth(labels))
    assert math.isinf(fit.labels_for(0.95))


def test_fewer_than_three_label_counts_are_not_a_curve():
    assert power_law_fit([10, 20], [0.5, 0.6]) is None
    assert power_law_fit([10, 10, 20], [0.5, 0.52, 0.6]) is None


def test_the_forecast_interval_covers_the_curve_its_noisy_points_came_from():
    rng = np.random.default_rng(4)
    labels = np.array([20, 40, 80, 160, 320, 640])
    covered = 0
    for _ in range(60):
        errors = np.full(len(labels), 0.02)
        fit = power_law_fit(labels, truth(labels) + rng.normal(0, errors), sigma=errors)
        forecast = budget_forecast(
            fit, labels_now=640, labels_left=1000, threshold=0.0, rng=rng, per=1000
        )
        value, low, high = forecast.end
        covered += low <= float(truth(1640)) <= high
    assert covered >= 50  # 57 expected of 60


def test_the_stop_comes_where_the_next_thousand_labels_gain_less_than_the_threshold():
    labels = np.array([100, 200, 400, 800, 1600])
    errors = np.full(len(labels), 0.002)
    fit = power_law_fit(labels, truth(labels), sigma=errors)
    rng = np.random.default_rng(5)
    forecast = budget_forecast(
        fit, labels_now=1600, labels_left=20000, threshold=0.005, rng=rng, per=1000
    )
    # The true gain of 1,000 more labels is 0.010 now and falls under 0.005 at 2,834 labels;
    # the forecast waits until the top of its interval is under, a little later.
    true_gain = truth(np.arange(1600, 21600) + 1000) - truth(np.arange(1600, 21600))
    first_under = 1600 + int(np.nonzero(true_gain < 0.005)[0][0])
    assert first_under == 2834
    assert forecast.stop_at is not None and not forecast.stop_now
    assert first_under <= forecast.stop_at <= first_under * 1.5
    value, low, high = forecast.gain_next
    assert low <= 0.0102 <= high and value == pytest.approx(0.0102, abs=0.002)
    never = budget_forecast(fit, labels_now=1600, labels_left=20000, threshold=0.0, rng=rng)
    assert never.stop_at is None
    already = budget_forecast(fit, labels_now=1600, labels_left=500, threshold=0.5, rng=rng)
    assert already.stop_now and already.labels_end == 2100


def _arms(rng, *, tested: int, active_curve, random_curve, active_sizes, random_sizes, repeats=4):
    active_hits = np.stack([rng.random(tested) < active_curve(n) for n in active_sizes]).astype(
        float
    )
    random_hits = np.stack(
        [
            np.stack([(rng.random(tested) < random_curve(n)).astype(float) for _ in range(repeats)])
            for n in random_sizes
        ]
    )
    for i, n in enumerate(random_sizes):  # each repeat trained on n of the audit tasks
        for r in range(repeats):
            random_hits[i, r, rng.choice(tested, size=min(n, tested // 2), replace=False)] = np.nan
    return Arms(np.asarray(active_sizes), active_hits, np.asarray(random_sizes), random_hits)


def test_the_labels_saved_are_what_random_needs_for_the_active_accuracy_minus_the_labels_used():
    rng = np.random.default_rng(6)
    # Actively chosen labels reach at 100 labels what random sampling reaches at 400.
    arms = _arms(
        rng,
        tested=6000,
        active_curve=lambda n: float(truth(n * 4)),
        random_curve=lambda n: float(truth(n)),
        active_sizes=[10, 25, 50, 100],
        random_sizes=[10, 20, 40, 80, 160],
    )
    saved = labels_saved(arms, labels_used=100, cap=100_000, rng=rng, draws=200)
    assert saved is not None and saved.labels_used == 100
    assert saved.saved_low <= 300 <= saved.saved_high
    assert saved.saved == pytest.approx(300, rel=0.25)
    assert saved.beyond_measured and not saved.capped and saved.reason == ""
    # Measured, without the fit: 160 audit labels reached what 40 actively chosen ones did.
    assert saved.target_labels == 160 and saved.target_value == pytest.approx(truth(160), abs=0.02)
    share, low, high = saved.measured_share
    assert share == pytest.approx(0.75, abs=0.08) and low <= 0.75 <= high
    # Without extrapolation: at 10 labels each (the largest size both arms share).
    assert saved.equal_labels == 10
    value, low, high = saved.equal_gain
    assert low <= float(truth(40) - truth(10)) <= high


def test_when_ranking_does_no_better_than_random_nothing_is_saved():
    rng = np.random.default_rng(7)
    arms = _arms(
        rng,
        tested=6000,
        active_curve=lambda n: float(truth(n)),
        random_curve=lambda n: float(truth(n)),
        active_sizes=[20, 40, 80],
        random_sizes=[10, 20, 40, 80],
    )
    saved = labels_saved(arms, labels_used=80, cap=100_000, rng=rng, draws=200)
    assert saved.saved_low <= 0 <= saved.saved_high
    value, low, high = saved.equal_gain
    assert saved.equal_labels == 80 and low <= 0 <= high


def test_a_saving_far_beyond_the_measured_audit_curve_is_not_read_off_its_fit():
    """Regression: 15 audit labels on ten digit classes gave a 'saving' of every task with
    an interval of one point; the truth was a fifth of that (benchmarks/audit_honesty.py)."""
    rng = np.random.default_rng(8)
    arms = _arms(
        rng,
        tested=4000,
        active_curve=lambda n: 0.95,  # above what random ever reaches (0.9)
        random_curve=lambda n: float(truth(n)),
        active_sizes=[10, 20, 50],
        random_sizes=[10, 20, 40, 80],
    )
    saved = labels_saved(arms, labels_used=50, cap=2000, rng=rng, draws=100)
    assert saved.saved is None and saved.random_needed is None and not saved.capped
    assert "too far to read off a fitted curve" in saved.reason
    assert saved.extrapolation_limit == 320
    as_dict = saved.as_dict()
    assert as_dict["saved"] is None and as_dict["share_saved"] is None
    # What was measured still stands: the first 10 active labels beat 80 random ones.
    share, low, high = saved.measured_share
    assert share == pytest.approx(1 - 10 / 80) and low is not None


def test_a_saving_beyond_every_task_is_capped_and_says_so():
    rng = np.random.default_rng(9)
    arms = _arms(
        rng,
        tested=6000,
        active_curve=lambda n: float(truth(n * 4)),
        random_curve=lambda n: float(truth(n)),
        active_sizes=[10, 25, 50, 100],
        random_sizes=[10, 20, 40, 80, 160],
    )
    saved = labels_saved(arms, labels_used=100, cap=250, rng=rng, draws=100)
    assert saved.capped and saved.saved == 150


def test_weights_count_each_audit_task_as_often_as_the_resample_drew_it():
    arms = Arms(
        np.array([5]),
        np.array([[1.0, 0.0, 0.0]]),
        np.array([2]),
        np.array([[[np.nan, 1.0, 0.0], [1.0, np.nan, 1.0]]]),
    )
    active, random = arm_values(arms, np.array([2.0, 1.0, 1.0]))
    assert active[0] == pytest.approx(0.5)
    assert random[0] == pytest.approx((1 / 2 + 3 / 3) / 2)
    active_errors, random_errors = arm_standard_errors(arms, rng=np.random.default_rng(0))
    assert active_errors.shape == (1,) and random_errors.shape == (1,)
