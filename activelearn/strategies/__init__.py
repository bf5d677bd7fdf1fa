"""Query strategies: pure functions from model outputs (numpy arrays) to one score per asset.

Higher scores mean "label this sooner". Scores are finite and do not depend on the order of
the assets; NaN, infinite or mis-shaped inputs raise ValueError. Nothing here touches Django,
a model or the database. Choosing assets from scores is separate (`select_top_k`,
`diverse_batch`). `STRATEGIES` maps the name a project stores to the scoring function and
the inputs it needs and the input adapter that feeds it; `DEFAULT_STRATEGY` is what a new
project uses.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

import numpy as np

from activelearn.strategies.auto import mix
from activelearn.strategies.blend import blend, rank_normalise
from activelearn.strategies.classification import (
    entropy,
    least_confidence,
    margin,
    normalised_entropy,
    random_scores,
)
from activelearn.strategies.committee import mean_kl_to_consensus, vote_entropy
from activelearn.strategies.detection import box_uncertainty, detection_image_scores
from activelearn.strategies.diversity import (
    diverse_batch,
    diverse_margin,
    diverse_rerank,
    k_center_greedy,
    k_center_scores,
)
from activelearn.strategies.expected_change import (
    expected_gradient_length,
    expected_gradient_length_from_weights,
)
from activelearn.strategies.keypoints import (
    keypoint_frame_scores,
    keypoint_instance_scores,
    mastery_weights,
)
from activelearn.strategies.novelty import nearest_labeled_distance
from activelearn.strategies.selection import select_top_k
from activelearn.strategies.tracks import track_risk_report, track_risk_scores

# What a strategy can need from a model version, in the words an error message uses.
CLASS_PROBS = "class_probs"
COMMITTEE = "committee"
EMBEDDINGS = "embeddings"
BOXES = "boxes"
KEYPOINTS = "keypoints"
LAST_LAYER_INPUTS = "last_layer_inputs"
TRACKS = "tracks"
NEED_WORDS: dict[str, str] = {
    CLASS_PROBS: "class probabilities",
    COMMITTEE: "a committee (class probabilities of several members)",
    EMBEDDINGS: "embeddings",
    BOXES: "boxes",
    KEYPOINTS: "keypoints",
    LAST_LAYER_INPUTS: "the inputs of the model's last linear layer",
    TRACKS: "boxes on video frames (joined into tracks)",
}

# How scoring turns prediction data (an image's or a video frame's "probs", "embedding",
# "boxes", "keypoints") into the arguments of a strategy's function. Each name is one
# function in activelearn.scoring.adapters; scoring reads this declaration, not the name.
COUNT_INPUT = "count"  # how many assets, and an rng seeded by the run
UNIT_PROBS_INPUT = "unit_probs"  # [units, classes] class probabilities, one row per image/frame
TASK_EMBEDDINGS_INPUT = "task_embeddings"  # one embedding per task (its frames averaged),
# its class probabilities too when the function takes them, and the labeled assets' embeddings
UNIT_EMBEDDINGS_INPUT = "unit_embeddings"  # [units, dims] against the labeled embeddings
BOXES_INPUT = "boxes"  # every box's class probabilities and objectness, with its image/frame
KEYPOINTS_INPUT = "keypoints"  # every instance's per-keypoint confidences, with its image/frame
TRACKS_INPUT = "tracks"  # each video task's boxes joined into tracks, its frames and image
# size, and the shapes optical flow propagated in its latest annotation
AUTO_INPUT = "auto"  # every usable arm's scores and the project's bandit (strategies.auto)

# What a project's strategy setting takes besides the registry's names.
DEFAULT = "default"  # picked from what the predictions hold (DEFAULT_PICKS)
BLEND = "blend"  # a weighted rank blend of the strategies named in the blend weights


@dataclass(frozen=True)
class Strategy:
    """A named strategy: its scoring function, the keyword inputs that function takes, and
    what it needs from a model version (`needs`, all required) or uses when there
    (`optional`: model embeddings, else the assets' colour histograms stand in).

    `adapter` names how scoring builds those inputs from prediction data (one of the
    `*_INPUT` names; None: nothing a model version here gives can feed it). `pool_wide`: the
    score of one asset depends on the others scored with it, so a run scores the whole pool
    again at its end. `until_labeled`: the strategy that stands in while nothing is labeled
    (one measured against the labeled set is undefined before). Settings validation reads
    `needs`, scoring reads `adapter`, `pool_wide` and `until_labeled`; nothing branches on
    the name. `every_frame`: it reads consecutive frames, so scoring runs the model on every
    frame of a video segment rather than a few. `explain`: a function of the same inputs
    giving a report with `scores` and, per asset, `reasons` (dicts with a "text") that the
    queue shows beside the score."""

    name: str
    score: Callable[..., np.ndarray]
    inputs: tuple[str, ...]
    task: str  # "any", "classification", "committee", "detection", "keypoints" or "tracks"
    summary: str
    needs: frozenset[str] = frozenset()
    optional: frozenset[str] = frozenset()
    adapter: str | None = None
    pool_wide: bool = False
    until_labeled: str | None = None
    every_frame: bool = False
    explain: Callable[..., object] | None = None


_PROBS = frozenset({CLASS_PROBS})
_OPTIONAL_EMBEDDINGS = frozenset({EMBEDDINGS})

STRATEGIES: dict[str, Strategy] = {
    strategy.name: strategy
    for strategy in (
        Strategy(
            "random",
            random_scores,
            ("n", "rng"),
            "any",
            "Random order (the baseline).",
            adapter=COUNT_INPUT,
        ),
        Strategy(
            "least_confidence",
            least_confidence,
            ("probs",),
            "classification",
            "1 - top class probability.",
            needs=_PROBS,
            adapter=UNIT_PROBS_INPUT,
        ),
        Strategy(
            "margin",
            margin,
            ("probs",),
            "classification",
            "1 - (top1 - top2).",
            needs=_PROBS,
            adapter=UNIT_PROBS_INPUT,
        ),
        Strategy(
            "entropy",
            entropy,
            ("probs",),
            "classification",
            "Predictive entropy.",
            needs=_PROBS,
            adapter=UNIT_PROBS_INPUT,
        ),
        Strategy(
            "diverse_margin",
            diverse_margin,
            ("probs", "embeddings"),
            "classification",
            "Margin, next batch re-picked from the top candidates for diversity.",
            needs=_PROBS,
            optional=_OPTIONAL_EMBEDDINGS,
            adapter=TASK_EMBEDDINGS_INPUT,
            pool_wide=True,
        ),
        Strategy(
            "expected_gradient_length",
            expected_gradient_length,
            ("probs", "features"),
            "classification",
            "Expected log-loss gradient norm of the logistic baseline.",
            # Exact only on the inputs of the model's last linear layer, which no model
            # version here exposes (the baseline's ONNX gives probabilities alone).
            needs=frozenset({CLASS_PROBS, LAST_LAYER_INPUTS}),
            # No adapter: nothing here can give it those inputs.
        ),
        Strategy(
            "vote_entropy",
            vote_entropy,
            ("probs",),
            "committee",
            "Entropy of committee votes; probs is [n, classes, members].",
            needs=frozenset({COMMITTEE}),
            # No adapter: no model version here gives a committee's probabilities.
        ),
        Strategy(
            "mean_kl_to_consensus",
            mean_kl_to_consensus,
            ("probs",),
            "committee",
            "Mean KL from each member to the consensus; probs is [n, classes, members].",
            needs=frozenset({COMMITTEE}),
        ),
        Strategy(
            "k_center",
            k_center_scores,
            ("embeddings", "labeled_embeddings"),
            "any",
            "Farthest-first coverage of the embedding space (core-set).",
            optional=_OPTIONAL_EMBEDDINGS,
            adapter=TASK_EMBEDDINGS_INPUT,
            pool_wide=True,
        ),
        Strategy(
            "novelty",
            nearest_labeled_distance,
            ("embeddings", "labeled_embeddings"),
            "any",
            "Distance to the nearest labeled assets.",
            optional=_OPTIONAL_EMBEDDINGS,
            adapter=UNIT_EMBEDDINGS_INPUT,
            until_labeled="k_center",
        ),
        Strategy(
            "detection",
            detection_image_scores,
            ("class_probs", "image_index", "n_images", "objectness"),
            "detection",
            "Per-box class and objectness uncertainty, aggregated per image.",
            needs=frozenset({BOXES}),
            adapter=BOXES_INPUT,
        ),
        Strategy(
            "keypoints",
            keypoint_frame_scores,
            ("confidences", "frame_index", "n_frames", "keypoint_names"),
            "keypoints",
            "Weighted per-keypoint uncertainty, aggregated per instance and frame.",
            needs=frozenset({KEYPOINTS}),
            adapter=KEYPOINTS_INPUT,
        ),
        Strategy(
            "track_risk",
            track_risk_scores,
            (
                "tracks",
                "segment_index",
                "n_segments",
                "frame_ranges",
                "image_sizes",
                "propagated",
                "propagated_index",
            ),
            "tracks",
            "Video segments where tracks collide, get lost, or flow and model disagree.",
            needs=frozenset({TRACKS}),
            adapter=TRACKS_INPUT,
            every_frame=True,
            explain=track_risk_report,
        ),
        Strategy(
            "auto",
            mix,
            ("arm_scores", "log_weights", "batch", "rng"),
            "any",
            "Learns online which strategy pays off (a bandit over the others, random included).",
            adapter=AUTO_INPUT,
            pool_wide=True,
        ),
    )
}

# A new project learns which strategy pays off, starting from DEFAULT_PICKS' choice (see
# strategies.auto). Stored settings keep their strategy: "default" still means the picks.
DEFAULT_STRATEGY = "auto"
# What "default" scores with: the first of these whose need the predictions hold (pose
# predictions come with their boxes; the points matter more), else DEFAULT_WITHOUT_OUTPUTS.
DEFAULT_PICKS: tuple[tuple[str, str], ...] = (
    (KEYPOINTS, "keypoints"),
    (BOXES, "detection"),
    # Margin with diversity-aware batches: a robust uncertainty score, made safe for batches
    # of similar assets (video frames, near-duplicate photos); see `diverse_margin` for why.
    (CLASS_PROBS, "diverse_margin"),
)
DEFAULT_WITHOUT_OUTPUTS = "k_center"


def default_pick(held: frozenset[str]) -> str:
    """What "default" scores predictions holding `held` with (also auto's prior favourite)."""
    for need, name in DEFAULT_PICKS:
        if need in held:
            return name
    return DEFAULT_WITHOUT_OUTPUTS


def get_strategy(name: str) -> Strategy:
    """The strategy registered under `name`, or a ValueError listing the valid names."""
    try:
        return STRATEGIES[name]
    except KeyError:
        valid = ", ".join(sorted(STRATEGIES))
        raise ValueError(f"unknown strategy {name!r}; choose one of: {valid}") from None


__all__ = [
    "AUTO_INPUT",
    "BLEND",
    "BOXES",
    "BOXES_INPUT",
    "CLASS_PROBS",
    "COMMITTEE",
    "COUNT_INPUT",
    "DEFAULT",
    "DEFAULT_PICKS",
    "DEFAULT_STRATEGY",
    "DEFAULT_WITHOUT_OUTPUTS",
    "EMBEDDINGS",
    "KEYPOINTS",
    "KEYPOINTS_INPUT",
    "LAST_LAYER_INPUTS",
    "NEED_WORDS",
    "STRATEGIES",
    "TASK_EMBEDDINGS_INPUT",
    "TRACKS",
    "TRACKS_INPUT",
    "UNIT_EMBEDDINGS_INPUT",
    "UNIT_PROBS_INPUT",
    "Strategy",
    "blend",
    "box_uncertainty",
    "detection_image_scores",
    "diverse_batch",
    "diverse_margin",
    "default_pick",
    "diverse_rerank",
    "entropy",
    "expected_gradient_length",
    "expected_gradient_length_from_weights",
    "get_strategy",
    "k_center_greedy",
    "k_center_scores",
    "keypoint_frame_scores",
    "keypoint_instance_scores",
    "least_confidence",
    "margin",
    "mastery_weights",
    "mean_kl_to_consensus",
    "nearest_labeled_distance",
    "normalised_entropy",
    "random_scores",
    "rank_normalise",
    "select_top_k",
    "track_risk_report",
    "track_risk_scores",
    "vote_entropy",
]
