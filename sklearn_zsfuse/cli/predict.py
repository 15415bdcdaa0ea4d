"""``zsfuse predict``: labels and class probabilities of audio files with a saved model.

``check(args)`` reads the model file (a .skops file without running code from
it, a pickle by running it) and makes sure it holds an estimator; ``run(plan)``
predicts and prints.
"""

from __future__ import annotations

import csv
import json
import os
import sys
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .common import DTYPES, add_common_options
from .errors import UsageError, UserInputError
from .parsing import device, one_line, positive_int


def add_parser(sub):
    pr = sub.add_parser(
        "predict",
        help="label and class probabilities of audio files with a saved model",
        description="Predict with a fitted estimator saved as .skops (skops.io.dump) or with joblib/pickle. "
        "A .skops file is read without running code from it, and only if every type it holds is one "
        "of scikit-learn's, numpy's or this package's (SKOPS_TRUSTED_TYPES). A .joblib/.pkl file is a "
        "pickle: loading it RUNS WHATEVER CODE IT HOLDS. Only load pickles you made yourself; use "
        ".skops for files from anyone else.",
    )
    pr.add_argument("model", type=Path,
                    help="MODEL.skops (safe to load), or MODEL.joblib / .pkl (runs code: only files you made), "
                    "e.g. from evaluate --save-model")
    pr.add_argument("files", nargs="+", type=Path, help="audio files")
    pr.add_argument("--format", choices=["csv", "json"], default="csv", help="output format on stdout (default: csv)")
    pr.add_argument("--dtype", choices=DTYPES, default=None, help="run the saved model's encoders at this "
                    "precision instead of the one it was fitted with (see evaluate --dtype)")
    pr.add_argument("--workers", type=positive_int, default=None,
                    help="input threads decoding and resampling audio (default: the model's setting)")
    pr.add_argument("--device", type=device, default=None,
                    help="run the saved model's encoders on this device (auto, cpu, cuda, cuda:1, ...; default: as saved)")
    pr.add_argument("--model-dir", action="append", default=[], metavar="NAME=DIR",
                    help="load the model the file names NAME (as saved, or its last path part, e.g. tiny-clap) from "
                    "DIR instead: for a model file moved to another machine or a model moved to another folder")
    add_common_options(pr)
    return pr


@dataclass(frozen=True)
class Plan:
    """The model read from its file, the clips to predict, and how to print the predictions."""

    model: object
    paths: list
    format: str
    dtype: str | None  # the model's encoders at this precision (None: as fitted)
    workers: int | None  # their input threads (None: as fitted)
    device: str | None = None  # their device (None: as fitted)


def check(args) -> Plan:
    """The model file: found, readable, holding an estimator that predicts, whose models can load here."""
    if not args.model.is_file():
        raise UsageError(f"model file {str(args.model)!r} not found.")
    if args.model.suffix.lower() == ".skops":
        model = read_skops(args.model)
    else:
        model = read_pickle(args.model)  # runs its code (said in --help and docs/cli.md)
    if not callable(getattr(type(model), "predict", None)) or not hasattr(model, "get_params"):
        raise UserInputError(
            f"{str(args.model)!r} holds a {type(model).__name__}, not a fitted estimator with predict()."
        )
    _repoint(model, args.model_dir)
    _check_models(model, args.model)
    return Plan(model=model, paths=[str(p) for p in args.files], format=args.format, dtype=args.dtype,
                workers=args.workers, device=args.device)


def _repoint(model, items) -> None:
    """``--model-dir NAME=DIR``: every audio estimator whose model is NAME (or ends in it) loads DIR."""
    from ..estimators.persistence import audio_estimators

    named = {prefix: est for prefix, est in audio_estimators(model).items() if isinstance(est.model, (str, os.PathLike))}
    for item in items:
        name, sep, directory = item.partition("=")
        if not sep or not name.strip() or not directory.strip():
            raise UsageError(f"--model-dir {item!r}: expected NAME=DIR, e.g. tiny-clap=/models/tiny-clap.")
        name = name.strip()
        hits = [est for est in named.values() if name in (os.fspath(est.model), Path(os.fspath(est.model)).name)]
        if not hits:
            saved = sorted({os.fspath(est.model) for est in named.values()})
            raise UsageError(f"--model-dir {name}: the model file names no such model; it names {saved}.")
        for est in hits:
            est.model = os.path.abspath(os.path.expanduser(directory.strip()))


def _check_models(model, path: Path) -> None:
    """Every model the file names can load here, or one line saying which name of the file cannot."""
    from ..encoders import ModelLoadError
    from ..encoders.checks import check_alm, check_fm
    from ..estimators.persistence import audio_estimators

    check = {"alm": check_alm, "fm": check_fm}
    for prefix, est in audio_estimators(model).items():
        if not isinstance(est.model, (str, os.PathLike)) or est.__dict__.get("_embedded") is not None:
            continue  # a spec object, or weights that travelled inside the file
        try:
            check[est._kind](est.model, f"{prefix}model")
        except ModelLoadError as exc:
            name = Path(os.fspath(est.model)).name or os.fspath(est.model)
            raise UserInputError(
                f"{str(path)!r}: {one_line(exc)} (the name was saved in the file; if the model is elsewhere here, "
                f"point to it with --model-dir {name}=DIR)"
            ) from None


def run(plan: Plan) -> int:
    model, paths = plan.model, plan.paths
    _override(model, "dtype", plan.dtype)
    _override(model, "n_workers", plan.workers)
    _override(model, "device", plan.device)
    if hasattr(model, "predict_proba"):
        proba = np.asarray(model.predict_proba(paths))
        classes = [str(c) for c in model.classes_]
        labels = [classes[i] for i in np.argmax(proba, axis=1)]
    else:
        labels, proba, classes = [str(v) for v in model.predict(paths)], None, []
    if plan.format == "json":
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


def _override(model, name: str, value) -> None:
    """Set ``name`` on every estimator of ``model`` that has it (``dtype``, ``fm__dtype``, ...)."""
    if value is not None:
        model.set_params(**{k: value for k in model.get_params() if k.split("__")[-1] == name})


def read_pickle(path: Path):
    """A fitted estimator from a joblib file, or one line saying why the file is not one."""
    import joblib

    try:
        return joblib.load(path)
    except Exception as exc:  # a csv, an audio file, a truncated or foreign pickle: all "not a model"
        raise UserInputError(
            f"{str(path)!r} cannot be read as a model saved with joblib (e.g. by zsfuse evaluate "
            f"--save-model): {type(exc).__name__}: {one_line(exc) or 'no details'}."
        ) from exc


def read_skops(path: Path):
    """The estimator in a .skops file: bounded, untrusted types named, never built (``load_skops``)."""
    from ..encoders import ModelLoadError

    try:
        from ..estimators.skops_files import load_skops
    except ImportError:
        raise UserInputError(f"reading {str(path)!r} needs skops: pip install 'sklearn-zsfuse[deploy]'.") from None
    try:
        return load_skops(path)
    except ImportError:
        raise UserInputError(f"reading {str(path)!r} needs skops: pip install 'sklearn-zsfuse[deploy]'.") from None
    except ModelLoadError as exc:
        raise UserInputError(one_line(exc)) from exc
