"""Model specs: what a model name resolves to, and what can be checked about it before loading.

A spec loads its model (``load(*, device, dtype, revision)``) and answers two
questions without loading it: :meth:`ModelSpec.precheck` (does the model surely
fail to load? the file system and the local Hugging Face cache only, never the
network) and :meth:`ModelSpec.layer_count` (how many hidden states a speech model
returns, where that is known up front). Every built-in spec is a frozen dataclass
subclassing :class:`ModelSpec`; a user's own spec object (anything with ``load``)
is wrapped in :class:`UserSpec`, so callers ask every spec the same questions.
"""

from __future__ import annotations

__all__ = ["ModelSpec", "UserSpec", "as_spec"]


class ModelSpec:
    """The base of every spec: loading, and the checks made before any clip is read."""

    def load(self, *, device, dtype, revision=None):  # pragma: no cover - every spec defines it
        raise NotImplementedError

    def precheck(self, parameter: str) -> None:
        """Raise :class:`~.hub.ModelLoadError` (or ``MissingExtraError``) if loading surely fails.

        ``parameter`` names where the model came from (``"--alm"``, ``"model"``) in the
        message. What cannot be seen without loading is left to the load itself.
        """

    def layer_count(self) -> int | None:
        """Hidden states per clip (speech models), where known without loading; else None."""
        return None


class UserSpec(ModelSpec):
    """A user's spec object (any object with a ``load`` method), asked what every spec is asked.

    Equal and hashing as the wrapped object, so clones of an estimator share one
    loaded model. Nothing can be checked about it before it loads.
    """

    __slots__ = ("spec",)

    def __init__(self, spec):
        try:
            hash(spec)
        except TypeError:
            raise TypeError(
                f"model={spec!r} must be hashable (a frozen dataclass, say), so that clones of an "
                "estimator share one loaded model."
            ) from None
        self.spec = spec

    def load(self, *, device, dtype, revision=None):
        return self.spec.load(device=device, dtype=dtype, revision=revision)

    def __eq__(self, other):
        return isinstance(other, UserSpec) and self.spec == other.spec

    def __hash__(self):
        return hash(self.spec)

    def __repr__(self):
        return repr(self.spec)


def as_spec(obj) -> ModelSpec:
    """``obj`` itself when it is a :class:`ModelSpec`, else the user's spec wrapped."""
    return obj if isinstance(obj, ModelSpec) else UserSpec(obj)
