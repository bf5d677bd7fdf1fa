"""The built-in baseline model: standardised features and multinomial logistic regression.

Used before a project brings its own model, and by the label-efficiency benchmark. Pure
scikit-learn; no Django. Its settings are scikit-learn's defaults (C=1, L2 penalty), chosen
for being ordinary, not for any data set.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np
from sklearn.linear_model import LogisticRegression
from sklearn.preprocessing import StandardScaler

from activelearn.strategies.expected_change import expected_gradient_length
from activelearn.strategies.validation import as_embeddings

MAX_ITERATIONS = 2000


@dataclass(frozen=True)
class BaselineModel:
    """A fitted baseline. `classes` are the labels seen in training, in column order."""

    scaler: StandardScaler
    classifier: LogisticRegression

    @property
    def classes(self) -> np.ndarray:
        return self.classifier.classes_

    @property
    def coef(self) -> np.ndarray:
        """Weights `[classes, features]` on standardised features (one row if binary)."""
        return self.classifier.coef_

    @property
    def intercept(self) -> np.ndarray:
        return self.classifier.intercept_

    def embed(self, features: np.ndarray) -> np.ndarray:
        """The space the classifier works in (standardised features); used for diversity."""
        return self.scaler.transform(as_embeddings(features, name="features"))

    def predict_proba(self, features: np.ndarray) -> np.ndarray:
        """Class probabilities `[n, classes]`, columns in the order of `classes`."""
        return self.classifier.predict_proba(self.embed(features))

    def expected_gradient_length(self, features: np.ndarray) -> np.ndarray:
        """Closed-form expected gradient length of this model on `features`."""
        embedded = self.embed(features)
        return expected_gradient_length(self.classifier.predict_proba(embedded), embedded)


def baseline_fit(features: np.ndarray, labels: np.ndarray) -> BaselineModel:
    """Fit the baseline on labeled examples. Needs at least two distinct labels."""
    features = as_embeddings(features, name="features")
    labels = np.asarray(labels)
    if labels.ndim != 1 or labels.shape[0] != features.shape[0]:
        raise ValueError(f"labels must have shape ({features.shape[0]},), got {labels.shape}")
    if np.unique(labels).shape[0] < 2:
        raise ValueError("the baseline needs examples of at least two classes")
    scaler = StandardScaler().fit(features)
    classifier = LogisticRegression(max_iter=MAX_ITERATIONS)
    classifier.fit(scaler.transform(features), labels)
    return BaselineModel(scaler=scaler, classifier=classifier)
