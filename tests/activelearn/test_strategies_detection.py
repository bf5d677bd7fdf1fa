"""Detection: per-box class and objectness uncertainty, aggregated per image."""

import math

import numpy as np
import pytest

from activelearn.strategies import box_uncertainty, detection_image_scores

CLASS_PROBS = np.array([[0.5, 0.5], [1.0, 0.0], [0.9, 0.1]])
OBJECTNESS = np.array([0.5, 0.9, 1.0])
IMAGE_INDEX = np.array([0, 0, 1])
H_09 = -(0.9 * math.log(0.9) + 0.1 * math.log(0.1)) / math.log(2)  # 0.4690


def test_box_uncertainty_mixes_class_entropy_and_objectness_near_the_threshold():
    # class parts 1, 0, H_09; objectness parts 1, 1 - 0.4 / 0.5 = 0.2, 0.
    expected = [1.0, 0.1, H_09 / 2]
    np.testing.assert_allclose(box_uncertainty(CLASS_PROBS, objectness=OBJECTNESS), expected)


def test_box_uncertainty_by_margin_without_objectness():
    np.testing.assert_allclose(box_uncertainty(CLASS_PROBS, method="margin"), [1.0, 0.0, 0.2])


def test_objectness_uncertainty_falls_off_asymmetrically_around_the_threshold():
    scores = box_uncertainty(
        np.array([[1.0], [1.0]]),
        objectness=np.array([0.65, 0.15]),
        threshold=0.3,
        objectness_weight=1.0,
    )
    np.testing.assert_allclose(scores, [1 - 0.35 / 0.7, 1 - 0.15 / 0.3])


@pytest.mark.parametrize(
    ("aggregate", "expected"),
    [("max", [1.0, H_09 / 2, 0.0]), ("mean", [0.55, H_09 / 2, 0.0]), ("sum", [1.1, H_09 / 2, 0.0])],
)
def test_image_scores_aggregate_boxes_and_an_image_without_boxes_scores_zero(aggregate, expected):
    scores = detection_image_scores(
        CLASS_PROBS, IMAGE_INDEX, 3, objectness=OBJECTNESS, aggregate=aggregate
    )
    np.testing.assert_allclose(scores, expected)


def test_sum_favours_crowded_images_where_max_does_not():
    probs = np.array([[0.6, 0.4]] * 3 + [[0.55, 0.45]])
    index = np.array([0, 0, 0, 1])
    assert detection_image_scores(probs, index, 2, aggregate="sum").argmax() == 0
    assert detection_image_scores(probs, index, 2, aggregate="max").argmax() == 1


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"image_index": np.array([0, 0, 3])}, r"\[0, 3\)"),
        ({"image_index": np.array([0.0, 0.0, 1.0])}, "integers"),
        ({"image_index": np.array([0, 1])}, "shape"),
        ({"aggregate": "median"}, "max, mean, sum"),
        ({"objectness": np.array([0.5, 1.5, 0.2])}, r"\[0, 1\]"),
        ({"objectness": np.array([0.5, np.nan, 0.2])}, "NaN"),
        ({"threshold": 1.0}, "strictly between"),
        ({"method": "variance"}, "entropy' or 'margin"),
    ],
)
def test_bad_detection_inputs_are_refused(kwargs, message):
    arguments = {"image_index": IMAGE_INDEX, "objectness": OBJECTNESS} | kwargs
    with pytest.raises(ValueError, match=message):
        detection_image_scores(
            CLASS_PROBS,
            arguments.pop("image_index"),
            3,
            **arguments,
        )
