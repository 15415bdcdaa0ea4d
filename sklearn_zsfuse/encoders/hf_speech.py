"""Speech foundation models in Hugging Face format: WavLM, HuBERT, wav2vec 2.0, data2vec."""

from __future__ import annotations

import json
import warnings
from dataclasses import dataclass

import numpy as np

from .base import model_fingerprint
from .hf_load import load_model, load_part
from .hub import check_hf_checkpoint, hf_config_file
from .specs import ModelSpec

__all__ = ["HFSpeech", "HFSpeechEncoder"]


@dataclass(frozen=True)
class HFSpeech(ModelSpec):
    """A speech model in Hugging Face format (``AutoModel``): hub id or local directory."""

    model: str

    def load(self, *, device, dtype, revision=None):
        return HFSpeechEncoder(self.model, revision=revision, device=device, dtype=dtype)

    def precheck(self, parameter: str) -> None:
        check_hf_checkpoint(self.model, parameter)

    def layer_count(self) -> int | None:
        """Transformer layers + 1 (the front end's projection), from the config at hand."""
        config = hf_config_file(self.model)
        try:
            return int(json.loads(config.read_text(encoding="utf-8"))["num_hidden_layers"]) + 1
        except (AttributeError, OSError, ValueError, KeyError, TypeError):
            return None  # unreadable here: the load reports it


class HFSpeechEncoder:
    """Frozen speech encoder returning every layer's hidden states, mean-pooled per clip.

    Pooling covers valid frames only. Models whose feature extractor takes an
    attention mask (layer-norm convolution stacks such as WavLM-Large) run in
    padded batches; the others (group-norm stacks such as wav2vec2-base) are
    changed by padding, so their batches only ever hold clips of equal length.
    :meth:`frame_sums` gives the unpooled sums, for clips encoded in chunks.
    """

    def __init__(self, model: str, *, revision=None, device="cpu", dtype=None):
        import torch
        from transformers import AutoFeatureExtractor, AutoModel

        # Never code from the model's files (refused outright for speech models), every weight used.
        self.model = load_model(AutoModel, model, revision=revision, dtype=dtype)
        self.feature_extractor = load_part(AutoFeatureExtractor, model, revision=revision, what="feature extractor")
        self.model.to(device).eval()
        self.device = device
        self.dtype = dtype or torch.float32
        self.sampling_rate = int(self.feature_extractor.sampling_rate)
        self.uses_mask = bool(getattr(self.feature_extractor, "return_attention_mask", False))
        config = self.model.config
        self.n_layers = int(config.num_hidden_layers) + 1  # + the input embeddings
        self.hidden_size = int(config.hidden_size)
        self.min_samples = receptive_field(config)
        self.fingerprint = f"hf-speech|{model_fingerprint(model, revision, config)}|{self.dtype}"
        self.audio_batches = 0
        self.audio_clips = 0

    def save(self, directory) -> None:
        """Write the model (safetensors) and its feature extractor, loadable by ``from_pretrained``."""
        self.model.save_pretrained(directory)
        self.feature_extractor.save_pretrained(directory)

    def encode(self, waves: list[np.ndarray]) -> np.ndarray:
        """(n_clips, n_layers, hidden_size) float32 pooled hidden states."""
        return self._by_length(waves, self._encode_batch)

    def frame_sums(self, waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        """Per clip, every layer's hidden states summed over its valid frames, and the frame count.

        ``(sums (n, n_layers, hidden_size) float32, frames (n,))``: the parts of
        :meth:`encode`'s mean that add up over the chunks of a long clip.
        """
        frames = np.empty(len(waves), dtype=np.int64)
        out = np.empty((len(waves), self.n_layers, self.hidden_size), dtype=np.float32)
        for idx in self._groups(waves):
            out[idx], frames[idx] = self._frame_sums_batch([waves[i] for i in idx])
        return out, frames

    def _groups(self, waves) -> list[list[int]]:
        """One padded batch, or batches of equal length for models that padding would change."""
        self.audio_clips += len(waves)
        if self.uses_mask:
            groups = [list(range(len(waves)))]
        else:
            by_length: dict[int, list[int]] = {}
            for i, w in enumerate(waves):
                by_length.setdefault(w.shape[0], []).append(i)
            groups = list(by_length.values())
        self.audio_batches += len(groups)
        return groups

    def _by_length(self, waves, encode_batch) -> np.ndarray:
        out = np.empty((len(waves), self.n_layers, self.hidden_size), dtype=np.float32)
        for idx in self._groups(waves):
            out[idx] = encode_batch([waves[i] for i in idx])
        return out

    def _hidden_states(self, waves: list[np.ndarray]):
        """Every layer's states of one padded batch, with each clip's valid-frame mask and count."""
        import torch

        # Clips shorter than the convolution stack's receptive field give no frame.
        waves = [
            np.pad(w, (0, self.min_samples - w.shape[0])) if w.shape[0] < self.min_samples else w
            for w in waves
        ]
        inputs = self.feature_extractor(
            waves,
            sampling_rate=self.sampling_rate,
            padding=True,
            return_attention_mask=True,
            return_tensors="pt",
        )
        values = inputs["input_values"].to(self.device, self.dtype)
        sample_mask = inputs["attention_mask"].to(self.device)
        kwargs = {"attention_mask": sample_mask} if self.uses_mask else {}
        with warnings.catch_warnings():
            # torch deprecates the mask types transformers passes to attention.
            warnings.filterwarnings("ignore", message=".*mismatched key_padding_mask.*")
            out = self.model(values, output_hidden_states=True, **kwargs)
        n_frames = out.hidden_states[0].shape[1]
        lengths = self.model._get_feat_extract_output_lengths(sample_mask.sum(-1))
        frame_mask = torch.arange(n_frames, device=self.device)[None, :] < lengths[:, None]
        # The last entry is the model's final output (after the closing layer norm of
        # stable-layer-norm models such as WavLM-Large): transformers 4 put that in
        # hidden_states, transformers 5 puts the pre-norm state there.
        states = list(out.hidden_states[:-1]) + [out.last_hidden_state]
        return states, frame_mask, lengths

    def _encode_batch(self, waves: list[np.ndarray]) -> np.ndarray:
        import torch

        with torch.inference_mode():
            states, frame_mask, lengths = self._hidden_states(waves)
            weights = (frame_mask.float() / lengths[:, None].clamp(min=1).float())[..., None]
            pooled = torch.stack([(h.float() * weights).sum(1) for h in states], dim=1)
        return pooled.cpu().numpy()

    def _frame_sums_batch(self, waves: list[np.ndarray]) -> tuple[np.ndarray, np.ndarray]:
        import torch

        with torch.inference_mode():
            states, frame_mask, lengths = self._hidden_states(waves)
            weights = frame_mask.float()[..., None]
            sums = torch.stack([(h.float() * weights).sum(1) for h in states], dim=1)
        return sums.cpu().numpy(), lengths.cpu().numpy()


def receptive_field(config) -> int:
    """Samples the convolutional feature encoder needs to emit one frame."""
    field, jump = 1, 1
    for kernel, stride in zip(config.conv_kernel, config.conv_stride):
        field += (kernel - 1) * jump
        jump *= stride
    return field
