"""Property tests: every strategy gives finite scores, one per asset, that follow the assets
when they are shuffled; NaN, infinite or mis-shaped input is refused with a ValueError."""

import numpy as np
import pytest
from hypothesis import assume, given, settings
from hypothesis import strategies as st
from hypothesis.extra.numpy import arrays

from activelearn.strategies import (
    blend,
    detection_image_scores,
    diverse_margin,
    entropy,
    expected_gradient_length,
    k_center_scores,
    keypoint_frame_scores,
    least_confidence,
    margin,
    mean_kl_to_consensus,
    nearest_labeled_distance,
    normalised_entropy,
    rank_normalise,
    vote_entropy,
)
from activelearn.strategies.validation import canonical_order

ROW_STRATEGIES = [least_confidence, margin, entropy, normalised_entropy]
COMMITTEE_STRATEGIES = [vote_entropy, mean_kl_to_consensus]
COORDINATES = st.floats(-1e3, 1e3, allow_nan=False, allow_infinity=False)
SETTINGS = settings(max_examples=60, deadline=None)


@st.composite
def probabilities(draw, *, members: int | None = None, min_rows: int = 0):
    """Rows of class probabilities; [n, classes] or [n, classes, members]."""
    n = draw(st.integers(min_rows, 12))
    classes = draw(st.integers(1, 5))
    shape = (n, classes) if members is None else (n, classes, members)
    weights = draw(arrays(np.float64, shape, elements=st.floats(0.0, 1.0)))
    weights = weights + 1e-3  # keep every row's total positive
    return weights / weights.sum(axis=1, keepdims=True)


@st.composite
def with_permutation(draw, values):
    value = draw(values)
    n = value.shape[0] if isinstance(value, np.ndarray) else value[0].shape[0]
    return value, np.array(draw(st.permutations(range(n))), dtype=np.int64)


def distinct_rows(matrix: np.ndarray) -> bool:
    return np.unique(matrix, axis=0).shape[0] == matrix.shape[0]


@pytest.mark.parametrize("score", ROW_STRATEGIES, ids=lambda f: f.__name__)
@SETTINGS
@given(case=with_permutation(probabilities()))
def test_classification_scores_are_finite_and_follow_shuffled_assets(score, case):
    probs, permutation = case
    scores = score(probs)
    assert scores.shape == (probs.shape[0],)
    assert np.all(np.isfinite(scores)) and np.all(scores >= 0)
    np.testing.assert_array_equal(score(probs[permutation]), scores[permutation])


@pytest.mark.parametrize("score", COMMITTEE_STRATEGIES, ids=lambda f: f.__name__)
@SETTINGS
@given(case=with_permutation(probabilities(members=3)))
def test_committee_scores_are_finite_and_follow_shuffled_assets(score, case):
    probs, permutation = case
    scores = score(probs)
    assert scores.shape == (probs.shape[0],) and np.all(np.isfinite(scores))
    np.testing.assert_array_equal(score(probs[permutation]), scores[permutation])


@SETTINGS
@given(data=st.data())
def test_expected_gradient_length_is_finite_and_follows_shuffled_assets(data):
    probs = data.draw(probabilities())
    features = data.draw(arrays(np.float64, (probs.shape[0], 3), elements=COORDINATES))
    permutation = np.array(data.draw(st.permutations(range(probs.shape[0]))), dtype=np.int64)
    scores = expected_gradient_length(probs, features)
    assert np.all(np.isfinite(scores)) and np.all(scores >= 0)
    np.testing.assert_array_equal(
        expected_gradient_length(probs[permutation], features[permutation]), scores[permutation]
    )


@SETTINGS
@given(data=st.data())
def test_the_default_strategy_is_finite_and_follows_shuffled_assets(data):
    probs = data.draw(probabilities(min_rows=1))
    embeddings = data.draw(arrays(np.float64, (probs.shape[0], 2), elements=COORDINATES))
    assume(distinct_rows(np.hstack([probs, embeddings])))
    batch_size = data.draw(st.integers(1, 4))
    permutation = np.array(data.draw(st.permutations(range(probs.shape[0]))), dtype=np.int64)
    scores = diverse_margin(probs, embeddings, batch_size=batch_size, prefilter=2)
    assert np.all(np.isfinite(scores))
    assert np.count_nonzero(scores > 1.0) == min(batch_size, probs.shape[0])
    shuffled = diverse_margin(
        probs[permutation], embeddings[permutation], batch_size=batch_size, prefilter=2
    )
    np.testing.assert_array_equal(shuffled, scores[permutation])


@SETTINGS
@given(data=st.data())
def test_coverage_and_novelty_scores_are_finite_and_follow_shuffled_assets(data):
    n = data.draw(st.integers(1, 15))
    embeddings = data.draw(arrays(np.float64, (n, 2), elements=COORDINATES))
    labeled = data.draw(arrays(np.float64, (data.draw(st.integers(1, 4)), 2), elements=COORDINATES))
    assume(distinct_rows(embeddings))
    permutation = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    for score in (
        lambda e: k_center_scores(e, labeled_embeddings=labeled, k=3),
        lambda e: k_center_scores(e),
        lambda e: nearest_labeled_distance(e, labeled, neighbours=2),
    ):
        scores = score(embeddings)
        assert scores.shape == (n,) and np.all(np.isfinite(scores))
        np.testing.assert_allclose(score(embeddings[permutation]), scores[permutation])


@SETTINGS
@given(data=st.data())
def test_blends_are_finite_in_unit_range_and_follow_shuffled_assets(data):
    n = data.draw(st.integers(1, 12))
    parts = {name: data.draw(arrays(np.float64, n, elements=COORDINATES)) for name in ("a", "b")}
    weights = {"a": data.draw(st.floats(0.0, 5.0)), "b": data.draw(st.floats(0.1, 5.0))}
    permutation = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    scores = blend(parts, weights)
    assert np.all((scores > 0) & (scores <= 1 + 1e-12))
    shuffled = blend({name: values[permutation] for name, values in parts.items()}, weights)
    np.testing.assert_allclose(shuffled, scores[permutation])
    np.testing.assert_array_equal(
        rank_normalise(parts["a"][permutation]), rank_normalise(parts["a"])[permutation]
    )


@SETTINGS
@given(data=st.data())
def test_image_scores_do_not_depend_on_the_order_boxes_arrive_in(data):
    probs = data.draw(probabilities())
    boxes = probs.shape[0]
    objectness = data.draw(arrays(np.float64, boxes, elements=st.floats(0.0, 1.0)))
    n_images = data.draw(st.integers(1, 4))
    image_index = data.draw(arrays(np.int64, boxes, elements=st.integers(0, n_images - 1)))
    how = data.draw(st.sampled_from(["max", "mean", "sum"]))
    permutation = np.array(data.draw(st.permutations(range(boxes))), dtype=np.int64)
    scores = detection_image_scores(
        probs, image_index, n_images, objectness=objectness, aggregate=how
    )
    assert scores.shape == (n_images,) and np.all(np.isfinite(scores))
    shuffled = detection_image_scores(
        probs[permutation],
        image_index[permutation],
        n_images,
        objectness=objectness[permutation],
        aggregate=how,
    )
    np.testing.assert_array_equal(shuffled, scores)


@SETTINGS
@given(data=st.data())
def test_frame_scores_do_not_depend_on_the_order_people_arrive_in(data):
    instances = data.draw(st.integers(0, 8))
    confidences = data.draw(arrays(np.float64, (instances, 3), elements=st.floats(0.0, 1.0)))
    frame_index = data.draw(arrays(np.int64, instances, elements=st.integers(0, 2)))
    how = data.draw(st.sampled_from(["max", "mean", "sum"]))
    permutation = np.array(data.draw(st.permutations(range(instances))), dtype=np.int64)
    names = ["shoulder", "hip", "hand"]
    weights = {"shoulder": 2.0, "hand": 0.5}
    scores = keypoint_frame_scores(
        confidences, frame_index, 3, names, weights=weights, aggregate=how
    )
    assert np.all(np.isfinite(scores)) and np.all(scores >= 0)
    shuffled = keypoint_frame_scores(
        confidences[permutation], frame_index[permutation], 3, names, weights=weights, aggregate=how
    )
    np.testing.assert_array_equal(shuffled, scores)


@pytest.mark.parametrize("score", ROW_STRATEGIES + COMMITTEE_STRATEGIES, ids=lambda f: f.__name__)
@SETTINGS
@given(data=st.data())
def test_a_single_nan_or_infinity_anywhere_is_refused(score, data):
    members = 2 if score in COMMITTEE_STRATEGIES else None
    probs = data.draw(probabilities(members=members, min_rows=1))
    position = tuple(data.draw(st.integers(0, size - 1)) for size in probs.shape)
    probs[position] = data.draw(st.sampled_from([np.nan, np.inf, -np.inf]))
    with pytest.raises(ValueError, match="NaN or infinite"):
        score(probs)


@pytest.mark.parametrize("score", ROW_STRATEGIES + COMMITTEE_STRATEGIES, ids=lambda f: f.__name__)
@SETTINGS
@given(shape=st.lists(st.integers(1, 3), min_size=0, max_size=4))
def test_probabilities_of_the_wrong_rank_are_refused(score, shape):
    expected_rank = 3 if score in COMMITTEE_STRATEGIES else 2
    assume(len(shape) != expected_rank)
    with pytest.raises(ValueError, match="dimension"):
        score(np.full(shape, 0.5))


@SETTINGS
@given(data=st.data())
def test_embeddings_with_nan_or_infinity_are_refused(data):
    embeddings = data.draw(arrays(np.float64, (4, 2), elements=COORDINATES))
    embeddings[data.draw(st.integers(0, 3)), data.draw(st.integers(0, 1))] = data.draw(
        st.sampled_from([np.nan, np.inf])
    )
    for call in (
        lambda: k_center_scores(embeddings),
        lambda: nearest_labeled_distance(embeddings, np.zeros((1, 2))),
        lambda: nearest_labeled_distance(np.zeros((1, 2)), embeddings),
        lambda: diverse_margin(np.full((4, 2), 0.5), embeddings, batch_size=2),
        lambda: expected_gradient_length(np.full((4, 2), 0.5), embeddings),
    ):
        with pytest.raises(ValueError, match="NaN or infinite"):
            call()


@SETTINGS
@given(data=st.data())
def test_canonical_order_sorts_rows_by_content_whatever_order_they_came_in(data):
    n = data.draw(st.integers(0, 12))
    values = st.sampled_from([0.0, -0.0, 1.0, 2.5, -3.0])  # few values: many equal rows
    scores = data.draw(arrays(np.float64, n, elements=values))
    matrix = data.draw(arrays(np.float64, (n, 3), elements=values))
    permutation = np.array(data.draw(st.permutations(range(n))), dtype=np.int64)
    order = canonical_order(scores, matrix)
    shuffled_order = canonical_order(scores[permutation], matrix[permutation])
    np.testing.assert_array_equal(scores[permutation][shuffled_order], scores[order])
    np.testing.assert_array_equal(matrix[permutation][shuffled_order], matrix[order])
    assert np.all(np.diff(scores[order]) >= 0)  # the one-dimensional key comes first
