"""LateFusionClassifier: zero-shot scores fused with a supervised specialist."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.pipeline import Pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, Options, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.validation import check_is_fitted, has_fit_parameter

from .calibration import fit_temperature
from .fusion_input import check_fit_input, check_predict_input, class_union
from .fusion_proba import (
    default_classifier,
    fuse_probabilities,
    layer_norm,
    renormalise,
    zero_shot_probabilities,
)
from .label_checks import warn_unseen_labels
from .threads import limited_threads

__all__ = ["LateFusionClassifier"]


def _sample_weight_params(classifier, sample_weight) -> dict:
    """Fit parameters that give ``sample_weight`` to ``classifier`` without metadata routing.

    A Pipeline gets it at every step whose ``fit`` takes it (the default classifier:
    its scaler and its regression), so a clip of weight k counts as k clips
    everywhere; it is an error when the final step cannot take it.
    """
    if isinstance(classifier, Pipeline):
        steps = [(name, step) for name, step in classifier.steps if step not in (None, "passthrough")]
        final = steps[-1][1]
        if not has_fit_parameter(final, "sample_weight"):
            raise ValueError(
                f"sample_weight was given but the classifier's final step {type(final).__name__}.fit takes "
                "no sample_weight; use a classifier that does (e.g. LogisticRegression), or "
                "LogisticRegression(class_weight='balanced') for class imbalance."
            )
        return {f"{name}__sample_weight": sample_weight for name, step in steps if has_fit_parameter(step, "sample_weight")}
    if not has_fit_parameter(classifier, "sample_weight"):
        raise ValueError(
            f"sample_weight was given but {type(classifier).__name__}.fit takes no sample_weight; use a "
            "classifier that does (e.g. LogisticRegression)."
        )
    return {"sample_weight": sample_weight}


class LateFusionClassifier(ClassifierMixin, BaseEstimator):
    """Fuse zero-shot class scores with a classifier trained on foundation-model embeddings.

    ``X`` is ``[zero-shot scores | embedding]``: the first columns are the zero-shot
    logits (the output of :class:`ALMZeroShotScorer`, one column per class), the rest
    the specialist's embedding (the output of :class:`FMEmbedder`). A
    ``FeatureUnion`` of the two produces exactly this layout.

    Which class each zero-shot column is, is known independently of ``y``: from
    ``zero_shot_classes`` (the scorer's ``classes_``), else from the scorer itself
    (its ``transform`` output records its classes, and a ``FeatureUnion`` with numpy
    output keeps that record: :mod:`~sklearn_zsfuse.estimators.zero_shot_columns`),
    else from pandas column names ``zs__<class>`` (``set_output(transform="pandas")``
    on the union); where two of these are there they must agree. Only a plain array
    without ``zero_shot_classes`` leaves a guess (``n_zero_shot="auto"``): the columns
    are taken to be ``y``'s classes in sorted order, which is wrong when the scorer
    scores a fixed label set and the training clips lack one of its classes. At
    ``predict``, zero-shot columns that record other classes than at ``fit`` (the
    scorer refitted since) are refused.

    Parameters
    ----------
    method : {"weighted", "concat"}, default="weighted"
        "weighted": ``p = weight * softmax(zs / T) + (1 - weight) * p_classifier(embedding)``.
        "concat": the normalised zero-shot scores are concatenated with the
        normalised embedding and the classifier is trained on both.
    weight : float in [0, 1], default=0.5
        The zero-shot share in "weighted" fusion. 0 is the specialist alone,
        1 the zero-shot classifier alone.
    space : {"probability", "log"}, default="probability"
        "log" fuses log-probabilities (a weighted geometric mean, renormalised).
    classifier : estimator or None, default=None
        Any scikit-learn classifier with ``predict_proba``; ``None`` means
        :func:`default_classifier` (standardisation + logistic regression). For
        class imbalance pass ``LogisticRegression(class_weight="balanced")`` (or a
        Pipeline ending in it) or give ``sample_weight`` to ``fit``. Prefer
        ``LogisticRegression`` or ``CalibratedClassifierCV(SVC(), ensemble=False)``
        to ``SVC(probability=True)``, which scikit-learn 1.9 deprecates (a
        ``FutureWarning`` on every fit).
    n_zero_shot : int or "auto", default="auto"
        Number of leading zero-shot columns; "auto": ``len(zero_shot_classes)``, or
        the scorer's recorded or named block, or the number of classes in ``y``.
    zero_shot_classes : array-like or None, default=None
        The label of each zero-shot column, in column order (the scorer's
        ``classes_``). Weighted fusion needs every label of ``y`` among them.
    normalize : {"standard", "layer"}, default="standard"
        How "concat" normalises the two blocks before concatenating them.
        "standard": each column standardised over the training clips.
        "layer": each clip's score vector and, separately, its embedding
        layer-normalised (zero mean, unit variance over that clip's features, no
        learned parameters). A summary of the ZS-Fuse paper describes its fusion as
        LayerNorm followed by concatenation; the full text was not available to
        check the details. Not used by "weighted".
    temperature : None, float > 0 or "fit", default=None
        Divides the zero-shot logits before their softmax in weighted fusion and
        :meth:`zero_shot_proba` (CLAP's logits are over-confident). None: 1 (raw
        logits); "fit": chosen on the training clips by log-loss
        (:func:`sklearn_zsfuse.estimators.calibration.fit_temperature`). It never changes
        the zero-shot ranking, only how much weighted fusion trusts it; "concat"
        normalises the scores, so the temperature does not affect it.
    n_threads : int or None, default=None
        BLAS/OpenMP threads of ``fit`` and the predictions, for as long as they
        run (:mod:`~sklearn_zsfuse.estimators.threads`): None the package's choice
        (1: these small fits run no faster with more, and much slower on a busy
        machine), a positive int that many, -1 the libraries' own setting. The
        process's own settings are the same before and after.

    Attributes
    ----------
    classes_ : ndarray of shape (n_classes,)
        The classes of ``y`` together with those of ``zero_shot_classes``, sorted.
        A zero-shot class absent from the training clips stays a class: weighted
        fusion can still predict it from its zero-shot score (the classifier gives
        it probability 0), so ``weight=1`` is exactly the zero-shot classifier on
        all its classes, and a test clip of that class is not a guaranteed error.
        "concat" gives it probability 0.
    classifier_ : the fitted classifier
    n_zero_shot_ : int
    zero_shot_classes_ : ndarray or None
        The label of each zero-shot column (None when not known: "concat" with
        ``n_zero_shot`` unlike ``y``'s number of classes).
    temperature_ : float
        The temperature used (1.0 for None).
    n_features_in_ : int

    Notes
    -----
    ``fit`` takes ``sample_weight``: the temperature, the "standard" scalers and the
    classifier weigh each clip by it. Without metadata routing it goes to the
    classifier (to every step of a Pipeline that takes it). With
    ``sklearn.set_config(enable_metadata_routing=True)`` call
    ``set_fit_request(sample_weight=True)`` on this estimator to receive it from a
    Pipeline; it reaches the classifier as routing says (the default classifier
    requests it in both its steps; your own classifier needs
    ``set_fit_request(sample_weight=True)``).

    Examples
    --------
    ``X`` is ``[zero-shot scores | embedding]``; here two zero-shot columns for the
    classes ``a`` and ``b``, then three embedding columns:

    >>> import numpy as np
    >>> from sklearn_zsfuse import LateFusionClassifier
    >>> rng = np.random.default_rng(0)
    >>> y = np.array(["a", "b"] * 10)
    >>> zero_shot = np.where(y[:, None] == np.array(["a", "b"]), 2.0, 0.0) + rng.normal(0, 0.1, (20, 2))
    >>> X = np.hstack([zero_shot, rng.normal(size=(20, 3))])
    >>> fusion = LateFusionClassifier("weighted", weight=1.0, zero_shot_classes=["a", "b"]).fit(X, y)
    >>> float((fusion.predict(X) == y).mean())  # weight 1: the zero-shot scores alone
    1.0
    >>> fusion.predict_proba(X[:2]).shape
    (2, 2)
    """

    _parameter_constraints = {
        "method": [StrOptions({"weighted", "concat"})],
        "weight": [Interval(Real, 0, 1, closed="both")],
        "space": [StrOptions({"probability", "log"})],
        "classifier": [HasMethods(["fit", "predict_proba"]), None],
        "n_zero_shot": [Interval(Integral, 1, None, closed="left"), StrOptions({"auto"})],
        "zero_shot_classes": ["array-like", None],
        "normalize": [StrOptions({"standard", "layer"})],
        "temperature": [Interval(Real, 0, None, closed="neither"), StrOptions({"fit"}), None],
        "n_threads": [Interval(Integral, 1, None, closed="left"), Options(Integral, {-1}), None],
    }

    def __init__(
        self,
        method="weighted",
        weight=0.5,
        *,
        space="probability",
        classifier=None,
        n_zero_shot="auto",
        zero_shot_classes=None,
        normalize="standard",
        temperature=None,
        n_threads=None,
    ):
        self.method = method
        self.weight = weight
        self.space = space
        self.classifier = classifier
        self.n_zero_shot = n_zero_shot
        self.zero_shot_classes = zero_shot_classes
        self.normalize = normalize
        self.temperature = temperature
        self.n_threads = n_threads

    def _base_classifier(self):
        return default_classifier() if self.classifier is None else self.classifier

    def _split(self, X):
        return X[:, : self.n_zero_shot_], X[:, self.n_zero_shot_ :]

    @_fit_context(prefer_skip_nested_validation=False)
    @limited_threads
    def fit(self, X, y, sample_weight=None):
        data = check_fit_input(self, X, y, sample_weight)
        X, y, sample_weight, y_classes = data.X, data.y, data.sample_weight, data.y_classes
        self.n_zero_shot_, self.zero_shot_classes_ = data.n_zero_shot, data.zero_shot_classes
        labels = self.zero_shot_classes_
        if self.method == "weighted" or self.temperature == "fit":
            self._check_labels_scored(y_classes, labels)
        self.classes_ = class_union(y_classes, labels)
        zs, emb = self._split(X)
        if self.temperature == "fit":
            self.temperature_ = fit_temperature(zs, y, labels, sample_weight)
        else:
            self.temperature_ = 1.0 if self.temperature is None else float(self.temperature)
        if self.method == "concat":
            if self.normalize == "standard":
                self.zs_scaler_ = StandardScaler().fit(zs, sample_weight=sample_weight)
                self.embedding_scaler_ = StandardScaler().fit(emb, sample_weight=sample_weight)
            features = self._concat_features(zs, emb)
        else:
            features = emb
        base = self._base_classifier()
        if _routing_enabled():
            fit_params = process_routing(self, "fit", sample_weight=sample_weight).classifier.fit
        else:
            fit_params = {} if sample_weight is None else _sample_weight_params(base, sample_weight)
        self.classifier_ = clone(base).fit(features, y, **fit_params)
        # The classifier's columns within ours (it never sees a class missing from y).
        index = {c: i for i, c in enumerate(self.classes_.tolist())}
        self._columns_ = np.asarray([index[c] for c in self.classifier_.classes_.tolist()])
        return self

    def _check_labels_scored(self, y_classes, labels):
        if labels is None:
            raise ValueError(
                f"n_zero_shot={self.n_zero_shot} zero-shot columns but y has {len(y_classes)} classes, so which "
                "class each column scores is unknown: pass zero_shot_classes=[...] (the scorer's classes_, in "
                f"column order). Needed by method='weighted' and temperature='fit' (method={self.method!r})."
            )
        missing = sorted(set(y_classes.tolist()) - set(labels.tolist()), key=str)
        if missing:
            raise ValueError(
                f"y holds label(s) {missing} that have no zero-shot column (zero_shot_classes="
                f"{labels.tolist()}): the zero-shot scores cannot vote for them. Score those classes too "
                "(the scorer's classes=[...]) or use method='concat'."
            )

    def _concat_features(self, zs, emb):
        if self.normalize == "layer":
            return np.hstack([layer_norm(zs), layer_norm(emb)])
        return np.hstack([self.zs_scaler_.transform(zs), self.embedding_scaler_.transform(emb)])

    def _classifier_proba(self, features):
        proba = np.zeros((features.shape[0], len(self.classes_)))
        proba[:, self._columns_] = self.classifier_.predict_proba(features)
        return renormalise(proba)

    def _zero_shot_proba(self, zs):
        if self.zero_shot_classes_ is None:
            raise ValueError(
                "The zero-shot columns' classes are unknown (n_zero_shot differs from the number of classes and "
                "no zero_shot_classes were given), so their probabilities cannot be placed in classes_."
            )
        return zero_shot_probabilities(zs, self.zero_shot_classes_, self.classes_, self.temperature_)

    @limited_threads
    def zero_shot_proba(self, X):
        """The zero-shot branch alone: ``softmax(zs / temperature_)`` in ``classes_`` columns, float64.

        A class of ``y`` without a zero-shot column gets 0. Use it to measure the
        calibration of the zero-shot branch before and after ``temperature="fit"``
        (:func:`sklearn_zsfuse.evaluation.metrics.expected_calibration_error`).
        """
        check_is_fitted(self)
        X = check_predict_input(self, X, self)
        return self._zero_shot_proba(self._split(X)[0])

    @limited_threads
    def predict_proba(self, X):
        """Fused class probabilities, float64, each row summing to 1 within float64 rounding."""
        check_is_fitted(self)
        X = check_predict_input(self, X, self)
        zs, emb = self._split(X)
        if self.method == "concat":
            return self._classifier_proba(self._concat_features(zs, emb))
        w = float(self.weight)
        # Skip the branch with zero weight so 0 and 1 reproduce each system exactly.
        p_zs = None if w == 0.0 else self._zero_shot_proba(zs)
        p_fm = None if w == 1.0 else self._classifier_proba(emb)
        return fuse_probabilities(p_zs, p_fm, w, self.space)

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

    def get_metadata_routing(self):
        """Routing of ``fit``'s ``sample_weight``: used here (temperature, scalers) and by the classifier."""
        return (
            MetadataRouter(owner=self)
            .add_self_request(self)
            .add(classifier=self._base_classifier(), method_mapping=MethodMapping().add(caller="fit", callee="fit"))
        )
