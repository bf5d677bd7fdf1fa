"""Expected model change for the built-in baseline: expected gradient length, closed form.

For a multinomial logistic model with weights W (classes x features, bias folded in as a
constant feature), the log-loss gradient of one example x labelled y is the outer product
(p - e_y) x^T, so its Frobenius norm is ||p - e_y|| * ||x||. Taking the expectation over the
model's own belief about y gives

    EGL(x) = ||x|| * sum_y p_y * sqrt(||p||^2 - 2 p_y + 1)

with no loop over candidate labels and no retraining.
"""

from __future__ import annotations

import numpy as np

from activelearn.strategies.validation import as_embeddings, as_finite_array, as_probabilities


def expected_gradient_length(
    probs: np.ndarray, features: np.ndarray, *, fit_intercept: bool = True
) -> np.ndarray:
    """Expected norm of the log-loss gradient if the asset were labelled (higher = sooner).

    Settles, Craven & Ray, "Multiple-instance active learning", NeurIPS 2008 (expected
    gradient length); Settles, "Active Learning Literature Survey", 2009, section 3.4.
    `probs` `[n, classes]` are the model's softmax outputs on `features` `[n, dims]`, the
    exact inputs of its linear layer (for the baseline: the standardised features).
    """
    probs = as_probabilities(probs)
    features = as_embeddings(features, name="features")
    if features.shape[0] != probs.shape[0]:
        raise ValueError(
            f"features has {features.shape[0]} rows but probs has {probs.shape[0]}; "
            "they must describe the same assets"
        )
    if probs.shape[0] == 0:
        return np.zeros(0)
    squared_norm = (features**2).sum(axis=1) + (1.0 if fit_intercept else 0.0)
    squared_p = (probs**2).sum(axis=1, keepdims=True)
    gradient_norms = np.sqrt(np.maximum(squared_p - 2.0 * probs + 1.0, 0.0))
    return np.sqrt(squared_norm) * (probs * gradient_norms).sum(axis=1)


def expected_gradient_length_from_weights(
    features: np.ndarray, coef: np.ndarray, intercept: np.ndarray
) -> np.ndarray:
    """The same score computed from a multinomial logistic model's weights.

    `coef` is `[classes, dims]` and `intercept` `[classes]` (scikit-learn's `coef_` and
    `intercept_`). A binary scikit-learn model stores one row; it is expanded to the
    equivalent softmax pair (w/2, -w/2) so both cases use the same formula.
    """
    features = as_embeddings(features, name="features")
    coef = as_finite_array(coef, name="coef", ndim=2)
    intercept = as_finite_array(intercept, name="intercept", ndim=1)
    if coef.shape[1] != features.shape[1] or intercept.shape[0] != coef.shape[0]:
        raise ValueError(
            f"coef {coef.shape} and intercept {intercept.shape} do not fit "
            f"features {features.shape}"
        )
    if coef.shape[0] == 1:
        coef = np.vstack([-coef / 2.0, coef / 2.0])
        intercept = np.array([-intercept[0] / 2.0, intercept[0] / 2.0])
    logits = features @ coef.T + intercept
    logits -= logits.max(axis=1, keepdims=True)
    probs = np.exp(logits)
    probs /= probs.sum(axis=1, keepdims=True)
    return expected_gradient_length(probs, features)
