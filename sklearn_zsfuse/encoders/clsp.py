"""CLSP (contrastive language-speech pretraining, ``yfyeung/CLSP``) and models with its interface.

CLSP ships its code with its weights: ``AutoModel.from_pretrained(...,
trust_remote_code=True)`` builds it, and its ``forward`` takes 16 kHz waveforms
with their lengths, or raw texts::

    audio_features, _, _ = model(audio=audio, audio_lens=audio_lens)  # (B, T) float, (B,)
    _, text_features, _ = model(text=["A speaker in a happy tone."])

Any model with that call signature works through :class:`CLSP`. Remote code
runs Python from the model repository, so it loads only where the user allowed
that repository (``allow_remote_code`` or ``ZSFUSE_TRUST_REMOTE_CODE``, see
:mod:`.remote_code`): a model name in a loaded file is not enough.
"""

from __future__ import annotations

from dataclasses import dataclass

import numpy as np

from .base import model_fingerprint
from .hf_load import load_model
from .specs import ModelSpec

__all__ = ["CLSP", "CLSPEncoder"]


@dataclass(frozen=True)
class CLSP(ModelSpec):
    """A CLSP-style model: hub id (default ``yfyeung/CLSP``) or local directory.

    Parameters
    ----------
    model : str
        Hub id or directory holding ``config.json`` (with ``auto_map``), the
        modeling code and the weights.

    The model takes clips of any length (``window=None``): amplified clips are
    fed whole, in batches padded with their lengths passed as ``audio_lens``.
    """

    model: str = "yfyeung/CLSP"

    def load(self, *, device, dtype, revision=None):
        return CLSPEncoder(self.model, revision=revision, device=device, dtype=dtype)


class CLSPEncoder:
    """Audio and text embeddings of a CLSP-style model, L2-normalised."""

    window = None  # any length: the model masks padding with audio_lens

    def __init__(self, model: str, *, revision=None, device="cpu", dtype=None):
        import torch
        from transformers import AutoModel

        hint = (
            "Download it once online, or pass CLSP('/local/dir') with the directory that "
            "holds its config.json, code and weights."
        )
        # Runs the repository's code: only where the user allowed it (.remote_code), never by name alone.
        self.model = load_model(AutoModel, model, revision=revision, remote_code=True, hint=hint)
        self.dtype = dtype or torch.float32
        self.model.to(device=device, dtype=self.dtype).eval()
        self.device = device
        config = self.model.config
        self.sampling_rate = int(getattr(config, "sampling_rate", 16000))
        scale = getattr(self.model, "logit_scale", None)
        # CLIP convention: the parameter holds log(scale). Models without one score raw cosines.
        self.logit_scale = 1.0 if scale is None else float(torch.as_tensor(scale).detach().float().exp().cpu())
        self.fingerprint = f"clsp|{model_fingerprint(model, revision, config)}|{self.dtype}"

    def encode_audio(self, waves: list[np.ndarray]) -> np.ndarray:
        import torch

        lengths = torch.tensor([len(w) for w in waves], device=self.device)
        audio = torch.nn.utils.rnn.pad_sequence([torch.from_numpy(np.asarray(w)) for w in waves], batch_first=True)
        with torch.inference_mode():
            out = self.model(audio=audio.to(self.device, self.dtype), audio_lens=lengths)[0]
            emb = torch.nn.functional.normalize(out.float(), dim=-1)
        return emb.cpu().numpy()

    def encode_text(self, texts: list[str]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            out = self.model(text=list(texts))[1]
            emb = torch.nn.functional.normalize(out.float(), dim=-1)
        return emb.cpu().numpy()
