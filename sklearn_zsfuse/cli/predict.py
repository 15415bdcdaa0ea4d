"""``zsfuse predict``: labels and class probabilities of audio files with a saved model."""

from __future__ import annotations

import csv
import json
import sys
from pathlib import Path

import numpy as np

from .parsing import one_line


def _read_model(path: Path):
    """A fitted estimator from a joblib file, or one line saying why the file is not one."""
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # a csv, an audio file, a truncated or foreign pickle: all "not a model"
        raise ValueError(
            f"{str(path)!r} cannot be read as a model saved with joblib (e.g. by zsfuse evaluate "
            f"--save-model): {type(exc).__name__}: {one_line(exc) or 'no details'}."
        ) from exc



def _check_predict(args, parser) -> None:
    """Nothing to check before _predict's own first line (the model file); clips are checked by the model."""


def _override(model, name: str, value) -> None:
    """Set ``name`` on every estimator of ``model`` that has it (``dtype``, ``fm__dtype``, ...)."""
    if value is not None:
        model.set_params(**{k: value for k in model.get_params() if k.split("__")[-1] == name})


def _predict(args, parser) -> int:
    from ..audio import AudioInputError

    if not args.model.is_file():
        parser.error(f"model file {str(args.model)!r} not found.")
    if args.model.suffix.lower() == ".skops":
        model, problem = _read_skops(args.model)
        if problem:
            print(f"zsfuse predict: {problem}", file=sys.stderr)
            return 2
    else:
        model = _read_model(args.model)  # a pickle: runs its code (said in --help and docs/cli.md)
    if not callable(getattr(type(model), "predict", None)) or not hasattr(model, "get_params"):
        print(
            f"zsfuse predict: {str(args.model)!r} holds a {type(model).__name__}, not a fitted estimator "
            "with predict().",
            file=sys.stderr,
        )
        return 2
    _override(model, "dtype", args.dtype)
    _override(model, "n_workers", args.workers)
    paths = [str(p) for p in args.files]
    try:
        if hasattr(model, "predict_proba"):
            proba = np.asarray(model.predict_proba(paths))
            classes = [str(c) for c in model.classes_]
            labels = [classes[i] for i in np.argmax(proba, axis=1)]
        else:
            labels, proba, classes = [str(v) for v in model.predict(paths)], None, []
    except AudioInputError as exc:
        print(f"zsfuse predict: {one_line(exc)}", file=sys.stderr)
        return 2
    if args.format == "json":
        rows = [
            {"path": p, "label": lab, **({"probabilities": dict(zip(classes, map(float, pr)))} if proba is not None else {})}
            for p, lab, pr in zip(paths, labels, proba if proba is not None else [None] * len(paths))
        ]
        json.dump(rows, sys.stdout, indent=2)
        print()
    else:
        writer = csv.writer(sys.stdout, lineterminator="\n")
        writer.writerow(["path", "label"] + [f"p_{c}" for c in classes])
        for i, (p, lab) in enumerate(zip(paths, labels)):
            writer.writerow([p, lab] + ([f"{v:.6f}" for v in proba[i]] if proba is not None else []))
    return 0


def _read_skops(path: Path):
    """``(estimator, None)``, or ``(None, one-line reason)``: bounded, untrusted types named, never built."""
    from ..encoders import ModelLoadError

    try:
        from ..estimators.skops_files import load_skops

        return load_skops(path), None
    except ImportError:
        return None, f"reading {str(path)!r} needs skops: pip install 'sklearn-zsfuse[deploy]'."
    except ModelLoadError as exc:
        return None, one_line(exc)
