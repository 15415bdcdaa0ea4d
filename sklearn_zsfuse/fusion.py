"""LateFusionClassifier: zero-shot scores fused with a supervised specialist."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import check_is_fitted, validate_data

from ._labels import check_no_missing_labels, warn_unseen_labels
from .zero_shot import softmax

__all__ = ["LateFusionClassifier", "default_classifier"]


def default_classifier():
    """Standardise, then multinomial logistic regression."""
    return make_pipeline(StandardScaler(), LogisticRegression(max_iter=2000))


class LateFusionClassifier(ClassifierMixin, BaseEstimator):
    """Fuse zero-shot class scores with a classifier trained on foundation-model embeddings.

    ``X`` is ``[zero-shot scores | embedding]``: the first ``n_zero_shot`` columns
    are the zero-shot logits (the output of :class:`ALMZeroShotScorer`, one
    column per class in ``classes_`` order), the rest the specialist's
    embedding (the output of :class:`FMEmbedder`). A ``FeatureUnion`` of the two
    produces exactly this layout.

    Parameters
    ----------
    method : {"weighted", "concat"}, default="weighted"
        "weighted": ``p = weight * softmax(zs) + (1 - weight) * p_classifier(embedding)``.
        "concat": the standardised zero-shot scores are concatenated with the
        standardised embedding and the classifier is trained on both.
    weight : float in [0, 1], default=0.5
        The zero-shot share in "weighted" fusion. 0 is the specialist alone,
        1 the zero-shot classifier alone.
    space : {"probability", "log"}, default="probability"
        "log" fuses log-probabilities (a weighted geometric mean, renormalised).
    classifier : estimator or None, default=None
        Any scikit-learn classifier with ``predict_proba``; ``None`` means
        :func:`default_classifier` (standardisation + logistic regression).
    n_zero_shot : int or "auto", default="auto"
        Number of leading zero-shot columns; "auto" is the number of classes.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
    classifier_ : the fitted classifier
    n_zero_shot_ : int
    n_features_in_ : int
    """

    _parameter_constraints = {
        "method": [StrOptions({"weighted", "concat"})],
        "weight": [Interval(Real, 0, 1, closed="both")],
        "space": [StrOptions({"probability", "log"})],
        "classifier": [HasMethods(["fit", "predict_proba"]), None],
        "n_zero_shot": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
    }

    def __init__(self, method="weighted", weight=0.5, *, space="probability", classifier=None, n_zero_shot="auto"):
        self.method = method
        self.weight = weight
        self.space = space
        self.classifier = classifier
        self.n_zero_shot = n_zero_shot

    def _split(self, X):
        return X[:, : self.n_zero_shot_], X[:, self.n_zero_shot_ :]

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y):
        check_no_missing_labels(y)
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        self.classes_ = np.unique(y)
        n_classes = len(self.classes_)
        if n_classes < 2:
            raise ValueError(
                f"y holds a single class, {self.classes_.tolist()[0]!r} ({len(y)} samples): the fusion "
                "classifier needs at least two classes to train. In cross-validation this means a "
                "training fold holds only this class; use a stratified splitter (StratifiedKFold, "
                "StratifiedGroupKFold) or check how the folds are made."
            )
        self.n_zero_shot_ = n_classes if self.n_zero_shot == "auto" else int(self.n_zero_shot)
        if self.method == "weighted" and self.n_zero_shot_ != n_classes:
            raise ValueError(
                f"method='weighted' needs one zero-shot column per class: n_zero_shot="
                f"{self.n_zero_shot_} but y has {n_classes} classes."
            )
        if X.shape[1] <= self.n_zero_shot_:
            raise ValueError(
                f"X has {X.shape[1]} feature(s) but the first {self.n_zero_shot_} are zero-shot "
                "scores: no embedding columns are left for the classifier. Pass "
                "[zero-shot scores | embedding], e.g. from a FeatureUnion of ALMZeroShotScorer "
                "and FMEmbedder."
            )
        zs, emb = self._split(X)
        base = default_classifier() if self.classifier is None else self.classifier
        if self.method == "concat":
            self.zs_scaler_ = StandardScaler().fit(zs)
            self.embedding_scaler_ = StandardScaler().fit(emb)
            features = np.hstack([self.zs_scaler_.transform(zs), self.embedding_scaler_.transform(emb)])
        else:
            features = emb
        self.classifier_ = clone(base).fit(features, y)
        # Map the classifier's columns onto ours (a fold may miss a class).
        self._columns_ = np.searchsorted(self.classes_, self.classifier_.classes_)
        return self

    def _classifier_proba(self, features):
        proba = np.zeros((features.shape[0], len(self.classes_)))
        proba[:, self._columns_] = self.classifier_.predict_proba(features)
        return proba

    def predict_proba(self, X):
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        zs, emb = self._split(X)
        if self.method == "concat":
            features = np.hstack([self.zs_scaler_.transform(zs), self.embedding_scaler_.transform(emb)])
            return self._classifier_proba(features)
        p_zs = softmax(zs)
        w = float(self.weight)
        # Skip the branch with zero weight so 0 and 1 reproduce each system exactly.
        if w == 1.0:
            return p_zs
        p_fm = self._classifier_proba(emb)
        if w == 0.0:
            return p_fm
        if self.space == "log":
            tiny = np.finfo(float).tiny  # a class the classifier never saw has p = 0
            logp = w * np.log(np.maximum(p_zs, tiny)) + (1 - w) * np.log(np.maximum(p_fm, tiny))
            return softmax(logp)
        return w * p_zs + (1 - w) * p_fm

    def predict_log_proba(self, X):
        with np.errstate(divide="ignore"):
            return np.log(self.predict_proba(X))

    def score(self, X, y, sample_weight=None):
        """Accuracy on ``(X, y)``; labels not in ``classes_`` count as errors, with a warning."""
        check_is_fitted(self)
        warn_unseen_labels(self, y, "The classifier only predicts the labels it was trained on.")
        return super().score(X, y, sample_weight=sample_weight)

    def predict(self, X):
        proba = self.predict_proba(X)
        return self.classes_[np.argmax(proba, axis=1)]
