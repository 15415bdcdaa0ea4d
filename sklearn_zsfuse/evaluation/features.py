"""Running the frozen models once over a corpus: the arrays the protocol learns and selects from.

Nothing here sees a label (the models are frozen and zero-shot), so computing
the features on all clips leaks nothing. Every model is run once, however many
pairs it takes part in; audio is encoded once per N_a (the embedding cache),
and once per specialist however many of its layers are evaluated (every
layer's pooled state comes out of one pass).
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from concurrent.futures import ThreadPoolExecutor
from dataclasses import dataclass, field

import numpy as np
from sklearn.base import clone

from ..audio import prepare_clips
from ..estimators.prompts import DEFAULT_TEMPLATES, SINGLE_TEMPLATE
from .feature_store import LayerStore
from .grid import Grid
from .zero_shot_passes import zero_shot_passes
from .zero_shot_targets import as_target

__all__ = ["FeatureSet", "Features", "ZeroShotFeatures", "compute_feature_set"]


@dataclass
class Features:
    """Model outputs of one ALM and one specialist on every clip (either may be None)."""

    embeddings: np.ndarray | None  # (n, D) specialist embedding, or None without a specialist
    zero_shot: np.ndarray | None  # (n, C) logits, single template, N_a = N_t = 1
    ensemble: dict = field(default_factory=dict)  # (N_a, N_t) -> (n, C) logits of the ensemble


@dataclass
class ZeroShotFeatures:
    """One ALM's logits on every clip: the single prompt, and the ensemble per (N_a, N_t)."""

    single: np.ndarray  # (n, C)
    ensemble: dict  # (N_a, N_t) -> (n, C)


@dataclass
class FeatureSet:
    """Every model's outputs on every clip, keyed by the names the tables use.

    ``alms``: ALM name -> :class:`ZeroShotFeatures`; ``fms``: specialist name
    (with its layer when several are evaluated, e.g. ``"wavlm [layer 3]"``) ->
    ``(n, D)`` embeddings (the layers of a sweep are
    :class:`~.feature_store.StoredLayer`: on disk, read whole where used).
    ``fm_layers`` maps those names to ``(model, layer)``.
    """

    alms: dict = field(default_factory=dict)
    fms: dict = field(default_factory=dict)
    fm_layers: dict = field(default_factory=dict)

    @classmethod
    def from_features(cls, features: Features, alm: str = "alm", fm: str = "fm") -> "FeatureSet":
        """The FeatureSet of one ALM's and one specialist's :class:`Features` (either may be None)."""
        out = cls()
        if features.zero_shot is not None:
            out.alms[alm] = ZeroShotFeatures(features.zero_shot, dict(features.ensemble))
        if features.embeddings is not None:
            out.fms[fm] = features.embeddings
            out.fm_layers[fm] = (fm, None)
        return out

    def pair(self, alm: str | None, fm: str | None) -> Features:
        """The :class:`Features` of one ALM and one specialist (either may be None)."""
        zs = self.alms[alm] if alm is not None else None
        return Features(
            embeddings=self.fms[fm] if fm is not None else None,
            zero_shot=None if zs is None else zs.single,
            ensemble={} if zs is None else dict(zs.ensemble),
        )


def _names(models) -> dict:
    """Model -> the name tables show: the string given (hub id, path, 'egemaps')."""
    out = {}
    for m in models:
        name = str(m)
        if name in out.values():
            raise ValueError(f"model {name!r} is given twice.")
        out[m] = name
    return out


def _layer_name(fm_name: str, layer, several: bool) -> str:
    return f"{fm_name} [layer {layer}]" if several else fm_name


def compute_feature_set(
    paths: Sequence[str],
    target,
    *,
    alms: Sequence = (),
    fms: Sequence = (),
    layers: Sequence | None = None,
    grid: Grid = Grid(),
    templates=DEFAULT_TEMPLATES,
    single_template=SINGLE_TEMPLATE,
    class_prompts=None,
    device="auto",
    batch_size=8,
    verbose=0,
    estimator_params=None,
    concurrent=True,
    scheduler=None,
    log: Callable[[str], None] | None = None,
) -> FeatureSet:
    """Run every ALM and every specialist once over ``paths`` (no labels are used).

    ``target``: what each ALM scores, the corpus's classes (a sequence, worded with
    ``class_prompts``) or a :class:`~.zero_shot_targets.Dimensions` (then each
    ALM's features are one score in [0, 1] per dimension).
    ``layers``: the specialist layers to evaluate (ints and/or ``"all"``, the
    mean over layers); None uses the FMEmbedder's ``layer`` (from
    ``estimator_params``, else its default). A specialist with a single
    "layer" (eGeMAPS) is evaluated once, under its own name. ``estimator_params`` go to the
    estimator(s) that take them (:func:`~sklearn_zsfuse.estimators.pipeline.route_params`). With
    ``concurrent=True`` the specialists run on a second thread while the ALMs encode.
    ``scheduler`` (a dask scheduler's address or client): every encoding pass runs
    on that cluster first, shard by shard, into ``estimator_params["cache_dir"]``
    (:func:`~sklearn_zsfuse.estimators.cluster.encode_on_cluster`); this process
    then reads the results from there.
    """
    from ..estimators.embedding import FMEmbedder
    from ..estimators.pipeline import route_params

    target = as_target(target, class_prompts)
    alms, fms = list(alms), list(fms)
    if not alms and not fms:
        raise ValueError("Nothing to evaluate: give an audio-language model (alm), a specialist (fm), or both.")
    log = log or (lambda message: None)
    alm_params, fm_params = route_params(estimator_params, what="estimator_params")
    if layers is not None:
        layers = list(layers)
        if "layer" in fm_params:
            raise ValueError("Give the specialist layer either as layer= or in estimator_params, not both.")
        if not layers:
            raise ValueError("layers is empty: give at least one layer index or 'all'.")
    common = dict(device=device, batch_size=batch_size, verbose=verbose)
    alm_names, fm_names = _names(alms), _names(fms)
    # Fit every model first: a bad model id, a missing file or a layer out of range fails
    # here, before any long run.
    embedders = {}
    for fm in fms:
        embedder = FMEmbedder(fm, **common, **fm_params).fit(paths)
        for layer in (layers or []) if embedder.n_layers_ > 1 else []:
            if layer != "all" and not (isinstance(layer, (int, np.integer)) and
                                       -embedder.n_layers_ <= layer < embedder.n_layers_):
                raise ValueError(
                    f"layer {layer!r} is out of range for {str(fm)!r}, which has {embedder.n_layers_} hidden "
                    f"states (valid: {-embedder.n_layers_}..{embedder.n_layers_ - 1} or 'all')."
                )
        embedders[fm] = embedder
    scorers = {}
    for alm in alms:
        scorer = target.scorer(alm, {**common, **alm_params})
        single = clone(scorer).set_params(templates=single_template).fit(paths)
        scorers[alm] = (scorer, single)
    configs = [(1, 1)] + [c for c in grid.amplifications if c != (1, 1)]
    if scheduler is not None:
        from ..estimators.cluster import encode_on_cluster

        # one pass per specialist and per N_a (templates and N_t change no audio embedding)
        repeats = sorted({c[0] for c in configs})
        passes = list(embedders.values()) + [clone(scorer).set_params(audio_repeats=n_a)
                                             for scorer, _ in scorers.values() for n_a in repeats]
        encode_on_cluster(passes, paths, scheduler, verbose=verbose, log=log)

    def embed_all() -> tuple[dict, dict]:
        out, which = {}, {}
        for fm, embedder in embedders.items():
            name = fm_names[fm]
            if layers is None or embedder.n_layers_ == 1:  # a single "layer" (eGeMAPS): nothing to sweep
                log(f"specialist {name}: embedding {len(paths)} clips")
                out[name] = embedder.transform(paths)
                which[name] = (str(fm), embedder.layer)
                continue
            log(f"specialist {name}: embedding {len(paths)} clips, layers {layers} from one pass")
            # every layer from one encoding, each clip's layers written to disk as they come
            store = LayerStore(len(paths), embedder.n_features_out_, layers)
            embedder._encode_into(prepare_clips(paths, embedder.sampling_rate), store.write, memory=False)
            for layer in layers:
                key = _layer_name(name, layer, len(layers) > 1)
                out[key] = store.layer(layer)  # read when the protocol uses it
                which[key] = (str(fm), layer)
        return out, which

    pending = None
    fm_out: tuple = ({}, {})
    if embedders and scorers and concurrent:
        # The branches are independent: the specialists run on a second thread while the
        # ALMs encode (on CPU, the mel front end and openSMILE are single-threaded).
        pool = ThreadPoolExecutor(max_workers=1, thread_name_prefix="zsfuse-fm")
        pending = pool.submit(embed_all)
        pool.shutdown(wait=False)
    elif embedders:
        fm_out = embed_all()
    alm_out = {}
    for alm, (scorer, single) in scorers.items():
        name = alm_names[alm]
        alm_out[name] = ZeroShotFeatures(*zero_shot_passes(scorer, single, paths, grid, templates, log,
                                                           target.describe(name)))
    if pending is not None:
        fm_out = pending.result()
    return FeatureSet(alms=alm_out, fms=fm_out[0], fm_layers=fm_out[1])
