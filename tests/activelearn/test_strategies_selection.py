"""select_top_k and the strategy registry."""

import inspect

import numpy as np
import pytest

from activelearn.strategies import DEFAULT_STRATEGY, STRATEGIES, get_strategy, select_top_k


def test_select_top_k_returns_the_highest_scores_best_first():
    picks = select_top_k(np.array([0.1, 0.9, 0.5, 0.7]), 2, rng=np.random.default_rng(0))
    assert list(picks) == [1, 3]


def test_ties_are_broken_by_the_generator_not_by_position():
    scores = np.array([1.0, 1.0, 1.0, 1.0, 0.0])
    firsts = {
        int(select_top_k(scores, 1, rng=np.random.default_rng(seed))[0]) for seed in range(40)
    }
    assert firsts == {0, 1, 2, 3}
    again = [select_top_k(scores, 2, rng=np.random.default_rng(5)) for _ in range(2)]
    np.testing.assert_array_equal(*again)


def test_asking_for_more_than_there_is_returns_everything():
    assert sorted(select_top_k(np.array([0.2, 0.1]), 5, rng=np.random.default_rng(0))) == [0, 1]


def test_select_top_k_refuses_bad_arguments():
    rng = np.random.default_rng(0)
    with pytest.raises(ValueError, match="non-negative"):
        select_top_k(np.ones(3), -1, rng=rng)
    with pytest.raises(ValueError, match="Generator"):
        select_top_k(np.ones(3), 1, rng=None)
    with pytest.raises(ValueError, match="NaN"):
        select_top_k(np.array([1.0, np.nan]), 1, rng=rng)


def test_the_default_strategy_is_registered():
    assert DEFAULT_STRATEGY in STRATEGIES
    assert get_strategy(DEFAULT_STRATEGY).name == DEFAULT_STRATEGY


def test_an_unknown_strategy_name_lists_the_valid_ones():
    with pytest.raises(ValueError, match="choose one of: .*margin"):
        get_strategy("magic")


@pytest.mark.parametrize("name", sorted(STRATEGIES))
def test_every_registered_strategy_declares_inputs_its_function_accepts(name):
    strategy = STRATEGIES[name]
    parameters = inspect.signature(strategy.score).parameters
    assert set(strategy.inputs) <= set(parameters)
    required = {
        parameter.name
        for parameter in parameters.values()
        if parameter.default is inspect.Parameter.empty
    }
    assert required <= set(strategy.inputs)
