"""Corpus loaders: paths, labels, speakers and the evaluation folds of each corpus.

Every loader reads the user's own copy on disk (nothing is downloaded) and
returns a :class:`Corpus`, whose ``cv`` works as ``cv=`` in scikit-learn::

    from sklearn.model_selection import cross_validate
    from sklearn_zsfuse.datasets import load_corpus

    corpus = load_corpus("ravdess", "/data/ravdess")
    cross_validate(pipe, corpus.paths, corpus.labels, cv=corpus.cv, scoring="balanced_accuracy")

A wrong or incomplete root raises :class:`CorpusError` saying what was expected.

Every clip path stays under the corpus root: a metadata row such as ``../../x.wav``,
an absolute path elsewhere, or a link that leads out of the root raises one
:class:`CorpusError` naming each such row or file and the root, before any audio is
opened. Pass ``allow_outside_root=True`` (every loader, and :func:`load_corpus`) to
accept them when you trust the corpus's metadata and links.
"""

from __future__ import annotations

from types import MappingProxyType

from ._corpus import AUDIO_EXTENSIONS, Corpus, CorpusError
from .crema_d import load_crema_d
from .csv_folder import load_csv
from .emodb import load_emodb
from .emovo import load_emovo
from .iemocap import load_iemocap
from .msp_podcast import load_msp_podcast
from .ravdess import load_ravdess
from .savee import load_savee
from .tess import load_tess

__all__ = [
    "AUDIO_EXTENSIONS",
    "Corpus",
    "CorpusError",
    "LOADERS",
    "load_corpus",
    "load_crema_d",
    "load_csv",
    "load_emodb",
    "load_emovo",
    "load_iemocap",
    "load_msp_podcast",
    "load_ravdess",
    "load_savee",
    "load_tess",
]

LOADERS = MappingProxyType({
    "ravdess": load_ravdess,
    "crema_d": load_crema_d,
    "iemocap": load_iemocap,
    "msp_podcast": load_msp_podcast,
    "emodb": load_emodb,
    "tess": load_tess,
    "savee": load_savee,
    "emovo": load_emovo,
    "csv": load_csv,
})
_ALIASES = MappingProxyType({"crema-d": "crema_d", "cremad": "crema_d", "msp-podcast": "msp_podcast", "msppodcast": "msp_podcast"})


def load_corpus(name: str, root, **kwargs) -> Corpus:
    """Load corpus ``name`` (one of :data:`LOADERS`) from the folder ``root``."""
    key = _ALIASES.get(str(name).lower(), str(name).lower())
    if key not in LOADERS:
        raise CorpusError(f"Unknown dataset {name!r}; choose one of {sorted(LOADERS)}.")
    return LOADERS[key](root, **kwargs)
