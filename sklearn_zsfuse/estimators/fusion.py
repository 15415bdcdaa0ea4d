"""LateFusionClassifier: zero-shot scores fused with a supervised specialist."""

from __future__ import annotations

from numbers import Integral, Real

import numpy as np
from sklearn.base import BaseEstimator, ClassifierMixin, _fit_context, clone
from sklearn.linear_model import LogisticRegression
from sklearn.pipeline import Pipeline, make_pipeline
from sklearn.preprocessing import StandardScaler
from sklearn.utils._param_validation import HasMethods, Interval, StrOptions
from sklearn.utils.metadata_routing import (
    MetadataRouter,
    MethodMapping,
    _routing_enabled,
    process_routing,
)
from sklearn.utils.multiclass import check_classification_targets
from sklearn.utils.validation import (
    _check_sample_weight,
    check_is_fitted,
    has_fit_parameter,
    validate_data,
)

from .calibration import fit_temperature
from .label_checks import check_no_missing_labels, warn_unseen_labels
from .zero_shot import softmax

__all__ = ["LateFusionClassifier", "default_classifier", "fuse_probabilities", "layer_norm"]

# torch.nn.LayerNorm's default epsilon: a constant row (one zero-shot column) maps to zeros.
LAYER_NORM_EPS = 1e-5


def default_classifier(class_weight=None):
    """Standardise, then multinomial logistic regression.

    With metadata routing enabled both steps request ``sample_weight``, so a clip of
    weight k counts as k clips in the standardisation and in the regression alike.
    ``class_weight`` is the regression's (``"balanced"``: every class weighs the same
    in the loss, whatever its number of clips; IEMOCAP and MSP-Podcast are imbalanced).
    """
    steps = [StandardScaler(), LogisticRegression(max_iter=2000, class_weight=class_weight)]
    if _routing_enabled():
        steps = [step.set_fit_request(sample_weight=True) for step in steps]
    return make_pipeline(*steps)


def layer_norm(v: np.ndarray) -> np.ndarray:
    """Per-row layer normalisation without learned parameters: zero mean, unit variance per clip."""
    v = np.asarray(v, dtype=np.float64)
    mean = v.mean(axis=1, keepdims=True)
    var = v.var(axis=1, keepdims=True)
    return (v - mean) / np.sqrt(var + LAYER_NORM_EPS)


def _renormalise(p: np.ndarray) -> np.ndarray:
    return p / p.sum(axis=1, keepdims=True)


def fuse_probabilities(p_zs, p_fm, weight: float, space: str = "probability") -> np.ndarray:
    """``weight * p_zs + (1 - weight) * p_fm`` (or its log-space analogue), float64, rows summing to 1.

    ``space="log"`` is the weighted geometric mean, renormalised. Weights 0 and 1
    return the other branch untouched (but renormalised), so they reproduce each
    system exactly; ``p_fm`` may be None at weight 1.
    """
    w = float(weight)
    if w == 1.0:
        return _renormalise(np.asarray(p_zs, dtype=np.float64))
    p_fm = np.asarray(p_fm, dtype=np.float64)
    if w == 0.0:
        return _renormalise(p_fm)
    p_zs = np.asarray(p_zs, dtype=np.float64)
    if space == "log":
        tiny = np.finfo(np.float64).tiny  # a class the classifier never saw has p = 0
        logp = w * np.log(np.maximum(p_zs, tiny)) + (1 - w) * np.log(np.maximum(p_fm, tiny))
        return _renormalise(softmax(logp))
    return _renormalise(w * p_zs + (1 - w) * p_fm)


def _has_str(values) -> bool:
    return any(isinstance(v, str) for v in np.asarray(values, dtype=object).ravel().tolist())


def _labels_array(values) -> np.ndarray:
    values = list(values)
    return np.asarray(values, dtype=object) if _has_str(values) else np.asarray(values)


def _zero_shot_names(feature_names, n_features):
    """Labels of the leading zero-shot block read from FeatureUnion-style names, or None.

    A ``FeatureUnion([("zs", scorer), ("fm", embedder)])`` with
    ``set_output(transform="pandas")`` names its columns ``zs__<class>`` then
    ``fm__<feature>``: the leading run of columns sharing the first column's prefix
    is the zero-shot block and the rest of each name is its class.
    """
    if feature_names is None:
        return None
    names = [str(n) for n in feature_names]
    prefix, sep, _ = names[0].partition("__")
    if not sep:
        return None
    block = []
    for name in names:
        if not name.startswith(prefix + "__"):
            break
        block.append(name[len(prefix) + 2 :])
    return block if 0 < len(block) < n_features else None


def resolve_zero_shot(estimator, n_features, y_classes, feature_names=None):
    """``(n_zero_shot, labels)`` of ``X``'s leading zero-shot columns; ``labels`` is None when unknown.

    In order: ``zero_shot_classes``; the union's feature names (``zs__<class>``);
    else ``n_zero_shot`` columns that are ``y``'s classes in sorted order when
    there are as many (``"auto"``), unknown otherwise. Shared by
    :class:`LateFusionClassifier` and :class:`~sklearn_zsfuse.LateFusionClassifierCV`.
    """
    count = estimator.n_zero_shot
    names = _zero_shot_names(feature_names, n_features)
    if estimator.zero_shot_classes is not None:
        labels = _labels_array(estimator.zero_shot_classes)
        if labels.ndim != 1 or len(labels) < 1:
            raise ValueError("zero_shot_classes must be a non-empty 1-D list of labels, one per zero-shot column.")
        if len(set(labels.tolist())) != len(labels):
            raise ValueError(f"zero_shot_classes holds a label twice: {labels.tolist()}.")
        if count != "auto" and int(count) != len(labels):
            raise ValueError(
                f"n_zero_shot={count} but zero_shot_classes names {len(labels)} columns; give one of them "
                "or make them agree."
            )
        if names is not None and names != [str(c) for c in labels.tolist()]:
            raise ValueError(
                f"zero_shot_classes={labels.tolist()} but X's zero-shot columns are named "
                f"{names}: they must list the same classes in the same order."
            )
        return len(labels), labels
    if names is not None and (count == "auto" or int(count) == len(names)):
        lookup = {str(c): c for c in np.asarray(y_classes).tolist()}
        labels = [lookup.get(name, name) for name in names]
        if _has_str(labels) and not _has_str(y_classes):
            raise ValueError(
                f"X's zero-shot columns are named {names}, which are not all labels of y "
                f"{np.asarray(y_classes).tolist()}; pass zero_shot_classes=[...] to say which class each is."
            )
        return len(labels), _labels_array(labels)
    n_classes = len(y_classes)
    n = n_classes if count == "auto" else int(count)
    return n, (np.asarray(y_classes) if n == n_classes else None)


def _class_union(y_classes, labels) -> np.ndarray:
    if labels is None or set(labels.tolist()) <= set(np.asarray(y_classes).tolist()):
        return np.asarray(y_classes)
    if _has_str(labels) != _has_str(y_classes):
        raise ValueError(
            f"zero_shot_classes {labels.tolist()} and the labels of y {np.asarray(y_classes).tolist()} are of "
            "different types (text vs numbers); use the same labels in both."
        )
    return np.unique(np.concatenate([np.asarray(y_classes), labels]))


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
    ``zero_shot_classes`` (the scorer's ``classes_``; :func:`make_zsfuse_pipeline`
    passes them when the scorer has fixed ``classes=``), else from pandas column
    names ``zs__<class>`` (``set_output(transform="pandas")`` on the union), else
    (``n_zero_shot="auto"``) the columns are taken to be ``y``'s classes in sorted
    order. The last guess is wrong when the scorer scores a fixed label set and the
    training clips lack one of its classes; give ``zero_shot_classes`` then.

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
        the named block, or the number of classes in ``y``.
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
    ):
        self.method = method
        self.weight = weight
        self.space = space
        self.classifier = classifier
        self.n_zero_shot = n_zero_shot
        self.zero_shot_classes = zero_shot_classes
        self.normalize = normalize
        self.temperature = temperature

    def _base_classifier(self):
        return default_classifier() if self.classifier is None else self.classifier

    def _split(self, X):
        return X[:, : self.n_zero_shot_], X[:, self.n_zero_shot_ :]

    @_fit_context(prefer_skip_nested_validation=False)
    def fit(self, X, y, sample_weight=None):
        check_no_missing_labels(y)
        X, y = validate_data(self, X, y)
        check_classification_targets(y)
        y_classes = np.unique(y)
        if len(y_classes) < 2:
            raise ValueError(
                f"y holds a single class, {y_classes.tolist()[0]!r} ({len(y)} samples): the fusion "
                "classifier needs at least two classes to train. In cross-validation this means a "
                "training fold holds only this class; use a stratified splitter (StratifiedKFold, "
                "StratifiedGroupKFold) or check how the folds are made."
            )
        if sample_weight is not None:
            sample_weight = _check_sample_weight(sample_weight, X)
            if np.any(sample_weight < 0):  # a negative weight turns a loss term into a reward
                raise ValueError(f"sample_weight must be >= 0; it is negative at position(s) "
                                 f"{np.flatnonzero(sample_weight < 0)[:10].tolist()}.")
        self.n_zero_shot_, self.zero_shot_classes_ = resolve_zero_shot(
            self, X.shape[1], y_classes, getattr(self, "feature_names_in_", None)
        )
        labels = self.zero_shot_classes_
        if self.method == "weighted" or self.temperature == "fit":
            self._check_labels_scored(y_classes, labels)
        if X.shape[1] <= self.n_zero_shot_:
            raise ValueError(
                f"X has {X.shape[1]} feature(s) but the first {self.n_zero_shot_} are zero-shot "
                "scores: no embedding columns are left for the classifier. Pass "
                "[zero-shot scores | embedding], e.g. from a FeatureUnion of ALMZeroShotScorer "
                "and FMEmbedder."
            )
        self.classes_ = _class_union(y_classes, labels)
        self._index_ = {c: i for i, c in enumerate(self.classes_.tolist())}
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
        self._columns_ = np.asarray([self._index_[c] for c in self.classifier_.classes_.tolist()])
        if labels is not None:
            self._zs_columns_ = np.asarray([self._index_[c] for c in labels.tolist()])
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
        return _renormalise(proba)

    def _zero_shot_proba(self, zs, temperature):
        if self.zero_shot_classes_ is None:
            raise ValueError(
                "The zero-shot columns' classes are unknown (n_zero_shot differs from the number of classes and "
                "no zero_shot_classes were given), so their probabilities cannot be placed in classes_."
            )
        logits = np.full((zs.shape[0], len(self.classes_)), -np.inf)
        logits[:, self._zs_columns_] = np.asarray(zs, dtype=np.float64) / float(temperature)
        return softmax(logits)

    def zero_shot_proba(self, X):
        """The zero-shot branch alone: ``softmax(zs / temperature_)`` in ``classes_`` columns, float64.

        A class of ``y`` without a zero-shot column gets 0. Use it to measure the
        calibration of the zero-shot branch before and after ``temperature="fit"``
        (:func:`sklearn_zsfuse.evaluation.metrics.expected_calibration_error`).
        """
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        return self._zero_shot_proba(self._split(X)[0], self.temperature_)

    def predict_proba(self, X):
        """Fused class probabilities, float64, each row summing to 1 within float64 rounding."""
        check_is_fitted(self)
        X = validate_data(self, X, reset=False)
        zs, emb = self._split(X)
        if self.method == "concat":
            return self._classifier_proba(self._concat_features(zs, emb))
        w = float(self.weight)
        # Skip the branch with zero weight so 0 and 1 reproduce each system exactly.
        p_zs = None if w == 0.0 else self._zero_shot_proba(zs, self.temperature_)
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
