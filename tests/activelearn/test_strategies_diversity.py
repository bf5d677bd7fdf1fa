"""k-center greedy, diverse batches and the default strategy, on points with known answers."""

import numpy as np
import pytest

from activelearn.strategies import (
    diverse_batch,
    diverse_margin,
    diverse_rerank,
    k_center_greedy,
    k_center_scores,
)

LINE = np.array([[0.0], [1.0], [10.0], [11.0], [5.0]])


def test_k_center_picks_the_point_farthest_from_the_labeled_set_first():
    picks = k_center_greedy(LINE, 2, labeled_embeddings=np.array([[0.0]]))
    assert list(picks) == [3, 4]  # 11 is farthest from 0, then 5 from {0, 11}


def test_k_center_without_labels_starts_near_the_mean_then_goes_farthest_first():
    assert list(k_center_greedy(LINE, 3)) == [4, 3, 0]  # mean 5.4 -> 5, then 11, then 0


def test_k_center_asking_for_more_than_there_is_returns_everything_once():
    picks = k_center_greedy(LINE, 10)
    assert sorted(picks) == [0, 1, 2, 3, 4]


def test_k_center_scores_put_the_greedy_picks_on_top_in_pick_order():
    scores = k_center_scores(LINE, k=3)
    assert list(np.argsort(-scores)[:3]) == [4, 3, 0]
    assert scores.max() == 1.0 and scores.min() > 0.0


def test_k_center_refuses_labeled_embeddings_of_another_width():
    with pytest.raises(ValueError, match="dimensions"):
        k_center_greedy(LINE, 2, labeled_embeddings=np.zeros((1, 2)))


# Three very uncertain near-duplicates around the origin, two slightly less uncertain
# ones far away. Plain top-2 takes two near-duplicates; a diverse batch takes one of each.
POINTS = np.array([[0.0, 0.0], [0.1, 0.0], [0.2, 0.0], [10.0, 10.0], [10.1, 10.0]])
SCORES = np.array([0.9, 0.89, 0.88, 0.8, 0.79])


def test_a_diverse_batch_takes_one_asset_from_each_cluster_nearest_its_weighted_centre():
    # Rank weights 1.0, 0.8, 0.6 put the origin cluster's centre at x = 0.083 -> asset 1;
    # weights 0.4, 0.2 put the far centre at x = 10.033 -> asset 3. Best score first.
    assert list(diverse_batch(SCORES, POINTS, 2)) == [1, 3]


def test_a_diverse_batch_with_no_room_to_choose_is_the_top_scores():
    assert list(diverse_batch(SCORES, POINTS, 2, prefilter=1)) == [0, 1]
    assert sorted(diverse_batch(SCORES, POINTS, 5)) == [0, 1, 2, 3, 4]


def test_duplicate_embeddings_still_fill_the_batch():
    batch = diverse_batch(np.array([0.5, 0.4, 0.3, 0.2]), np.zeros((4, 2)), 3)
    assert sorted(batch) == [0, 1, 2]


def test_diverse_rerank_lifts_exactly_the_batch_above_everything_else():
    reranked = diverse_rerank(SCORES, POINTS, batch_size=2)
    assert set(np.flatnonzero(reranked > 1.0)) == {1, 3}
    assert reranked[0] > reranked[2]  # the rest keep their order


def test_diverse_margin_scores_margin_then_spreads_the_batch():
    probs = np.array([[0.5, 0.5], [0.51, 0.49], [0.52, 0.48], [0.55, 0.45], [0.56, 0.44]])
    reranked = diverse_margin(probs, POINTS, batch_size=2)
    assert set(np.flatnonzero(reranked > 1.0)) == {1, 3}


def test_scores_and_embeddings_must_have_the_same_rows():
    with pytest.raises(ValueError, match="rows"):
        diverse_batch(SCORES, POINTS[:3], 2)
    with pytest.raises(ValueError, match="prefilter"):
        diverse_batch(SCORES, POINTS, 2, prefilter=0)


def test_the_default_strategy_with_no_assets_gives_no_scores():
    assert diverse_margin(np.zeros((0, 3)), np.zeros((0, 2)), batch_size=2).shape == (0,)


def test_assets_tied_on_margin_and_embedding_are_told_apart_by_their_probabilities():
    # Both rows have margin 1 and the same embedding; the pick must not follow position.
    probs = np.array([[0.5, 0.5, 0.0], [1 / 3, 1 / 3, 1 / 3], [0.9, 0.1, 0.0]])
    embeddings = np.zeros((3, 2))
    forward = diverse_margin(probs, embeddings, batch_size=1, prefilter=2)
    backward = diverse_margin(probs[::-1], embeddings, batch_size=1, prefilter=2)
    np.testing.assert_array_equal(backward, forward[::-1])
