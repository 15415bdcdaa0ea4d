"""Zero-shot scores that carry their classes to the fusion, however the pipeline is built.

:meth:`ALMZeroShotScorer.transform <sklearn_zsfuse.ALMZeroShotScorer.transform>`
returns a :class:`ZeroShotColumns`: a plain float array that also records which
class each of its columns scores. numpy's concatenation along columns (what a
``FeatureUnion`` does with numpy output) keeps that record, shifted to where the
block lands, so :class:`~sklearn_zsfuse.LateFusionClassifier` reads the scorer's
classes from its input instead of guessing them from ``y``, which misreads the
columns when the training clips lack one of the scorer's classes. A ``FeatureUnion``
with pandas output names the columns ``zs__<class>`` instead; the fusion reads those.

The record survives only operations that keep every column where it was: the
concatenation, selecting rows (``X[rows]``, what cross-validation does), a copy, a
change of dtype, and elementwise arithmetic with a number (``FeatureUnion``'s
``transformer_weights``). Anything else (a column slice, arithmetic with another
array, a reduction, ``np.asarray``) returns an array that claims nothing, and the
fusion falls back to its parameters.
"""

from __future__ import annotations

import numpy as np

__all__ = ["ZeroShotColumns", "zero_shot_blocks"]


class ZeroShotColumns(np.ndarray):
    """A 2-D array whose column ranges ``zero_shot_blocks`` are zero-shot scores of known classes.

    ``zero_shot_blocks`` is a tuple of ``(start, stop, classes)``: columns
    ``start:stop`` score ``classes`` (a tuple, one label per column, in order). It
    is empty on arrays derived in ways that may move columns.
    """

    zero_shot_blocks: tuple = ()

    def __new__(cls, scores, classes):
        obj = np.asarray(scores).view(cls)
        classes = tuple(np.asarray(classes).tolist())
        if obj.ndim != 2 or obj.shape[1] != len(classes):
            raise ValueError(f"scores of shape {obj.shape} do not have one column per class of {list(classes)}.")
        obj.zero_shot_blocks = ((0, len(classes), classes),)
        return obj

    def __array_finalize__(self, obj):
        self.zero_shot_blocks = ()  # a view or a result may hold other columns: it knows none

    def _keeping(self, out):
        if isinstance(out, ZeroShotColumns) and out.shape[-1:] == self.shape[-1:] and out.ndim == self.ndim == 2:
            out.zero_shot_blocks = self.zero_shot_blocks
        return out

    def __getitem__(self, key):
        out = super().__getitem__(key)
        return self._keeping(out) if _rows_only(key) else out

    def copy(self, order="C"):
        return self._keeping(super().copy(order))

    def astype(self, *args, **kwargs):
        return self._keeping(super().astype(*args, **kwargs))

    def __deepcopy__(self, memo):
        return self.copy()

    def __array_ufunc__(self, ufunc, method, *inputs, out=None, **kwargs):
        plain = [_plain(x) for x in inputs]
        if out is not None:
            kwargs["out"] = tuple(_plain(o) for o in out)
        result = getattr(ufunc, method)(*plain, **kwargs)
        # Elementwise with numbers only (scores * weight, exp(scores)) keeps every column's class.
        elementwise = method == "__call__" and ufunc.nout == 1 and all(x is self or np.ndim(x) == 0 for x in inputs)
        if out is not None:  # in place: the caller's own arrays
            for o in out:
                if isinstance(o, ZeroShotColumns) and not (elementwise and o is self):
                    o.zero_shot_blocks = ()
            return out[0] if len(out) == 1 else out
        if elementwise and isinstance(result, np.ndarray):
            return self._keeping(result.view(ZeroShotColumns))
        return result

    def __array_function__(self, func, types, args, kwargs):
        if func is np.concatenate:
            return _concatenate(*args, **kwargs)
        return super().__array_function__(func, types, args, kwargs)

    def __reduce__(self):
        constructor, args, state = super().__reduce__()
        return constructor, args, (state, self.zero_shot_blocks)

    def __setstate__(self, state):
        base, blocks = state
        super().__setstate__(base)
        self.zero_shot_blocks = blocks


def zero_shot_blocks(X) -> tuple:
    """``X.zero_shot_blocks`` for a :class:`ZeroShotColumns`, ``()`` for any other input."""
    return X.zero_shot_blocks if isinstance(X, ZeroShotColumns) else ()


def _plain(x):
    return x.view(np.ndarray) if isinstance(x, ZeroShotColumns) else x


def _rows_only(key) -> bool:
    """Whether ``X[key]`` keeps every column of a 2-D ``X`` in place (``X[rows]``, ``X[rows, :]``, ``X[rows, ...]``)."""
    if isinstance(key, tuple):
        if len(key) == 1:
            return _rows_only(key[0])
        last = key[1] if len(key) == 2 else None
        return last is Ellipsis or (isinstance(last, slice) and last == slice(None))
    return key is not None


def _concatenate(arrays, axis=0, out=None, **kwargs):
    arrays = list(arrays)
    result = np.concatenate([_plain(a) for a in arrays], axis=axis, out=_plain(out), **kwargs)
    if out is not None:
        if isinstance(out, ZeroShotColumns):
            out.zero_shot_blocks = ()
        return out
    if not all(np.ndim(a) == 2 for a in arrays) or axis not in (0, 1, -1, -2):
        return result
    if axis in (1, -1):  # side by side: each block moves right by the columns before it
        blocks, offset = [], 0
        for a in arrays:
            blocks += [(start + offset, stop + offset, classes) for start, stop, classes in zero_shot_blocks(a)]
            offset += np.shape(a)[1]
    else:  # stacked rows: the columns keep their classes only if every part says the same
        first = zero_shot_blocks(arrays[0])
        blocks = list(first) if all(zero_shot_blocks(a) == first for a in arrays) else []
    if not blocks:
        return result
    result = result.view(ZeroShotColumns)
    result.zero_shot_blocks = tuple(blocks)
    return result
