"""Label efficiency: how many labels each query strategy needs, on digits and six other data
sets that ship with scikit-learn or scikit-image (nothing is downloaded).

Simulated annotators reveal a label when it is queried; the model is the project's built-in
baseline (activelearn.retraining.baseline). Protocol, per data set and seed: stratified 70/30
pool/test split; a random seed set of 2 x batch labels; `batch` labels queried per round
(10 on pools of 1,250 or more, fewer on small pools: pool / 125, at least 2), the model
refitted after each round; the count is the number of labels at the first round whose test
accuracy reaches 98% of the same model trained on the whole pool. Every strategy runs on the
same splits and seed labels as random. The saving of a strategy on one seed is
1 - its labels / random's labels on that seed; the table gives its min, mean and max over
the seeds. On digits the baseline's whole-pool accuracy must be at least 0.95 on every seed,
or the run fails (a weak model flatters the savings).

`auto` runs the product's own code (activelearn.strategies.auto): each round its arms score
the pool, the bandit's mixture orders it, the batch is the head of that order, and the
revealed labels update the bandit exactly as labels arriving in a project do.

    .venv/bin/python benchmarks/label_efficiency.py

Last line: auto_mean_saved=<mean over sets of auto's mean saving> auto_min_set_saved=<lowest
per-set mean saving of auto> digits_saved=<the default's mean saving on digits> sets=<n>
seeds=<n>
"""

from __future__ import annotations

import argparse
import functools
import json
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
from sklearn import datasets as sk_datasets  # noqa: E402
from sklearn.model_selection import train_test_split  # noqa: E402

from activelearn import strategies  # noqa: E402
from activelearn.retraining.baseline import BaselineModel, baseline_fit  # noqa: E402
from activelearn.strategies import auto  # noqa: E402

SEEDS = 20
TEST_FRACTION = 0.3
# Labels per round: pool / POOL_PER_BATCH_LABEL, within [MIN_BATCH, MAX_BATCH]; digits' pool
# of 1,257 gives issue 4's protocol (batch 10, 20 seed labels).
POOL_PER_BATCH_LABEL = 125
MIN_BATCH, MAX_BATCH = 2, 10
SEED_BATCHES = 2
TARGET_FRACTION = 0.98
MIN_WHOLE_POOL_ACCURACY = 0.95  # on digits, issue 4's bar
COMMITTEE_MEMBERS = 5
RANDOM_REPEATS = 5
BLEND_WEIGHTS = {"margin": 0.5, "novelty": 0.5}
GOAL_AUTO_MIN_SET_SAVED = 0.0
GOAL_AUTO_MEAN_SAVED = 0.35
GOAL_DIGITS_SAVED = 0.6
README = Path(__file__).resolve().parent / "README.md"


# --- the data sets ----------------------------------------------------------------------------


def _digits() -> tuple[np.ndarray, np.ndarray]:
    return sk_datasets.load_digits(return_X_y=True)


def _iris() -> tuple[np.ndarray, np.ndarray]:
    return sk_datasets.load_iris(return_X_y=True)


def _wine() -> tuple[np.ndarray, np.ndarray]:
    return sk_datasets.load_wine(return_X_y=True)


def _breast_cancer() -> tuple[np.ndarray, np.ndarray]:
    return sk_datasets.load_breast_cancer(return_X_y=True)


def _imbalanced_noisy() -> tuple[np.ndarray, np.ndarray]:
    """4 classes of 59/25/11/6%, 5% of the labels replaced at random (flip_y)."""
    return sk_datasets.make_classification(
        n_samples=2000,
        n_features=20,
        n_informative=8,
        n_redundant=4,
        n_classes=4,
        weights=[0.59, 0.25, 0.1, 0.06],
        flip_y=0.05,
        random_state=14,
    )


def _faces() -> tuple[np.ndarray, np.ndarray]:
    """scikit-image's LFW subset: 100 faces and 100 non-faces, 25 x 25 grey pixels."""
    from skimage import data

    images = data.lfw_subset()
    return images.reshape(images.shape[0], -1), np.repeat([1, 0], 100)


def _textures() -> tuple[np.ndarray, np.ndarray]:
    """16 x 16 patches of scikit-image's brick, grass and gravel photos (3,072 patches),
    each described by a histogram of its uniform local binary patterns and one of its grey
    levels: the cheap-feature kind of image the product ranks before a model exists."""
    from skimage import data
    from skimage.feature import local_binary_pattern

    size = 16
    features, labels = [], []
    for label, name in enumerate(("brick", "grass", "gravel")):
        image = getattr(data, name)()
        patterns = local_binary_pattern(image, 8, 1, "uniform").astype(np.int64)
        for top in range(0, image.shape[0] - size + 1, size):
            for left in range(0, image.shape[1] - size + 1, size):
                window = (slice(top, top + size), slice(left, left + size))
                lbp = np.bincount(patterns[window].ravel(), minlength=10) / size**2
                grey = np.histogram(image[window], bins=8, range=(0, 256))[0] / size**2
                features.append(np.concatenate([lbp, grey]))
                labels.append(label)
    return np.asarray(features), np.asarray(labels)


@dataclass(frozen=True)
class DataSet:
    name: str
    load: Callable[[], tuple[np.ndarray, np.ndarray]]
    summary: str


DATA_SETS: dict[str, DataSet] = {
    data_set.name: data_set
    for data_set in (
        DataSet("digits", _digits, "sklearn digits, 1,797 8x8 images, 10 classes"),
        DataSet("iris", _iris, "sklearn iris, 150 flowers, 4 features, 3 classes"),
        DataSet("wine", _wine, "sklearn wine, 178 wines, 13 features, 3 classes"),
        DataSet(
            "breast_cancer", _breast_cancer, "sklearn breast cancer, 569 cases, 30 features, 2"
        ),
        DataSet(
            "imbalanced_noisy",
            _imbalanced_noisy,
            "make_classification, 2,000 points, 4 classes 59/25/11/6%, 5% labels flipped",
        ),
        DataSet("faces", _faces, "skimage LFW subset, 200 25x25 images, face or not"),
        DataSet("textures", _textures, "skimage brick/grass/gravel, 3,072 16x16 patches, LBP+grey"),
    )
}


@functools.cache
def _loaded(name: str) -> tuple[np.ndarray, np.ndarray]:
    return DATA_SETS[name].load()


def split(name: str, seed: int) -> tuple[np.ndarray, np.ndarray, np.ndarray, np.ndarray]:
    features, labels = _loaded(name)
    return train_test_split(
        features, labels, test_size=TEST_FRACTION, stratify=labels, random_state=seed
    )


def batch_size(pool: int) -> int:
    return int(np.clip(round(pool / POOL_PER_BATCH_LABEL), MIN_BATCH, MAX_BATCH))


# --- the strategies' recipes -----------------------------------------------------------------


@dataclass(frozen=True)
class Round:
    """What a strategy sees each round: the fitted model and the pool, split in two."""

    model: BaselineModel
    pool_features: np.ndarray
    labeled: np.ndarray  # indices into the pool
    unlabeled: np.ndarray
    pool_labels: np.ndarray  # only read at `labeled` (the committee refits on them)
    rng: np.random.Generator
    batch: int


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
        return strategies.diverse_margin(_probs(round_), unlabeled, batch_size=round_.batch)
    if name == "expected_gradient_length":
        return round_.model.expected_gradient_length(round_.pool_features[round_.unlabeled])
    if name in ("vote_entropy", "mean_kl_to_consensus"):
        return strategies.get_strategy(name).score(_committee_probs(round_))
    if name == "k_center":
        unlabeled, labeled = _embeddings(round_)
        return strategies.k_center_scores(unlabeled, labeled_embeddings=labeled, k=round_.batch)
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
    "auto",
)
# What the baseline gives the strategies: class probabilities, and its input space stands in
# for embeddings (diversity, coverage and novelty read it).
HELD = frozenset({strategies.CLASS_PROBS, strategies.EMBEDDINGS})


# --- the loop ----------------------------------------------------------------------------------


def whole_pool_accuracy(name: str, seed: int) -> float:
    pool_x, test_x, pool_y, test_y = split(name, seed)
    model = baseline_fit(pool_x, pool_y)
    return float((model.classes[model.predict_proba(test_x).argmax(1)] == test_y).mean())


def _seed_labels(pool_y: np.ndarray, count: int, seed: int) -> np.ndarray:
    """A random seed set; drawn again until it holds two classes (the baseline needs them)."""
    rng = np.random.default_rng([seed, 0])
    while True:
        labeled = rng.choice(pool_y.shape[0], count, replace=False)
        if np.unique(pool_y[labeled]).shape[0] >= 2:
            return labeled


def _correct(model: BaselineModel, features: np.ndarray, labels: np.ndarray) -> np.ndarray:
    return (model.classes[model.predict_proba(features).argmax(axis=1)] == labels).astype(float)


@dataclass(frozen=True)
class AutoRun:
    labels: int
    probabilities: dict[str, float]  # the arms' probabilities in the last round


def labels_needed_auto(data_set: str, seed: int, target: float) -> AutoRun:
    """`auto` as a project runs it: each round (one model version) its arms score the pool,
    `auto.mix` orders it by the bandit's probabilities, the batch is the head of that order,
    and the labels become picks whose rewards (`auto.credits_from_picks`) set the next
    round's weights. Same splits, seed labels and stopping rule as `labels_needed`."""
    pool_x, test_x, pool_y, test_y = split(data_set, seed)
    batch = batch_size(pool_x.shape[0])
    labeled = _seed_labels(pool_y, SEED_BATCHES * batch, seed)
    rng = np.random.default_rng([seed, 1])
    arms = auto.auto_arms(strategies.STRATEGIES, HELD, exclude=strategies.AUTO_INPUT)
    default_arm = strategies.default_pick(HELD)
    picks: list[auto.Pick] = []
    previous: BaselineModel | None = None
    version = 0
    probabilities = auto.arm_probabilities(auto.log_weights_of(arms, default_arm, {}))
    while True:
        model = baseline_fit(pool_x[labeled], pool_y[labeled])
        if _correct(model, test_x, test_y).mean() >= target or labeled.shape[0] >= pool_x.shape[0]:
            return AutoRun(int(labeled.shape[0]), probabilities)
        version += 1
        unlabeled = np.setdiff1d(np.arange(pool_x.shape[0]), labeled)
        round_ = Round(model, pool_x, labeled, unlabeled, pool_y, rng, batch)
        arm_scores = {arm: _scores(arm, round_) for arm in arms if arm != auto.RANDOM_ARM}
        credits = auto.credits_from_picks(picks)
        mixed = auto.mix(
            arm_scores, auto.log_weights_of(arms, default_arm, credits), batch=batch, rng=rng
        )
        probabilities = mixed.probabilities
        chosen = strategies.select_top_k(mixed.priorities, batch, rng=rng)
        picked = unlabeled[chosen]
        correct = _correct(model, pool_x[picked], pool_y[picked])
        before = None if previous is None else _correct(previous, pool_x[picked], pool_y[picked])
        for position, index in enumerate(chosen):
            picks.append(
                auto.Pick(
                    version=version,
                    q=float(mixed.q[index]),
                    advised=mixed.advised[index],
                    pool=int(unlabeled.shape[0]),
                    batch=mixed.batch,
                    correct=float(correct[position]),
                    previous_version=None if previous is None else version - 1,
                    previous_correct=None if before is None else float(before[position]),
                )
            )
        labeled = np.concatenate([labeled, picked])
        previous = model


def labels_needed(data_set: str, name: str, seed: int, target: float, repeat: int = 0) -> int:
    """Labels in hand at the first round whose test accuracy reaches `target`. `repeat`
    picks another stream of draws (random's repeats on the same split and seed labels)."""
    if name == "auto":
        return labels_needed_auto(data_set, seed, target).labels
    pool_x, test_x, pool_y, test_y = split(data_set, seed)
    batch = batch_size(pool_x.shape[0])
    labeled = _seed_labels(pool_y, SEED_BATCHES * batch, seed)
    # Strategies get their own stream so random's draws never shift another's seed labels.
    rng = np.random.default_rng([seed, 1] if repeat == 0 else [seed, 1, repeat])
    while True:
        model = baseline_fit(pool_x[labeled], pool_y[labeled])
        predicted = model.classes[model.predict_proba(test_x).argmax(axis=1)]
        if (predicted == test_y).mean() >= target or labeled.shape[0] >= pool_x.shape[0]:
            return int(labeled.shape[0])
        unlabeled = np.setdiff1d(np.arange(pool_x.shape[0]), labeled)
        round_ = Round(model, pool_x, labeled, unlabeled, pool_y, rng, batch)
        scores = _scores(name, round_)
        picked = unlabeled[strategies.select_top_k(scores, batch, rng=rng)]
        labeled = np.concatenate([labeled, picked])


def _run(job: tuple[str, str, int, float]) -> tuple[str, str, int, float, dict, float]:
    """Labels needed by one strategy on one seed (and, for auto, its arms' probabilities at
    the end); random's are the mean of RANDOM_REPEATS runs with different draws, so a saving
    compares with random's expected labels on that split, not with one lucky or unlucky draw."""
    data_set, name, seed, target = job
    started = time.perf_counter()
    probabilities: dict[str, float] = {}
    if name == "auto":
        run = labels_needed_auto(data_set, seed, target)
        count, probabilities = float(run.labels), run.probabilities
    else:
        repeats = RANDOM_REPEATS if name == "random" else 1
        counts = [labels_needed(data_set, name, seed, target, r) for r in range(repeats)]
        count = float(np.mean(counts))
    return data_set, name, seed, count, probabilities, time.perf_counter() - started


# --- the report --------------------------------------------------------------------------------


@dataclass(frozen=True)
class Result:
    """Labels needed per data set, strategy and seed, and what they save against random."""

    needed: dict[str, dict[str, dict[int, float]]]  # data set -> strategy -> seed -> labels
    seeds: list[int]
    auto_probabilities: dict[str, dict[int, dict[str, float]]]  # data set -> seed -> arm -> p

    def savings(self, data_set: str, name: str) -> np.ndarray:
        """Per seed: 1 - labels / random's labels (random's: the mean of its repeats)."""
        random = np.array([self.needed[data_set]["random"][s] for s in self.seeds])
        counts = np.array([self.needed[data_set][name][s] for s in self.seeds])
        return 1.0 - counts / random

    def mean_labels(self, data_set: str, name: str) -> float:
        return float(np.mean([self.needed[data_set][name][s] for s in self.seeds]))

    def mean_saving(self, data_set: str, name: str) -> float:
        return float(self.savings(data_set, name).mean())


def _label(name: str, default: str) -> str:
    return f"{name} (default)" if name == default else name


def table(result: Result, data_sets: list[str], names: list[str], default: str) -> list[str]:
    """Markdown: per data set, each strategy's mean labels and its saving against random per
    seed (min, mean, max, seeds worse than random); then the mean savings side by side."""
    n = len(result.seeds)
    lines = []
    for data_set in data_sets:
        lines += [f"**{data_set}**: {DATA_SETS[data_set].summary}", ""]
        lines.append("| strategy | mean labels | saved min | saved mean | saved max | worse |")
        lines.append("|---|---|---|---|---|---|")
        for name in names:
            saved = result.savings(data_set, name)
            lines.append(
                f"| {_label(name, default)} | {result.mean_labels(data_set, name):.1f} | "
                f"{saved.min():+.1%} | {saved.mean():+.1%} | {saved.max():+.1%} | "
                f"{int((saved < 0).sum())}/{n} |"
            )
        lines.append("")
    lines += ["Mean saving against random per data set (mean over seeds):", ""]
    lines.append("| strategy | " + " | ".join(data_sets) + " | mean | lowest set |")
    lines.append("|---|" + "---|" * (len(data_sets) + 2))
    for name in names:
        per_set = [result.mean_saving(d, name) for d in data_sets]
        cells = " | ".join(f"{value:+.1%}" for value in per_set)
        lines.append(
            f"| {_label(name, default)} | {cells} | {np.mean(per_set):+.1%} | {min(per_set):+.1%} |"
        )
    if result.auto_probabilities:
        lines += ["", "auto's arm probabilities in its last round (mean over seeds):", ""]
        arms = sorted(
            {arm for d in result.auto_probabilities.values() for p in d.values() for arm in p}
        )
        lines.append("| data set | " + " | ".join(arms) + " |")
        lines.append("|---|" + "---|" * len(arms))
        for data_set, per_seed in result.auto_probabilities.items():
            means = [np.mean([p.get(arm, 0.0) for p in per_seed.values()]) for arm in arms]
            lines.append(f"| {data_set} | " + " | ".join(f"{m:.3f}" for m in means) + " |")
    return lines


README_START = "<!-- label_efficiency.py writes from here -->"
README_END = "<!-- label_efficiency.py writes up to here -->"


def readme_write(lines: list[str], path: Path = README) -> None:
    """Put the table between the two markers of benchmarks/README.md."""
    text = path.read_text()
    if README_START not in text or README_END not in text:
        raise SystemExit(f"{path} lacks the markers {README_START!r} and {README_END!r}")
    head, rest = text.split(README_START, 1)
    _, tail = rest.split(README_END, 1)
    path.write_text(head + README_START + "\n" + "\n".join(lines) + "\n" + README_END + tail)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--seeds", type=int, default=SEEDS, help="seeds to average over")
    parser.add_argument("--workers", type=int, default=os.cpu_count() or 1)
    parser.add_argument(
        "--strategies", default=",".join(STRATEGY_NAMES), help="comma-separated names"
    )
    parser.add_argument("--sets", default=",".join(DATA_SETS), help="comma-separated data sets")
    parser.add_argument(
        "--write-readme", action="store_true", help="put the tables into benchmarks/README.md"
    )
    parser.add_argument("--json", type=Path, help="also write the labels needed to this file")
    args = parser.parse_args(argv)
    names = [name.strip() for name in args.strategies.split(",") if name.strip()]
    unknown = sorted(set(names) - set(STRATEGY_NAMES))
    if unknown:
        parser.error(
            f"unknown strategies: {', '.join(unknown)}; known: {', '.join(STRATEGY_NAMES)}"
        )
    data_sets = [name.strip() for name in args.sets.split(",") if name.strip()]
    unknown = sorted(set(data_sets) - set(DATA_SETS))
    if unknown:
        parser.error(f"unknown data sets: {', '.join(unknown)}; known: {', '.join(DATA_SETS)}")
    default = strategies.DEFAULT_STRATEGY
    for required in ("auto", default, "random"):
        if required not in names:
            names.insert(0, required)
    seeds = list(range(args.seeds))
    started = time.perf_counter()

    accuracies = {(d, seed): whole_pool_accuracy(d, seed) for d in data_sets for seed in seeds}
    print("whole-pool accuracy of the baseline (mean, min over seeds) and the protocol:")
    for d in data_sets:
        values = [accuracies[d, seed] for seed in seeds]
        pool = split(d, 0)[0].shape[0]
        print(
            f"  {d:<18} {np.mean(values):.4f} {min(values):.4f}   pool {pool}, "
            f"batch {batch_size(pool)}, seed labels {SEED_BATCHES * batch_size(pool)}"
        )
    weak = [
        seed
        for seed in seeds
        if "digits" in data_sets and accuracies["digits", seed] < MIN_WHOLE_POOL_ACCURACY
    ]
    if weak:
        print(
            f"FAIL: whole-pool accuracy below {MIN_WHOLE_POOL_ACCURACY} on digits seeds "
            f"{weak}; savings against a weak model mean nothing",
            file=sys.stderr,
        )
        return 1

    jobs = [
        (d, name, seed, TARGET_FRACTION * accuracies[d, seed])
        for d in data_sets
        for name in names
        for seed in seeds
    ]
    # The slow ones first, so the last jobs of the pool are short.
    slow = {"random": RANDOM_REPEATS, "vote_entropy": 4, "mean_kl_to_consensus": 4, "auto": 3}
    jobs.sort(key=lambda job: -split(job[0], 0)[0].shape[0] * slow.get(job[1], 1))
    needed: dict[str, dict[str, dict[int, float]]] = {d: {n: {} for n in names} for d in data_sets}
    probabilities: dict[str, dict[int, dict[str, float]]] = {d: {} for d in data_sets}
    seconds: dict[str, float] = dict.fromkeys(names, 0.0)
    run: Callable = map
    if args.workers > 1:
        executor = ProcessPoolExecutor(max_workers=args.workers)
        run = functools.partial(executor.map, chunksize=1)
    for d, name, seed, count, auto_probabilities, elapsed in run(_run, jobs):
        needed[d][name][seed] = count
        if name == "auto":
            probabilities[d][seed] = auto_probabilities
        seconds[name] += elapsed
    if args.workers > 1:
        executor.shutdown()
    result = Result(needed, seeds, probabilities)
    if args.json:
        args.json.write_text(json.dumps(needed, indent=1))

    lines = [
        f"Labels to reach {TARGET_FRACTION:.0%} of whole-pool accuracy, and the saving against "
        f"random per seed ({len(seeds)} seeds; random: mean of {RANDOM_REPEATS} runs per seed).",
        "",
        *table(result, data_sets, names, default),
    ]
    print()
    print("\n".join(lines))
    print()
    print("CPU seconds per strategy: " + ", ".join(f"{n} {s:.0f}" for n, s in seconds.items()))
    print(f"wall time {time.perf_counter() - started:.1f} s")
    auto_per_set = {d: result.mean_saving(d, "auto") for d in data_sets}
    auto_mean = float(np.mean(list(auto_per_set.values())))
    auto_min = min(auto_per_set.values())
    digits = result.mean_saving("digits", default) if "digits" in data_sets else float("nan")
    goals = [
        (
            f"auto's lowest per-set mean saving >= {GOAL_AUTO_MIN_SET_SAVED:.0%}",
            auto_min >= GOAL_AUTO_MIN_SET_SAVED,
        ),
        (f"auto's mean saving >= {GOAL_AUTO_MEAN_SAVED:.0%}", auto_mean >= GOAL_AUTO_MEAN_SAVED),
        (f"the default's saving on digits >= {GOAL_DIGITS_SAVED:.0%}", digits >= GOAL_DIGITS_SAVED),
    ]
    for text, met in goals:
        print(f"goal: {text}: {'met' if met else 'NOT met'}")
    if args.write_readme:
        readme_write(lines)
    print(
        f"auto_mean_saved={auto_mean:.3f} auto_min_set_saved={auto_min:.3f} "
        f"digits_saved={digits:.3f} sets={len(data_sets)} seeds={len(seeds)}"
    )
    return 0


if __name__ == "__main__":
    sys.exit(main())
