"""How honest the audit's figures are: the loop simulated on scikit-learn's digits, with the
random audit share the queue draws, and every figure the model page shows compared with the
truth, which a simulation knows and a project never does.

Per seed: a stratified 70/30 pool/test split; 20 cold-start labels at random; then batches of
BATCH labels, each batch re-ranking the pool by margin (the built-in baseline trained on the
actively chosen labels; audit labels are never trained on) and drawing AUDIT_SHARE of the pool
for the audit, as annotate.queue.audit does: a claim takes the next audit task when its draw
falls under the share, else the best-ranked other task. After LABELS labels:

- the model's accuracy on the audit labels with Wilson's interval, against its accuracy on
  the test set (the data it will meet) and on the pool still unlabeled;
- labels saved (activelearn.audit.stats.labels_saved, the audit's random arm), against the
  true saving: the labels the same learner needs, on random labels, to reach on the test
  set what it reaches with the actively chosen ones (mean of RANDOM_DRAWS random draws per
  size), minus the actively chosen labels;
- the equal-labels gain (no extrapolation), against the same comparison on the test set.

    .venv/bin/python benchmarks/audit_honesty.py [--seeds 20] [--labels 400]

Also the measured share saved (no extrapolation) against its truth: the actively chosen
labels the learner needs to reach, on the test set, what target_labels random labels reach.

Last line: model_coverage=<share of seeds whose interval held the test accuracy>
pool_coverage=<... the unlabeled pool's accuracy> model_bias=<mean estimate minus test
accuracy> saved_coverage=<share of seeds, among those reporting a saving, whose interval
held the true saving> saved_error=<median |estimate - truth| / |truth|> saved_reported=<n>
share_coverage=<...> gain_coverage=<...> seeds=<n>
"""

from __future__ import annotations

import argparse
import math
import os
import sys
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from activelearn.audit.stats import (  # noqa: E402
    arms_measure,
    curve_needed,
    labels_saved,
    wilson_interval,
)
from activelearn.retraining.baseline import baseline_fit  # noqa: E402

AUDIT_SHARE = 0.1
BATCH = 40
COLD_START = 20
RANDOM_DRAWS = 6


def _fit_predict(features, labels, train, tests) -> np.ndarray:
    train = list(train)
    classes = np.unique(labels[train])
    if len(classes) < 2:
        return np.full(len(tests), classes[0])
    model = baseline_fit(features[train], labels[train])
    return model.classes[model.predict_proba(features[list(tests)]).argmax(axis=1)]


def _accuracy(features, labels, train, tests) -> float:
    return float(np.mean(_fit_predict(features, labels, train, tests) == labels[list(tests)]))


def one_seed(seed: int, total: int) -> dict:
    digits = load_digits()
    x, y = digits.data.astype(np.float64), digits.target
    pool, test = train_test_split(np.arange(len(y)), test_size=0.3, stratify=y, random_state=seed)
    rng = np.random.default_rng(seed)
    active = [int(i) for i in rng.choice(pool, size=COLD_START, replace=False)]
    audited: list[int] = []
    taken = set(active)
    while len(active) + len(audited) < total:
        free = np.asarray([i for i in pool if i not in taken])
        model = baseline_fit(x[active], y[active])
        probs = np.sort(model.predict_proba(x[free]), axis=1)
        ranked = list(free[np.argsort(probs[:, -1] - probs[:, -2], kind="stable")])
        drawn = list(rng.permutation(free)[: math.ceil(AUDIT_SHARE * len(free) - 1e-9)])
        drawn_set = set(drawn)
        ranked = [i for i in ranked if i not in drawn_set]
        for _ in range(min(BATCH, total - len(active) - len(audited))):
            if drawn and (rng.random() < AUDIT_SHARE or not ranked):
                pick = drawn.pop(0)
                audited.append(int(pick))
            else:
                pick = ranked.pop(0)
                active.append(int(pick))
            taken.add(int(pick))
    unlabeled = [int(i) for i in pool if i not in taken]

    # The model page's figures, from the audit labels only.
    right = _fit_predict(x, y, active, audited) == y[audited]
    low, high = wilson_interval(int(right.sum()), len(audited))
    test_accuracy = _accuracy(x, y, active, test)
    pool_accuracy = _accuracy(x, y, active, unlabeled)
    arms = arms_measure(
        active=active,
        audited=audited,
        tests=audited,
        hits=lambda train, tests: (_fit_predict(x, y, train, tests) == y[tests]).astype(float),
        rng=rng,
    )
    saved = labels_saved(arms, labels_used=len(active), cap=len(pool), rng=rng, draws=300)

    # The truth, from the test set.
    sizes = np.unique(np.geomspace(5, len(pool), 25).round().astype(int))
    random_curve = np.asarray(
        [
            np.mean(
                [
                    _accuracy(x, y, rng.choice(pool, size=n, replace=False), test)
                    for _ in range(RANDOM_DRAWS if n < len(pool) else 1)
                ]
            )
            for n in sizes
        ]
    )
    reached = np.nonzero(random_curve >= test_accuracy)[0]
    true_needed = float(sizes[reached[0]]) if len(reached) else float(len(pool))
    true_saved = min(true_needed, len(pool)) - len(active)
    result = {
        "seed": seed,
        "audit": len(audited),
        "active": len(active),
        "estimate": float(right.mean()),
        "low": low,
        "high": high,
        "test": test_accuracy,
        "pool": pool_accuracy,
        "true_saved": true_saved,
        "saved": None,
    }
    if saved is not None:
        result.update(
            saved=saved.saved,
            saved_low=saved.saved_low,
            saved_high=saved.saved_high,
            reason=saved.reason,
            share=saved.measured_share,
        )
        # The measured share's truth: what target_labels random labels reach on the test
        # set, and the actively chosen labels the learner needs for that, on the test set.
        n_r = saved.target_labels
        target = float(
            np.mean(
                [
                    _accuracy(x, y, rng.choice(pool, size=n_r, replace=False), test)
                    for _ in range(40)
                ]
            )
        )
        prefixes = np.unique(np.geomspace(2, len(active), 30).round().astype(int))
        active_curve = np.asarray([_accuracy(x, y, active[:n], test) for n in prefixes])
        result["true_share"] = 1 - curve_needed(target, prefixes, active_curve) / n_r
        if saved.equal_labels:
            n = saved.equal_labels
            active_n = _accuracy(x, y, active[:n], test)
            random_n = np.mean(
                [_accuracy(x, y, rng.choice(pool, size=n, replace=False), test) for _ in range(20)]
            )
            result.update(gain=saved.equal_gain, true_gain=float(active_n - random_n))
    return result


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=20)
    parser.add_argument("--labels", type=int, default=400)
    parser.add_argument("--processes", type=int, default=2)
    args = parser.parse_args()
    with ProcessPoolExecutor(args.processes) as pool:
        results = list(pool.map(one_seed, range(args.seeds), [args.labels] * args.seeds))
    print(
        f"{'seed':>4} {'audit':>5} {'estimate [95%]':>22} {'test':>6} {'pool':>6}"
        f" {'saved [95%]':>22} {'true':>6}"
    )

    def number(value) -> str:
        return "  inf" if value is None else f"{value:5.0f}"

    for r in results:
        saved = (
            f"{r['saved']:7.0f} [{number(r['saved_low'])}, {number(r['saved_high'])}]"
            if r.get("saved") is not None
            else "not read off"
        )
        print(
            f"{r['seed']:>4} {r['audit']:>5} {r['estimate']:7.3f} [{r['low']:.3f}, {r['high']:.3f}]"
            f" {r['test']:6.3f} {r['pool']:6.3f} {saved:>22} {r['true_saved']:6.0f}"
        )
    n = len(results)
    model_coverage = np.mean([r["low"] <= r["test"] <= r["high"] for r in results])
    pool_coverage = np.mean([r["low"] <= r["pool"] <= r["high"] for r in results])
    bias = np.mean([r["estimate"] - r["test"] for r in results])
    with_saved = [r for r in results if r.get("saved") is not None]

    def inside(low, value, high) -> bool:
        return (low is None or low <= value) and (high is None or value <= high)

    saved_coverage = (
        np.mean([inside(r["saved_low"], r["true_saved"], r["saved_high"]) for r in with_saved])
        if with_saved
        else float("nan")
    )
    with_share = [r for r in results if r.get("share") and math.isfinite(r["true_share"])]
    share_coverage = (
        np.mean([inside(r["share"][1], r["true_share"], r["share"][2]) for r in with_share])
        if with_share
        else float("nan")
    )
    for r in with_share:
        low, high = (f"{v:.2f}" if v is not None else "unbounded" for v in r["share"][1:])
        print(
            f"seed {r['seed']}: measured share saved {r['share'][0]:.2f} [{low}, {high}],"
            f" true {r['true_share']:.2f}"
        )
    saved_error = (
        np.median(
            [abs(r["saved"] - r["true_saved"]) / max(abs(r["true_saved"]), 1) for r in with_saved]
        )
        if with_saved
        else float("nan")
    )
    with_gain = [r for r in results if "gain" in r]
    gain_coverage = (
        np.mean([r["gain"][1] <= r["true_gain"] <= r["gain"][2] for r in with_gain])
        if with_gain
        else float("nan")
    )
    print(
        f"model_coverage={model_coverage:.2f} pool_coverage={pool_coverage:.2f} "
        f"model_bias={bias:+.3f} saved_coverage={saved_coverage:.2f} "
        f"saved_error={saved_error:.2f} saved_reported={len(with_saved)} "
        f"share_coverage={share_coverage:.2f} gain_coverage={gain_coverage:.2f} seeds={n}"
    )


if __name__ == "__main__":
    main()
