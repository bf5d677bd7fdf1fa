"""Vote entropy and mean KL to consensus, on committees of two members."""

import math

import numpy as np
import pytest

from activelearn.strategies import mean_kl_to_consensus, vote_entropy


def committee(*assets):
    """Build [n, classes, members] from per-asset lists of member predictions."""
    return np.stack([np.array(members).T for members in assets])


AGREE = [[0.9, 0.1], [0.8, 0.2]]  # both vote class 0
SPLIT = [[0.6, 0.4], [0.3, 0.7]]  # one vote each
SAME = [[0.5, 0.5], [0.5, 0.5]]  # identical members


def test_vote_entropy_is_zero_when_all_members_vote_alike_and_log_two_on_a_split():
    np.testing.assert_allclose(vote_entropy(committee(AGREE, SPLIT)), [0.0, math.log(2)])


def test_mean_kl_to_consensus_matches_the_hand_computed_divergences():
    def kl(p, q):
        return sum(a * math.log(a / b) for a, b in zip(p, q, strict=True))

    consensus = [0.85, 0.15]
    expected_agree = (kl(AGREE[0], consensus) + kl(AGREE[1], consensus)) / 2
    consensus = [0.45, 0.55]
    expected_split = (kl(SPLIT[0], consensus) + kl(SPLIT[1], consensus)) / 2
    np.testing.assert_allclose(
        mean_kl_to_consensus(committee(AGREE, SPLIT, SAME)),
        [expected_agree, expected_split, 0.0],
    )


def test_the_split_committee_ranks_above_the_agreeing_one_for_both_scores():
    probs = committee(AGREE, SPLIT)
    assert vote_entropy(probs)[1] > vote_entropy(probs)[0]
    assert mean_kl_to_consensus(probs)[1] > mean_kl_to_consensus(probs)[0]


def test_a_member_giving_zero_probability_does_not_produce_nan():
    scores = mean_kl_to_consensus(committee([[1.0, 0.0], [0.0, 1.0]]))
    assert scores[0] == pytest.approx(math.log(2))


def test_a_committee_of_one_is_refused():
    with pytest.raises(ValueError, match="at least 2 members"):
        vote_entropy(np.ones((3, 1, 1)))
    with pytest.raises(ValueError, match="at least 2 members"):
        mean_kl_to_consensus(np.ones((3, 1, 1)))


def test_committee_probabilities_must_be_three_dimensional_and_finite():
    with pytest.raises(ValueError, match="3 dimension"):
        vote_entropy(np.full((2, 2), 0.5))
    bad = committee(SPLIT)
    bad[0, 0, 0] = np.nan
    with pytest.raises(ValueError, match="NaN"):
        mean_kl_to_consensus(bad)
