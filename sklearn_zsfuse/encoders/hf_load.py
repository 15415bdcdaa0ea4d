"""Loading Hugging Face models: no code from the model's files, every weight accounted for.

The one path by which the backends call ``from_pretrained`` for a model whose
weights they use (CLAP, speech models, CLSP):

- ``trust_remote_code`` is always passed: False, unless the user allowed this model
  (:mod:`.remote_code`), so neither a model's ``auto_map`` nor transformers'
  interactive "run the custom code? [y/N]" prompt can run code;
- the ``.safetensors`` files of a local directory are checked from their headers
  first (:mod:`.safetensors_check`), so a damaged file is one sentence naming it;
- what transformers only logs is an error here: weights the model needs but the
  checkpoint lacks (they would be random), weights of another shape, and weights
  inside the model's own modules that it does not use (a ``config.json`` that does
  not match its weights). Weights of modules the model does not have at all (a
  pretraining quantizer, a classification head) are ignored, as transformers does.
"""

from __future__ import annotations

import os
from pathlib import Path

from .hub import LOAD_ERRORS, ModelLoadError, load_error
from .remote_code import check_remote_code
from .safetensors_check import safetensors_file_problem

__all__ = ["load_model", "load_part"]


def _check_files(source, model, parameter: str) -> None:
    directory = Path(os.fspath(source)).expanduser()
    if not directory.is_dir():
        return  # a hub id: the hub's files are checked by their hashes when downloaded
    for path in sorted(directory.glob("*.safetensors")):
        problem = safetensors_file_problem(path)
        if problem is not None:
            raise ModelLoadError(
                f"Cannot load {parameter}={os.fspath(model)!r}: {str(path)!r} is damaged: {problem}. "
                "Copy or download the model again."
            )


def _own_module(model, key: str) -> bool:
    """Whether checkpoint key ``key`` lies inside a module or parameter ``model`` has."""
    top = key.split(".", 1)[0]
    return top in dict(model.named_children()) or top in dict(model.named_parameters(recurse=False)) or top in dict(
        model.named_buffers(recurse=False)
    )


def _listed(keys) -> str:
    keys = sorted(keys)
    more = f" and {len(keys) - 8} more" if len(keys) > 8 else ""
    return ", ".join(keys[:8]) + more


def _check_weights(loaded, info: dict, model, parameter: str) -> None:
    missing = set(info.get("missing_keys") or ())
    mismatched = [k[0] if isinstance(k, (tuple, list)) else k for k in info.get("mismatched_keys") or ()]
    unused = {k for k in info.get("unexpected_keys") or () if _own_module(loaded, k)}
    errors = list(info.get("error_msgs") or ())
    problems = []
    if missing:
        problems.append(f"{len(missing)} weight(s) the model needs are not in the checkpoint (they would be "
                        f"random): {_listed(missing)}")
    if mismatched:
        problems.append(f"{len(mismatched)} weight(s) have another shape than config.json says: {_listed(mismatched)}")
    if unused:
        problems.append(f"{len(unused)} weight(s) of the checkpoint fit nowhere in the model config.json "
                        f"describes: {_listed(unused)}")
    if errors:
        problems.append("; ".join(str(e).splitlines()[0] for e in errors))
    if problems:
        raise ModelLoadError(
            f"Cannot load {parameter}={os.fspath(model)!r}: its config.json and weights do not match: "
            + "; ".join(problems)
            + ". Check that both come from the same model (copy or download it again)."
        )


def _remote_code(source, revision, remote_code: bool, model, parameter: str) -> bool:
    if remote_code:
        check_remote_code(source, revision, model=model, parameter=parameter)
    return remote_code


def load_model(cls, source, *, model=None, parameter: str = "model", revision=None, remote_code: bool = False,
               hint: str = "", **kwargs):
    """``cls.from_pretrained(source, ...)``: complete weights, no unallowed code, one clear error.

    ``remote_code=True`` (models whose code ships with their weights) still needs the
    user's own permission for ``source`` (:func:`.remote_code.allow_remote_code`).
    """
    from safetensors import SafetensorError

    model = source if model is None else model
    trust = _remote_code(source, revision, remote_code, model, parameter)
    _check_files(source, model, parameter)
    try:
        loaded, info = cls.from_pretrained(
            os.fspath(source), revision=revision, trust_remote_code=trust, weights_only=True,
            # mismatched shapes are reported in the loading info (and refused below), named
            output_loading_info=True, ignore_mismatched_sizes=True, **kwargs,
        )
    except ModelLoadError:
        raise
    except LOAD_ERRORS as exc:
        raise load_error(model, parameter, exc, hint=hint) from exc
    except (RuntimeError, SafetensorError) as exc:  # size mismatches, what the header check cannot see
        raise ModelLoadError(
            f"Cannot load {parameter}={os.fspath(model)!r}: its files could not be read as a model "
            f"({type(exc).__name__}: {str(exc).splitlines()[0] if str(exc) else 'no details'}). {hint}".rstrip()
        ) from exc
    _check_weights(loaded, info, model, parameter)
    return loaded


def load_part(cls, source, *, model=None, parameter: str = "model", revision=None, what: str = "processor",
              remote_code: bool = False, hint: str = "", **kwargs):
    """A tokenizer, processor or feature extractor from ``source``, never running its code unless allowed."""
    model = source if model is None else model
    trust = _remote_code(source, revision, remote_code, model, parameter)
    try:
        return cls.from_pretrained(os.fspath(source), revision=revision, trust_remote_code=trust, **kwargs)
    except LOAD_ERRORS as exc:
        raise load_error(model, parameter, exc, what=what if what != "processor" else "", hint=hint) from exc
