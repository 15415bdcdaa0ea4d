"""CLAP checkpoints in Hugging Face format (``ClapModel``): LAION-CLAP and others."""

from __future__ import annotations

import os
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from .base import model_fingerprint, unwrap_features
from .clap_mel import ClapLogMel
from .hf_load import load_model, load_part
from .hub import ModelLoadError, check_hf_checkpoint
from .specs import ModelSpec

# Files of the msclap (.pth) and laion_clap (.pt) backends, and what training scripts write:
# a model string with one of these suffixes is meant as a file, not a hub id.
CHECKPOINT_SUFFIXES = (".pt", ".pth", ".ckpt", ".bin", ".safetensors")

__all__ = ["HFClap", "HFClapEncoder"]


@dataclass(frozen=True)
class HFClap(ModelSpec):
    """A ``transformers.ClapModel`` checkpoint: hub id (e.g. ``laion/clap-htsat-unfused``) or directory."""

    model: str

    def load(self, *, device, dtype, revision=None):
        return HFClapEncoder(self.model, revision=revision, device=device, dtype=dtype)

    def precheck(self, parameter: str) -> None:
        file = Path(os.fspath(self.model)).expanduser()
        if file.suffix in CHECKPOINT_SUFFIXES and not file.exists():
            raise ModelLoadError(
                f"Cannot load {parameter}={os.fspath(self.model)!r}: the checkpoint file "
                f"{os.fspath(self.model)!r} does not exist."
            )
        check_hf_checkpoint(self.model, parameter)


class HFClapEncoder:
    """Audio and text towers of a ``transformers.ClapModel``, with L2-normalised outputs.

    Audio must arrive at :attr:`sampling_rate`, already cut or padded to exactly
    :attr:`window` samples: the feature extractor's own random truncation and the
    fused models' batch-dependent ``is_longer`` flag are never reached.
    """

    def __init__(self, model: str, *, revision=None, device="cpu", dtype=None):
        import torch
        from transformers import ClapModel, ClapProcessor

        # safetensors when present; a pickled .bin only through torch's weights_only loader; no
        # code from the model's files; every weight used (see .hf_load)
        self.model = load_model(ClapModel, model, revision=revision, dtype=dtype)
        processor = load_part(ClapProcessor, model, revision=revision)
        self.model.to(device).eval()
        self.device = device
        self.dtype = dtype or torch.float32
        # On a CPU the spectrograms are best made by the input workers (see .abilities).
        self.features_on_host = torch.device(device).type == "cpu"
        self.tokenizer = processor.tokenizer
        self.feature_extractor = processor.feature_extractor
        self.sampling_rate = int(self.feature_extractor.sampling_rate)
        self.window = int(self.feature_extractor.nb_max_samples)
        self.fusion = bool(self.model.config.audio_config.enable_fusion)
        self.log_mel = ClapLogMel(self.feature_extractor, fused=self.fusion, device=device)
        self.logit_scale = float(self.model.logit_scale_a.detach().float().exp().cpu())
        self.fingerprint = f"hf-clap|{model_fingerprint(model, revision, self.model.config)}|{self.dtype}"
        self.audio_batches = 0
        self.audio_clips = 0
        self.texts = 0

    def save(self, directory) -> None:
        """Write the model (safetensors) and its processor, loadable by ``from_pretrained``."""
        from transformers import ClapProcessor

        self.model.save_pretrained(directory)
        ClapProcessor(feature_extractor=self.feature_extractor, tokenizer=self.tokenizer).save_pretrained(directory)

    def audio_features(self, waves: list[np.ndarray]):
        """The model's input for ``waves``: log-mel spectrograms, a float32 tensor on the model's device.

        Computed in torch, batched, where the model runs (``clap_mel.ClapLogMel``); it
        matches ``ClapFeatureExtractor`` for clips of exactly :attr:`window` samples,
        where the extractor pads nothing and crops nothing (no random draw).
        """
        for w in waves:
            if w.shape[0] != self.window:
                raise ValueError(f"expected {self.window} samples per clip, got {w.shape[0]}")
        batch = waves[0][None] if len(waves) == 1 else np.stack(waves)  # one clip (the input workers'): a view
        return self.log_mel(batch.astype(np.float32, copy=False))

    def encode_features(self, features) -> np.ndarray:
        """Normalised audio embeddings of :meth:`audio_features` output."""
        import torch

        features = torch.as_tensor(features)
        is_longer = torch.zeros((features.shape[0], 1), dtype=torch.bool, device=self.device)
        with torch.inference_mode():
            out = self.model.get_audio_features(
                input_features=features.to(self.device, self.dtype), is_longer=is_longer
            )
            emb = torch.nn.functional.normalize(unwrap_features(out).float(), dim=-1)
        self.audio_batches += 1
        self.audio_clips += int(features.shape[0])
        return emb.cpu().numpy()

    def encode_audio(self, waves: list[np.ndarray]) -> np.ndarray:
        return self.encode_features(self.audio_features(waves))

    # The text tower's position table holds 77 tokens (CLAP's RoBERTa); longer prompts are cut.
    max_text_tokens = 77

    def count_tokens(self, texts: list[str]) -> list[int]:
        """Tokens of each text before truncation (see ``TextTokenLimit``)."""
        ids = self.tokenizer(list(texts), truncation=False, verbose=False)["input_ids"]
        return [len(i) for i in ids]

    def encode_text(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(
            list(texts), padding=True, truncation=True, max_length=self.max_text_tokens, return_tensors="pt"
        )
        with torch.inference_mode():
            out = self.model.get_text_features(
                input_ids=tokens["input_ids"].to(self.device),
                attention_mask=tokens["attention_mask"].to(self.device),
            )
            emb = torch.nn.functional.normalize(unwrap_features(out).float(), dim=-1)
        self.texts += len(texts)
        return emb.cpu().numpy()
