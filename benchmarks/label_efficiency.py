"""Label efficiency: how many labels each query strategy needs on scikit-learn's digits.

Simulated annotators reveal a label when it is queried; the model is the project's built-in
baseline (activelearn.retraining.baseline). Protocol, per seed: stratified 70/30 pool/test split;
20 random seed labels; 10 labels queried per round, the model refitted after each round;
the count is the number of labels at the first round whose test accuracy reaches 98% of the
same model trained on the whole pool. Every strategy runs on the same splits and seed
labels as random; figures are means over 5 seeds. The baseline's whole-pool accuracy must
be at least 0.95 on every seed, or the run fails (a weak model flatters the savings).

    .venv/bin/python benchmarks/label_efficiency.py

Last line: saved_vs_random=<fraction of random's labels saved by the default> default=<name>
"""

from __future__ import annotations

import argparse
import os
import sys
import time
from collections.abc import Callable
from concurrent.futures import ProcessPoolExecutor
from dataclasses import dataclass
from pathlib import Path

# One BLAS thread per process; the runs are spread over processes instead.
for variable in ("OMP_NUM_THREADS", "OPENBLAS_NUM_THREADS", "MKL_NUM_THREADS"):
    os.environ.setdefault(variable, "1")

sys.path.insert(0, str(Path(__file__).resolve().parent.parent))

import numpy as np  # noqa: E402
from sklearn.datasets import load_digits  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from activelearn import strategies  # noqa: E402
from activelearn.retraining.baseline import BaselineModel, baseline_fit  # noqa: E402

SEEDS = 5
TEST_FRACTION = 0.3
SEED_LABELS = 20
BATCH = 10
TARGET_FRACTION = 0.98
MIN_WHOLE_POOL_ACCURACY = 0.95
COMMITTEE_MEMBERS = 5
GOAL_SAVED = 0.55
BLEND_WEIGHTS = {"margin": 0.5, "novelty": 0.5}


@dataclass(frozen=True)
class Round:
    """What a strategy sees each round: the fitted model and the pool, split in two."""

    model: BaselineModel
    pool_features: np.ndarray
    labeled: np.ndarray  # indices into the pool
    unlabeled: np.ndarray
    pool_labels: np.ndarray  # only read at `labeled` (the committee refits on them)
    rng: np.random.Generator


def _probs(round_: Round) -> np.ndarray:
    return round_.model.predict_proba(round_.pool_features[round_.unlabeled])


def _embeddings(round_: Round) -> tuple[np.ndarray, np.ndarray]:
    embedded = round_.model.embed(round_.pool_features)
    return embedded[round_.unlabeled], embedded[round_.labeled]


def _committee_probs(round_: Round) -> np.ndarray:
    """Query by bagging (Abe & Mamitsuka, ICML 1998): baselines fitted on bootstrap samples."""
    classes = round_.model.classes
    features = round_.pool_features[round_.labeled]
    labels = round_.pool_labels[round_.labeled]
    members = []
    while len(members) < COMMITTEE_MEMBERS:
        sample = round_.rng.integers(0, labels.shape[0], labels.shape[0])
        if np.unique(labels[sample]).shape[0] < 2:
            continue
        member = baseline_fit(features[sample], labels[sample])
        probs = np.zeros((round_.unlabeled.shape[0], classes.shape[0]))
        probs[:, np.searchsorted(classes, member.classes)] = member.predict_proba(
            round_.pool_features[round_.unlabeled]
        )
        members.append(probs)
    return np.stack(members, axis=2)


def _scores(name: str, round_: Round) -> np.ndarray:
    if name == "random":
        return strategies.random_scores(round_.unlabeled.shape[0], rng=round_.rng)
    if name in ("least_confidence", "margin", "entropy"):
        return strategies.get_strategy(name).score(_probs(round_))
    if name == "diverse_margin":
        unlabeled, _ = _embeddings(round_)
        return strategies.diverse_margin(_probs(round_), unlabeled, batch_size=BATCH)
    if name == "expected_gradient_length":
        return round_.model.expected_gradient_length(round_.pool_features[round_.unlabeled])
    if name in ("vote_entropy", "mean_kl_to_consensus"):
        return strategies.get_strategy(name).score(_committee_probs(round_))
    if name == "k_center":
        unlabeled, labeled = _embeddings(round_)
        return strategies.k_center_scores(unlabeled, labeled_embeddings=labeled, k=BATCH)
    if name == "novelty":
        unlabeled, labeled = _embeddings(round_)
        return strategies.nearest_labeled_distance(unlabeled, labeled)
    if name == "blend_margin_novelty":
        unlabeled, labeled = _embeddings(round_)
        parts = {
            "margin": strategies.margin(_probs(round_)),
            "novelty": strategies.nearest_labeled_distance(unlabeled, labeled),
        }
        return strategies.blend(parts, BLEND_WEIGHTS)
    raise ValueError(f"no benchmark recipe for strategy {name!r}")


STRATEGY_NAMES: tuple[str, ...] = (
    "random",
    "least_confidence",
    "margin",
    "entropy",
    "diverse_margin",
    "expected_gradient_length",
    "vote_entropy",
    "mean_kl_to_consensus",
    "k_center",
    "novelty",
    "blend_margin_novelty",
)


def split(seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    features, labels = load_digits(return_X_y=True)
    return train_test_split(
        features, labels, test_size=TEST_FRACTION, stratify=labels, random_state=seed
    )


def whole_pool_accuracy(seed: int) -> float:
    pool_x, test_x, pool_y, test_y = split(seed)
    model = baseline_fit(pool_x, pool_y)
    return float(
        (model.classifier.classes_[model.predict_proba(test_x).argmax(1)] == test_y).mean()
    )


def labels_needed(name: str, seed: int, target: float) -> int:
    """Labels in hand at the first round whose test accuracy reaches `target`."""
    pool_x, test_x, pool_y, test_y = split(seed)
    seed_rng = np.random.default_rng([seed, 0])
    labeled = seed_rng.choice(pool_x.shape[0], SEED_LABELS, replace=False)
    # Strategies get their own stream so random's draws never shift another's seed labels.
    rng = np.random.default_rng([seed, 1])
    while True:
        model = baseline_fit(pool_x[labeled], pool_y[labeled])
        predicted = model.classes[model.predict_proba(test_x).argmax(axis=1)]
        if (predicted == test_y).mean() >= target or labeled.shape[0] >= pool_x.shape[0]:
            return int(labeled.shape[0])
        unlabeled = np.setdiff1d(np.arange(pool_x.shape[0]), labeled)
        round_ = Round(model, pool_x, labeled, unlabeled, pool_y, rng)
        scores = _scores(name, round_)
        picked = unlabeled[strategies.select_top_k(scores, BATCH, rng=rng)]
        labeled = np.concatenate([labeled, picked])


def _run(job: tuple[str, int, float]) -> tuple[str, int, int, float]:
    name, seed, target = job
    started = time.perf_counter()
    return name, seed, labels_needed(name, seed, target), time.perf_counter() - started


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=SEEDS, help="seeds to average over")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--strategies", default=",".join(STRATEGY_NAMES), help="comma-separated names"
    )
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.strategies.split(",") if name.strip()]
    unknown = sorted(set(names) - set(STRATEGY_NAMES))
    if unknown:
        parser.error(
            f"unknown strategies: {', '.join(unknown)}; known: {', '.join(STRATEGY_NAMES)}"
        )
    default = strategies.DEFAULT_STRATEGY
    for required in ("random", default):
        if required not in names:
            names.insert(0, required)
    seeds = list(range(args.seeds))
    started = time.perf_counter()

    accuracies = {seed: whole_pool_accuracy(seed) for seed in seeds}
    print("whole-pool accuracy of the baseline per seed:")
    for seed, accuracy in accuracies.items():
        print(f"  seed {seed}: {accuracy:.4f}  target {TARGET_FRACTION * accuracy:.4f}")
    weak = {
        seed: accuracy
        for seed, accuracy in accuracies.items()
        if accuracy < MIN_WHOLE_POOL_ACCURACY
    }
    if weak:
        print(
            f"FAIL: whole-pool accuracy below {MIN_WHOLE_POOL_ACCURACY} on seeds {sorted(weak)}; "
            "savings against a weak model mean nothing",
            file=sys.stderr,
        )
        return 1

    jobs = [(name, seed, TARGET_FRACTION * accuracies[seed]) for name in names for seed in seeds]
    needed: dict[str, dict[int, int]] = {name: {} for name in names}
    seconds: dict[str, float] = dict.fromkeys(names, 0.0)
    run: Callable = map
    if args.workers > 1:
        executor = ProcessPoolExecutor(max_workers=args.workers)
        run = executor.map
    for name, seed, count, elapsed in run(_run, jobs):
        needed[name][seed] = count
        seconds[name] += elapsed
    if args.workers > 1:
        executor.shutdown()

    random_mean = float(np.mean(list(needed["random"].values())))
    print()
    print(
        f"labels to reach {TARGET_FRACTION:.0%} of whole-pool accuracy, mean of {len(seeds)} seeds"
    )
    header = f"{'strategy':<26}{'mean':>8}{'std':>7}{'saved':>8}  {'per seed':<34}{'secs':>7}"
    print(header)
    print("-" * len(header))
    for name in names:
        counts = np.array([needed[name][seed] for seed in seeds])
        saved = 1.0 - counts.mean() / random_mean
        marker = "  (default)" if name == default else ""
        per_seed = " ".join(str(count) for count in counts)
        print(
            f"{name:<26}{counts.mean():>8.1f}{counts.std():>7.1f}{saved:>8.1%}  "
            f"{per_seed:<34}{seconds[name]:>7.1f}{marker}"
        )
    print("(detection and keypoint strategies need boxes or poses; digits has neither)")
    print(f"wall time {time.perf_counter() - started:.1f} s")
    saved_default = 1.0 - np.mean(list(needed[default].values())) / random_mean
    margin_note = ""
    if "margin" in needed:
        saved_margin = 1.0 - np.mean(list(needed["margin"].values())) / random_mean
        margin_note = f" (plain margin: {saved_margin:.1%})"
    verdict = "met" if saved_default >= GOAL_SAVED else "NOT met"
    print(f"goal: default saves >= {GOAL_SAVED:.0%} of random's labels: {verdict}{margin_note}")
    print(f"saved_vs_random={saved_default:.3f} default={default}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
