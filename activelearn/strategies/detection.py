"""Detection: per-box uncertainty, aggregated to one score per image or frame.

Boxes arrive flat, all images together: `class_probs` `[boxes, classes]`, optional
`objectness` `[boxes]`, and `image_index` `[boxes]` saying which image each box is on.
"""

from __future__ import annotations

from typing import Literal

import numpy as np

from activelearn.strategies.classification import margin, normalised_entropy
from activelearn.strategies.validation import (
    Aggregate,
    aggregate_by_group,
    as_finite_array,
    as_group_index,
    as_probabilities,
    check_aggregate,
)

BoxMethod = Literal["entropy", "margin"]


def threshold_uncertainty(values: np.ndarray, threshold: float) -> np.ndarray:
    """1 at the decision threshold, falling linearly to 0 at certainty (0 or 1)."""
    if not 0.0 < threshold < 1.0:
        raise ValueError(f"threshold must lie strictly between 0 and 1, got {threshold}")
    if values.size and (values.min() < 0.0 or values.max() > 1.0):
        raise ValueError("confidences must lie in [0, 1]")
    span = np.where(values >= threshold, 1.0 - threshold, threshold)
    return np.clip(1.0 - np.abs(values - threshold) / span, 0.0, 1.0)


def box_uncertainty(
    class_probs: np.ndarray,
    *,
    objectness: np.ndarray | None = None,
    threshold: float = 0.5,
    method: BoxMethod = "entropy",
    objectness_weight: float = 0.5,
) -> np.ndarray:
    """Uncertainty of each box in [0, 1].

    The class part is normalised entropy or margin of the box's class probabilities
    (Brust, Käding & Denzler, "Active learning for deep object detection", VISAPP 2019,
    which scores boxes by margin). The objectness part is how close the detector's
    objectness is to its decision `threshold`: a box at 0.5 is neither kept nor dropped with
    any conviction (the localisation-free half of Kao et al., "Localization-aware active
    learning for object detection", ACCV 2018). The two mix with `objectness_weight`.
    """
    class_probs = as_probabilities(class_probs, name="class_probs")
    if method == "entropy":
        class_part = normalised_entropy(class_probs)
    elif method == "margin":
        class_part = margin(class_probs)
    else:
        raise ValueError(f"method must be 'entropy' or 'margin', got {method!r}")
    if objectness is None:
        return class_part
    objectness = as_finite_array(objectness, name="objectness", ndim=1)
    if objectness.shape[0] != class_probs.shape[0]:
        raise ValueError(
            f"objectness has {objectness.shape[0]} boxes but class_probs has {class_probs.shape[0]}"
        )
    if not 0.0 <= objectness_weight <= 1.0:
        raise ValueError(f"objectness_weight must lie in [0, 1], got {objectness_weight}")
    object_part = threshold_uncertainty(objectness, threshold)
    return (1.0 - objectness_weight) * class_part + objectness_weight * object_part


def detection_image_scores(
    class_probs: np.ndarray,
    image_index: np.ndarray,
    n_images: int,
    *,
    objectness: np.ndarray | None = None,
    threshold: float = 0.5,
    method: BoxMethod = "entropy",
    objectness_weight: float = 0.5,
    aggregate: Aggregate = "max",
) -> np.ndarray:
    """One score per image (or frame): box uncertainties reduced by max, mean or sum.

    Max flags an image with one very doubtful box, mean prefers images that are doubtful
    throughout, sum favours crowded images (Brust et al. 2019 compare all three). An image
    with no boxes scores 0: the detector is sure there is nothing there.
    """
    check_aggregate(aggregate)
    class_probs = as_probabilities(class_probs, name="class_probs")
    image_index = as_group_index(
        image_index, n_groups=n_images, length=class_probs.shape[0], name="image_index"
    )
    per_box = box_uncertainty(
        class_probs,
        objectness=objectness,
        threshold=threshold,
        method=method,
        objectness_weight=objectness_weight,
    )
    return aggregate_by_group(per_box, image_index, n_images, how=aggregate)
