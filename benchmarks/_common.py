"""What the benchmarks share: full-size random-weight models, RAVDESS clips, timing, the machine.

The models have the real architectures (sizes written out below) with random
weights: no checkpoint can be downloaded here, and speed does not depend on the
weights. They are built once and saved under ``--models-dir`` so every script
goes through the same ``from_pretrained(path)`` code as a real checkpoint.
"""

from __future__ import annotations

import argparse
import os
import platform
import shutil
import sys
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
if str(REPO) not in sys.path:  # benchmark this checkout, not another installed copy
    sys.path.insert(0, str(REPO))

DEFAULT_DATA = REPO.parent / "shared" / "data" / "ravdess"
DEFAULT_MODELS = Path(os.environ.get("ZSFUSE_BENCH_MODELS", Path.home() / ".cache" / "sklearn-zsfuse-bench"))

# RAVDESS labels and the words the prompts use for them.
EMOTION_WORDS = ["neutral", "calm", "happy", "sad", "angry", "fearful", "disgusted", "surprised"]
BENCH_TEMPLATES = ("this person is feeling {}.", "a {} voice.", "the speaker sounds {}.")

# WavLM-Large (microsoft/wavlm-large config.json, the sizes that set the cost).
WAVLM_LARGE = dict(
    hidden_size=1024,
    num_hidden_layers=24,
    num_attention_heads=16,
    intermediate_size=4096,
    feat_extract_norm="layer",
    do_stable_layer_norm=True,
    conv_bias=True,
)
# WavLM-Base+ (microsoft/wavlm-base-plus): a cheaper stand-in for CPU runs.
WAVLM_BASE = dict(
    hidden_size=768,
    num_hidden_layers=12,
    num_attention_heads=12,
    intermediate_size=3072,
    feat_extract_norm="group",
    do_stable_layer_norm=False,
    conv_bias=False,
)


def base_parser(description: str) -> argparse.ArgumentParser:
    parser = argparse.ArgumentParser(description=description)
    parser.add_argument("--data", type=Path, default=DEFAULT_DATA, help="RAVDESS directory (with metadata.csv)")
    parser.add_argument(
        "--models-dir", type=Path, default=DEFAULT_MODELS, help="where the random-weight models are saved once"
    )
    parser.add_argument(
        "--threads",
        type=int,
        default=1,
        help="torch intra-op threads (0: torch's default). 1 by default: on a small shared machine "
        "the second thread mostly waits for a busy core, and decoding prefetch uses the other one",
    )
    return parser


def _build_once(directory: Path, build) -> str:
    """Build into a temporary sibling and rename, so an interrupted build is never reused."""
    done = directory / ".complete"
    if done.exists():
        return str(directory)
    tmp = directory.with_name(directory.name + f".tmp{os.getpid()}")
    shutil.rmtree(tmp, ignore_errors=True)
    tmp.mkdir(parents=True)
    t0 = time.perf_counter()
    print(f"building {directory.name} (once) ...", flush=True)
    build(tmp)
    (tmp / ".complete").touch()
    shutil.rmtree(directory, ignore_errors=True)
    os.replace(tmp, directory)
    print(f"  built in {time.perf_counter() - t0:.0f} s: {directory}", flush=True)
    return str(directory)


def clap_htsat_unfused(models_dir: Path) -> str:
    """ClapConfig() defaults: the laion/clap-htsat-unfused architecture (HTSAT + RoBERTa-base)."""

    def build(path: Path):
        import torch
        from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor

        from sklearn_zsfuse.testing import TOKENIZER_CORPUS, _train_tokenizer

        corpus = list(TOKENIZER_CORPUS) + [t.format(w) for t in BENCH_TEMPLATES for w in EMOTION_WORDS]
        tokenizer, raw = _train_tokenizer(path, vocab_size=1000, corpus=corpus)
        torch.manual_seed(0)
        ClapModel(ClapConfig()).eval().save_pretrained(path)
        # laion/clap-htsat-unfused's preprocessor: 48 kHz, 10 s, random truncation, repeat-pad.
        fe = ClapFeatureExtractor(truncation="rand_trunc", padding="repeatpad")
        ClapProcessor(feature_extractor=fe, tokenizer=tokenizer).save_pretrained(path)
        shutil.rmtree(raw)

    return _build_once(models_dir / "clap-htsat-unfused-random", build)


def wavlm(models_dir: Path, size: str = "large") -> str:
    sizes = {"large": WAVLM_LARGE, "base": WAVLM_BASE}

    def build(path: Path):
        import torch
        from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

        torch.manual_seed(0)
        WavLMModel(WavLMConfig(**sizes[size])).eval().save_pretrained(path)
        Wav2Vec2FeatureExtractor(
            feature_size=1,
            sampling_rate=16000,
            padding_value=0.0,
            do_normalize=True,
            return_attention_mask=size == "large",  # as the real checkpoints' extractors
        ).save_pretrained(path)

    return _build_once(models_dir / f"wavlm-{size}-random", build)


def ravdess(data: Path, n: int, *, actors: int | None = None):
    """``n`` clips spread over emotions and actors (deterministic): paths, labels, actors."""
    import pandas as pd

    meta_path = Path(data) / "metadata.csv"
    if not meta_path.is_file():
        sys.exit(f"RAVDESS not found: {meta_path} is missing (pass --data DIR).")
    meta = pd.read_csv(meta_path, dtype={"actor": str}).sort_values("path")
    if actors is not None:
        meta = meta[meta.actor.isin(sorted(meta.actor.unique())[:actors])]
    # Round-robin over (actor, emotion) groups so a small n still covers both; with a
    # fixed set of actors, cycle through them first so every fold has clips.
    within = ["emotion", "actor"] if actors is not None else ["actor", "emotion"]
    meta = meta.assign(rank=meta.groupby(["actor", "emotion"]).cumcount()).sort_values(["rank", *within])
    meta = meta.head(n)
    if len(meta) < n:
        sys.exit(f"only {len(meta)} clips available, {n} asked for")
    return [str(Path(data) / p) for p in meta.path], meta.emotion.to_numpy(), meta.actor.to_numpy()


class Timer:
    def __enter__(self):
        self.t0 = time.perf_counter()
        return self

    def __exit__(self, *exc):
        self.seconds = time.perf_counter() - self.t0


def machine() -> str:
    import torch

    load = os.getloadavg()[0] if hasattr(os, "getloadavg") else float("nan")
    cpu = platform.processor() or platform.machine()
    try:
        for line in Path("/proc/cpuinfo").read_text().splitlines():
            if line.startswith("model name"):
                cpu = line.split(":", 1)[1].strip()
                break
    except OSError:
        pass
    gpu = torch.cuda.get_device_name(0) if torch.cuda.is_available() else "no GPU"
    return (
        f"{cpu}, {os.cpu_count()} CPUs, torch {torch.__version__} ({torch.get_num_threads()} threads), "
        f"{gpu}, load average {load:.1f} at start"
    )


def header(title: str, args=None) -> None:
    if args is not None and getattr(args, "threads", 0):
        import torch

        torch.set_num_threads(args.threads)  # this script's own process
    try:
        from transformers.utils import logging as hf_logging

        hf_logging.disable_progress_bar()  # "Loading weights" bars would drown the figures
    except ImportError:
        pass
    print(f"== {title}")
    print(f"machine: {machine()}")
    print(f"command: python {' '.join(sys.argv)}", flush=True)
