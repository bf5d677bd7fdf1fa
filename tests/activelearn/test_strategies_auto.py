"""The adaptive strategy's math (activelearn.strategies.auto) on synthetic arrays and payoffs:
its arms and prior, the mixture the queue follows, and weights that move to the arm whose
labels pay off, or back to random when every uncertainty arm's labels lose."""

from __future__ import annotations

import numpy as np
import pytest

from activelearn import strategies
from activelearn.strategies import auto


def test_every_arm_keeps_the_floor_and_the_probabilities_sum_to_one():
    probabilities = auto.arm_probabilities({"random": 0.0, "margin": 50.0, "entropy": -50.0})
    assert sum(probabilities.values()) == pytest.approx(1.0)
    assert min(probabilities.values()) >= auto.ARM_FLOOR
    assert probabilities["margin"] == pytest.approx(1 - 2 * auto.ARM_FLOOR)
    with pytest.raises(ValueError, match="too large"):
        auto.arm_probabilities({"random": 0.0, "margin": 0.0}, floor=0.5)


def test_the_prior_favours_the_default_pick_then_random_then_the_rest_alike():
    arms = ["random", "margin", "diverse_margin", "k_center"]
    probabilities = auto.arm_probabilities(auto.prior_log_weights(arms, "diverse_margin"))
    assert probabilities["diverse_margin"] > probabilities["random"] > probabilities["margin"]
    assert probabilities["margin"] == pytest.approx(probabilities["k_center"])
    alone = auto.arm_probabilities(auto.prior_log_weights(["random", "k_center"], "k_center"))
    assert alone["k_center"] > alone["random"] and sum(alone.values()) == pytest.approx(1.0)


def test_the_arms_are_the_strategies_the_predictions_can_feed_random_first_auto_never():
    held = {strategies.CLASS_PROBS, strategies.EMBEDDINGS}
    arms = auto.auto_arms(strategies.STRATEGIES, held, exclude=strategies.AUTO_INPUT)
    assert arms[0] == "random"
    assert {"margin", "entropy", "diverse_margin", "k_center", "novelty"} <= set(arms)
    # Committees and last-layer inputs are nothing a model here gives; boxes are not held.
    assert not {"auto", "vote_entropy", "expected_gradient_length", "detection"} & set(arms)
    boxes = auto.auto_arms(strategies.STRATEGIES, {strategies.BOXES}, exclude="auto")
    assert "detection" in boxes and "margin" not in boxes


def _scores(n: int, seed: int, arms=("margin", "entropy")) -> dict[str, np.ndarray]:
    rng = np.random.default_rng(seed)
    return {arm: rng.random(n) for arm in arms}


def test_the_mixture_gives_every_task_a_probability_and_the_queue_head_follows_the_arms():
    n, batch = 200, 10
    log_weights = {"random": np.log(0.3), "margin": np.log(0.6), "entropy": np.log(0.1)}
    counts = {"random": 0, "margin": 0, "entropy": 0}
    rng = np.random.default_rng(0)
    for seed in range(300):
        scores = _scores(n, seed)
        mixed = auto.mix(scores, log_weights, batch=batch, rng=rng)
        assert mixed.q.sum() == pytest.approx(1.0) and mixed.q.min() > 0
        assert mixed.priorities.min() > 0 and mixed.priorities.max() == 1.0
        head = np.argsort(-mixed.priorities)[:batch]
        for index in head:
            for arm in mixed.advised[index] or ("random",):
                counts[arm] += 1 / max(1, len(mixed.advised[index]))
    shares = {arm: count / (300 * batch) for arm, count in counts.items()}
    probabilities = auto.arm_probabilities(log_weights)
    for arm, share in shares.items():
        assert share == pytest.approx(probabilities[arm], abs=0.06), shares


def test_the_mixture_refuses_what_it_cannot_mix():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="random must be an arm"):
        auto.mix(_scores(5, 0), {"margin": 0.0}, batch=2, rng=rng)
    with pytest.raises(ValueError, match="arms without scores: entropy"):
        auto.mix({"margin": np.ones(5)}, {"random": 0, "margin": 0, "entropy": 0}, batch=2, rng=rng)
    with pytest.raises(ValueError, match="batch"):
        auto.mix(_scores(5, 0), {"random": 0, "margin": 0}, batch=0, rng=rng)


def _simulate(payoffs: dict[str, float], default_arm: str, *, rounds: int, seed: int = 0):
    """A project in which each model version is trained on the batch picked under the one
    before: the pool's accuracy gain of a version is the mean payoff of that batch's picks
    (the payoff of the arms that advised each, random's where none did), and the labels
    picked under the new version measure it exactly (each right by 0.5 + gain, 0.5 before).
    Returns the arm probabilities of every round."""
    rng = np.random.default_rng(seed)
    arms = list(payoffs)
    picks: list[auto.Pick] = []
    history, previous_gain, pool, batch = [], None, 300, 10
    for version in range(1, rounds + 1):
        log_weights = auto.log_weights_of(arms, default_arm, auto.credits_from_picks(picks))
        scores = {arm: rng.random(pool) for arm in arms if arm != "random"}
        mixed = auto.mix(scores, log_weights, batch=batch, rng=rng)
        head = np.argsort(-mixed.priorities)[:batch]
        for index in head:
            measured = previous_gain is not None
            picks.append(
                auto.Pick(
                    version=version,
                    q=float(mixed.q[index]),
                    advised=mixed.advised[index],
                    pool=pool,
                    batch=mixed.batch,
                    correct=0.5 + previous_gain if measured else None,
                    previous_version=version - 1 if measured else None,
                    previous_correct=0.5 if measured else None,
                )
            )
        advised = [mixed.advised[index] or ("random",) for index in head]
        previous_gain = float(np.mean([np.mean([payoffs[a] for a in arms_]) for arms_ in advised]))
        history.append(mixed.probabilities)
    return history


def test_the_weights_move_to_the_arm_whose_labels_pay_off():
    payoffs = {"random": 0.05, "good": 0.3, "weak": 0.0, "weaker": 0.0}
    history = _simulate(payoffs, "weak", rounds=250)
    first, last = history[0], history[-1]
    assert first["weak"] > 0.8 and first["good"] < 0.02  # the prior backs the wrong arm
    assert last["good"] > 4 * first["good"]
    assert last["weak"] < first["weak"] and last["weaker"] < first["weaker"]


def test_it_falls_back_to_random_when_every_uncertainty_arm_loses():
    payoffs = {"random": 0.2, "margin": -0.2, "entropy": -0.2, "least_confidence": -0.2}
    history = _simulate(payoffs, "margin", rounds=250)
    first, last = history[0], history[-1]
    assert last["random"] > 3 * first["random"]
    assert last["margin"] < first["margin"]
    assert last["random"] > max(last["entropy"], last["least_confidence"])


def test_equal_payoffs_leave_the_weights_near_the_prior():
    payoffs = {"random": 0.1, "margin": 0.1, "entropy": 0.1}
    history = _simulate(payoffs, "margin", rounds=100)
    for arm, probability in history[-1].items():
        assert probability == pytest.approx(history[0][arm], abs=0.02)


def _pick(version, q, advised, correct=None, previous=None, previous_correct=None):
    return auto.Pick(version, q, advised, 100, 2, correct, previous, previous_correct)


def test_credits_are_a_function_of_the_picks_in_any_order_and_need_two_gains():
    picks = [
        _pick(1, 0.4, ("margin",)),
        _pick(1, 0.002, ()),
        _pick(2, 0.4, ("margin",), 1.0, 1, 0.0),
        _pick(2, 0.1, ("margin",), 1.0, 1, 1.0),
        _pick(3, 0.002, (), 0.0, 2, 0.0),
    ]
    credits = auto.credits_from_picks(picks)
    assert auto.credits_from_picks(picks[::-1]) == pytest.approx(credits)
    assert any(value != 0 for value in credits.values())
    # One measured gain alone compares nothing.
    assert set(auto.credits_from_picks(picks[:4]).values()) == {0.0}
    # Labels without both versions' predictions carry no gain.
    assert auto.version_gains([_pick(2, 0.5, ("margin",), 1.0)]) == {}


def test_the_gain_of_a_version_is_importance_weighted():
    # A rare pick (q small) counts for the pool more than a pick the mixture favoured.
    picks = [_pick(2, 0.5, ("margin",), 1.0, 1, 0.0), _pick(2, 0.005, (), 0.0, 1, 0.0)]
    assert auto.version_gains(picks)[2] == pytest.approx((1 / 0.5) / (1 / 0.5 + 1 / 0.005))


def test_advice_ratios_are_advice_over_the_pick_probability():
    ratios = auto.advice_ratios(_pick(1, 0.25, ("margin",)), ["random", "margin", "entropy"])
    assert ratios == pytest.approx({"random": (1 / 100) / 0.25, "margin": 2.0, "entropy": 0.0})


def test_how_right_a_prediction_was_on_boxes_keypoints_and_classes():
    person = ("person", 10.0, 10.0, 20.0, 40.0)
    assert auto.box_agreement([person], [person]) == 1.0
    assert auto.box_agreement([], []) == 1.0
    assert auto.box_agreement([], [person]) == 0.0
    assert auto.box_agreement([("bicycle", 10.0, 10.0, 20.0, 40.0)], [person]) == 0.0
    shifted = ("person", 30.0, 10.0, 20.0, 40.0)  # no overlap
    assert auto.box_agreement([person, shifted], [person]) == pytest.approx(2 / 3)
    skeleton = {"nose": [10, 10, 2], "left_hip": [10, 50, 2], "right_hip": [30, 50, 2]}
    sigmas = {"nose": 0.026, "left_hip": 0.107, "right_hip": 0.107}
    assert auto.object_keypoint_similarity(skeleton, skeleton, sigmas) == pytest.approx(1.0)
    far = {name: [x + 100, y + 100] for name, (x, y, _) in skeleton.items()}
    assert auto.object_keypoint_similarity(far, skeleton, sigmas) < 0.01
    assert auto.keypoint_agreement([skeleton], [skeleton], sigmas) == 1.0
    assert auto.keypoint_agreement([far], [skeleton], sigmas) == 0.0
    assert auto.classification_correct([0.2, 0.8], 1) == 1.0
    assert auto.classification_correct([0.2, 0.8], 0) == 0.0
