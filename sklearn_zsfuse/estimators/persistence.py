"""Persistence: what a pickle of an audio estimator carries, and how it finds its model again.

By default a pickle (joblib, pickle, skops) carries parameters and learned state
only; the model is loaded again by name (``model``: hub id or directory) on first
use. With ``store_weights_in_pickle=True`` a *fitted* estimator's model files
travel inside the pickle (:mod:`sklearn_zsfuse.encoders.embedded`): where it is
loaded, they are the model of that estimator (and of its clones) only, checked
when the file is read and written nowhere until the model is first used. No other
estimator's model name is ever re-pointed by a loaded file.

:func:`save_model` writes a file atomically, so a failed save never destroys the
previous one.
"""

from __future__ import annotations

import contextlib
import hashlib
import os
import tempfile
from pathlib import Path

import numpy as np

from ..encoders import model_record
from ..encoders.base import ModelMismatchError
from ..encoders.devices import primary_device, replica_records
from ..encoders.embedded import EmbeddedModel, pack_model, unpack_model
from ..encoders.model_files import model_paths
from ..encoders.registry import registered_spec

__all__ = [
    "SKOPS_TRUSTED_TYPES",
    "AudioModelMixin",
    "audio_estimators",
    "check_same_behaviour",
    "local_model_path",
    "save_model",
    "weights_id",
]

# Every class of this package that a fitted pipeline may hold; pass them to
# ``skops.io.load(..., trusted=SKOPS_TRUSTED_TYPES)`` (scikit-learn and numpy types are
# trusted by skops already).
SKOPS_TRUSTED_TYPES = (
    "sklearn_zsfuse.estimators.zero_shot.ALMZeroShotScorer",
    "sklearn_zsfuse.estimators.attributes.ALMAttributeScorer",
    "sklearn_zsfuse.estimators.embedding.FMEmbedder",
    "sklearn_zsfuse.estimators.fusion.LateFusionClassifier",
    "sklearn_zsfuse.estimators.fusion_cv.LateFusionClassifierCV",
    "sklearn_zsfuse.estimators.fusion_regression.LateFusionRegressor",
    "sklearn_zsfuse.estimators.fusion_regression_cv.LateFusionRegressorCV",
)

_STATE_KEY = "_embedded_model"


def _copyable_directory(model) -> Path | None:
    """The local Hugging Face model directory ``model`` names, copied as is (no model loads)."""
    if not isinstance(model, (str, os.PathLike)) or registered_spec(model) is not None:
        return None  # a registered name is its loader's, even where a folder of that name exists
    directory = Path(os.fspath(model)).expanduser()
    return directory if directory.is_dir() else None


class AudioModelMixin:
    """What the audio estimators share about their model: its record, and what their pickles carry.

    ``_kind`` ("alm" or "fm") says which kind of model ``model`` names. The estimator
    holds no model: :meth:`_record` looks its record up (loaded once per process, see
    :mod:`sklearn_zsfuse.encoders.records`). An estimator unpickled with embedded
    weights holds them as ``_embedded`` (an :class:`~sklearn_zsfuse.encoders.embedded.EmbeddedModel`),
    which stands for its ``model`` only while ``model`` and ``revision`` are the ones
    they were embedded for; clones keep them.

    Only a fitted estimator embeds its weights: they are the weights its learned state
    belongs to. Unfitted clones (what ``GridSearchCV(n_jobs>1)`` sends to its workers)
    travel without them and load the model by name, or from the weights their original
    carried.
    """

    _kind: str

    def _source(self):
        """What ``model`` loads from: the embedded weights this estimator carries, else the name itself."""
        embedded = self.__dict__.get("_embedded")
        if embedded is not None and embedded.carries(self.model, self.revision):
            return embedded, None
        return self.model, self.revision

    def _record(self):
        """The model on the (first) device: the one whose outputs a fitted estimator keeps."""
        source, revision = self._source()
        return model_record(self._kind, source, revision=revision, device=primary_device(self.device),
                            dtype=self.dtype)

    def _replicas(self) -> tuple:
        """The model on each further device of ``device`` (``"cuda:0,cuda:1"``, ``"cuda:all"``)."""
        source, revision = self._source()
        return replica_records(self._kind, source, revision=revision, device=self.device, dtype=self.dtype)[1:]

    def _settings(self):
        """How the engine runs this estimator's clips: batches, input workers, the caches."""
        from ..engine import RunSettings
        from ..engine.cache import caches, disk_cache

        return RunSettings(
            desc=type(self).__name__,
            batch_size=self.batch_size,
            memory=caches.audio,
            disk=disk_cache(self.cache_dir),
            max_batch_seconds=self.max_batch_seconds,
            n_workers=self.n_workers,
            verbose=self.verbose,
            replicas=self._replicas(),
        )

    def _adapter(self, record):  # pragma: no cover - each estimator names its adapter
        """What the engine makes of this estimator's clips on ``record`` (:mod:`sklearn_zsfuse.engine.adapters`)."""
        raise NotImplementedError

    def _encode_into(self, clips, into, *, memory: bool = True) -> dict:
        """Every clip of ``clips`` (``prepare_clips``'s) through the engine, each result to ``into(index, value)``.

        Nothing is returned but the run's counts (``encoded``, ``memory``, ``disk``,
        ``duplicate``); with ``memory=False`` no result is kept in the process's memory
        tier either (a layer sweep writing its store, a worker filling a shared cache).
        """
        from dataclasses import replace

        from ..engine import run

        settings = self._settings() if memory else replace(self._settings(), memory=None)
        return run(clips, self._adapter(self._record()), settings, into=into)

    def _check_weights_can_travel(self, record) -> None:
        """Refuse ``store_weights_in_pickle=True`` at ``fit`` for a model whose files cannot be embedded.

        Checked when the estimator is fitted, so that the error comes before any file is
        written (``joblib.dump`` truncates its target before it pickles).
        """
        if not self.store_weights_in_pickle:
            return
        able = record.abilities
        source, _ = self._source()
        directory = _copyable_directory(source)
        if directory is not None:
            model_paths(directory)  # its links stay inside it: refused now, before anything is saved
        if not able.has_weights or able.save or isinstance(source, EmbeddedModel) or directory is not None:
            return
        model = self.model
        shown = repr(os.fspath(model)) if isinstance(model, (str, os.PathLike)) else repr(model)
        raise ValueError(
            f"store_weights_in_pickle=True is not supported for {type(self).__name__}(model={shown}): "
            f"its backend ({type(record.encoder).__name__}) cannot write its files so that they load again from "
            "a pickle (supported: Hugging Face CLAP and speech models, msclap, laion_clap; CLSP-style and "
            "registered models are not, as their code or loader lives outside the files). Set "
            "store_weights_in_pickle=False and install the model where the pickle is loaded."
        )

    def _check_model(self, record, what: str, probe) -> None:
        """Fail loudly if ``model`` now names other weights than at fit (moved dirs are fine).

        ``probe()`` gives the current model's probe embedding, compared with ``probe_embedding_``.
        """
        fitted = getattr(self, "weights_id_", None)  # None: pickled by an older version
        if fitted is None or fitted == weights_id(record.encoder):
            return
        reference = getattr(self, "probe_embedding_", None)  # None: pickled by an older version
        if reference is not None:
            check_same_behaviour(self, what, reference, probe())

    def __getstate__(self):
        state = dict(super().__getstate__())  # a copy: never add the files to self.__dict__
        embedded = state.pop("_embedded", None)
        fitted = getattr(self, "weights_id_", None) is not None
        if not (fitted and self.store_weights_in_pickle):
            return state
        source, revision = self._source()
        if isinstance(source, EmbeddedModel):  # the weights it carried: as they came
            state[_STATE_KEY] = embedded.payload
            return state
        directory = _copyable_directory(source)
        if directory is None:  # else copied without loading the model
            record = self._record()
            if not record.abilities.has_weights:
                return state  # nothing to carry
            self._check_weights_can_travel(record)
        state[_STATE_KEY] = pack_model(
            self.model, revision, lambda target: self._record().encoder.save(target), directory=directory
        )
        return state

    def __setstate__(self, state):
        state = dict(state)
        payload = state.pop(_STATE_KEY, None)
        super().__setstate__(state)
        if payload is not None:  # checked now, written nowhere: see encoders.embedded
            self._embedded = unpack_model(payload, kind=self._kind, model=state.get("model"),
                                          revision=state.get("revision"))

    def __sklearn_clone__(self):
        clone = super().__sklearn_clone__()
        embedded = self.__dict__.get("_embedded")
        if embedded is not None:
            clone._embedded = embedded
        return clone


def audio_estimators(estimator) -> dict:
    """Every audio estimator in ``estimator`` (itself, or a pipeline's steps at any depth), by parameter prefix.

    The prefix is how ``set_params`` reaches it (``"features__zs__"``; ``""`` for
    ``estimator`` itself).
    """
    found = {"": estimator} if isinstance(estimator, AudioModelMixin) else {}
    if hasattr(estimator, "get_params"):
        for name, value in estimator.get_params(deep=True).items():
            if isinstance(value, AudioModelMixin):
                found[f"{name}__"] = value
    return found


def local_model_path(model) -> str | None:
    """The absolute path of ``model`` when it names a file or directory here (not a registered name), else None."""
    if not isinstance(model, (str, os.PathLike)) or registered_spec(model) is not None:
        return None
    path = Path(os.fspath(model)).expanduser()
    return os.path.abspath(path) if path.exists() else None


@contextlib.contextmanager
def _absolute_models(estimator):
    """Each audio estimator's local ``model`` as an absolute path inside the block, as given after it.

    Estimators that carry embedded weights for their name keep it: the weights travel, not the path.
    """
    changed = []
    for est in audio_estimators(estimator).values():
        embedded = est.__dict__.get("_embedded")
        absolute = local_model_path(est.model)
        if absolute is None or absolute == os.fspath(est.model) or (
                embedded is not None and embedded.carries(est.model, est.revision)):
            continue
        changed.append((est, est.model))
        est.model = absolute
    try:
        yield
    finally:
        for est, model in changed:
            est.model = model


def save_model(estimator, path) -> Path:
    """``joblib.dump(estimator, path)``, atomically, with model directories as absolute paths.

    A model named by a local directory or file (``"tiny-clap"``, ``"./models/clap"``)
    is recorded by its absolute path, so the file works from any directory of this
    machine (``zsfuse predict --model-dir NAME=DIR`` re-points it elsewhere); hub ids
    and registered names are recorded as given, and ``estimator`` itself keeps its
    values. ``joblib.dump`` opens (truncates) its target before it pickles, so an
    error while pickling destroys the previous file; this writes a temporary file
    beside ``path`` and renames it over ``path`` only once it is complete.
    """
    import joblib

    path = Path(path)
    fd, tmp = tempfile.mkstemp(prefix=f".{path.name}.", suffix=".tmp", dir=path.parent)
    os.close(fd)
    try:
        with _absolute_models(estimator):
            joblib.dump(estimator, tmp)
        os.replace(tmp, path)
    except BaseException:
        Path(tmp).unlink(missing_ok=True)
        raise
    return path


def weights_id(encoder) -> str:
    """A short digest of the encoder's fingerprint (keeps paths out of pickles)."""
    return hashlib.blake2b(encoder.fingerprint.encode(), digest_size=12).hexdigest()


def relative_difference(reference: np.ndarray, current: np.ndarray) -> float:
    reference = np.asarray(reference, dtype=np.float64)
    current = np.asarray(current, dtype=np.float64)
    if reference.shape != current.shape:
        return float("inf")
    return float(np.linalg.norm(current - reference) / max(np.linalg.norm(reference), 1e-12))


# Same weights on another device or dtype (a CUDA bfloat16 fit, a CPU float32 predict)
# stay well inside this; different checkpoints land far outside it.
SAME_BEHAVIOUR_RTOL = 0.05


def check_same_behaviour(estimator, what: str, reference, current) -> None:
    """Raise :class:`ModelMismatchError` if ``current`` is not ``reference`` up to device noise."""
    reference, current = np.asarray(reference), np.asarray(current)
    if reference.shape != current.shape:
        problem = f"its {what} have shape {current.shape}, the fitted model's {reference.shape}"
    else:
        diff = relative_difference(reference, current)
        if diff <= SAME_BEHAVIOUR_RTOL:
            return
        problem = f"its {what} differ by {diff:.0%} (tolerance {SAME_BEHAVIOUR_RTOL:.0%})"
    raise ModelMismatchError(
        f"{type(estimator).__name__}(model={os.fspath(estimator.model)!r}) is not the model it "
        f"was fitted with: {problem}. Refit with this model (in a pipeline, refit the whole "
        "pipeline), or point model at a copy of the original weights."
    )
