"""LAION-CLAP checkpoints in the ``laion_clap`` package's own format (``.pt``).

The original checkpoints (630k / 630k+AudioSet, fused or not), the larger music
and speech ones, and retrained models saved by laion_clap's training code (such
as ReCLAP) run through laion_clap's own model classes. What differs from
``laion_clap.CLAP_Module``, and why:

- ``import laion_clap`` builds three tokenizers from the hub (bert, roberta,
  bart) whatever the model: we import only its model code (``clap_module``,
  which laion_clap itself puts on ``sys.path``), and ``sys.path`` is restored;
- the text tower's architecture comes from the text model's ``config.json`` (its
  weights are in the checkpoint), so offline it needs only a local directory with
  that config and the tokenizer, not the 500 MB hub weights it would fetch;
- checkpoints are read without running code from them (:mod:`.checkpoint`: the
  released files are protocol-4 pickles holding numpy scalars, which
  ``torch.load(weights_only=True)`` refuses) and come from the standard Hugging
  Face cache (``lukewys/laion_clap``), not a ``wget`` into site-packages;
- every clip arrives cut or repeat-padded to exactly 10 s at 48 kHz, so the
  package's random crop (whose newer versions call the missing
  ``np.random.integers``) and the fused models' batch-dependent ``longer`` path
  are never reached; the int16 round trip is kept;
- the tokenizer matches ``tmodel`` (``CLAP_Module`` always uses RoBERTa's).
"""

from __future__ import annotations

import importlib.util
import json
import shutil
from dataclasses import dataclass
from pathlib import Path
from types import MappingProxyType

import numpy as np

from ._backend import (
    BACKEND_MANIFEST,
    MissingExtraError,
    file_stamp,
    hub_file,
    import_optional,
    pretrained,
    restored_process_state,
    swapped_attribute,
)
from .base import ModelLoadError
from .checkpoint import load_checkpoint
from .specs import ModelSpec

__all__ = ["LAION_CHECKPOINTS", "LAION_HUB_REPO", "LaionClap", "LaionClapEncoder"]

LAION_HUB_REPO = "lukewys/laion_clap"
# name: (file in LAION_HUB_REPO, enable_fusion, amodel); ids 0-3 are laion_clap's own.
LAION_CHECKPOINTS = MappingProxyType({
    "630k": ("630k-best.pt", False, "HTSAT-tiny"),
    "630k-audioset": ("630k-audioset-best.pt", False, "HTSAT-tiny"),
    "630k-fusion": ("630k-fusion-best.pt", True, "HTSAT-tiny"),
    "630k-audioset-fusion": ("630k-audioset-fusion-best.pt", True, "HTSAT-tiny"),
    "music-audioset": ("music_audioset_epoch_15_esc_90.14.pt", False, "HTSAT-base"),
    "music-speech-audioset": ("music_speech_audioset_epoch_15_esc_89.98.pt", False, "HTSAT-base"),
})
_IDS = MappingProxyType({"0": "630k", "1": "630k-audioset", "2": "630k-fusion", "3": "630k-audioset-fusion"})
TEXT_MODELS = MappingProxyType({"roberta": "roberta-base", "bert": "bert-base-uncased", "bart": "facebook/bart-base"})
_TEXT_CLASSES = MappingProxyType({"roberta": "RobertaModel", "bert": "BertModel", "bart": "BartModel"})
_TOKENIZERS = MappingProxyType({"roberta": "RobertaTokenizer", "bert": "BertTokenizer", "bart": "BartTokenizer"})
MAX_SAMPLES = 480_000  # CLAP_Module's 10 s at 48 kHz
CONTEXT_LENGTH = 77


@dataclass(frozen=True)
class LaionClap(ModelSpec):
    """A laion_clap checkpoint for :class:`~sklearn_zsfuse.ALMZeroShotScorer`.

    Parameters
    ----------
    checkpoint : str
        ``"0"``-``"3"`` (laion_clap's ids), a name of :data:`LAION_CHECKPOINTS`
        (with or without ``.pt``), both taken from the hub repository
        ``lukewys/laion_clap`` through the Hugging Face cache; or a local ``.pt``.
    enable_fusion : bool or None
        ``None``: known for named checkpoints, read from a local file's weights.
    amodel : str or None
        Audio tower config of laion_clap (``"HTSAT-tiny"``, ``"HTSAT-base"``,
        ``"PANN-14"``, ...). ``None``: known for named checkpoints, else HTSAT-tiny.
    tmodel : {"roberta", "bert", "bart"}
    text_model : str or None
        Directory with the text model's ``config.json`` and tokenizer (roberta-base,
        bert-base-uncased or facebook/bart-base); ``None`` uses the hub id through
        the Hugging Face cache.
    """

    checkpoint: str = "630k-audioset"
    enable_fusion: bool | None = None
    amodel: str | None = None
    tmodel: str = "roberta"
    text_model: str | None = None

    def load(self, *, device, dtype, revision=None):
        return LaionClapEncoder(self, device=device, dtype=dtype, revision=revision)


def _known(checkpoint: str):
    key = _IDS.get(checkpoint, checkpoint)
    for name, entry in LAION_CHECKPOINTS.items():
        if key in (name, entry[0], entry[0].removesuffix(".pt"), f"{name}.pt"):
            return name, entry
    return None, None


def _clap_module(model):
    """laion_clap's model code, imported without running ``laion_clap/__init__``."""
    try:
        spec = importlib.util.find_spec("laion_clap")
    except (ImportError, ValueError):
        spec = None
    if spec is None or not spec.submodule_search_locations:
        raise MissingExtraError(
            f"model={model!r} needs the laion_clap package, which is not installed. Install it "
            "with: pip install 'sklearn-zsfuse[laion]' (it pins numpy<2: use a separate virtual "
            "environment; see the README's table of models)."
        )
    return import_optional(
        "clap_module",
        package="laion_clap",
        extra="laion",
        model=model,
        search_path=list(spec.submodule_search_locations)[0],
    )


def _is_fused(state_dict: dict) -> bool:
    return any(".fusion_model." in k or k.startswith("audio_branch.mel_conv") for k in state_dict)


class LaionClapEncoder:
    """The audio and text towers of a laion_clap ``CLAP`` model, with L2-normalised outputs."""

    pad_mode = "repeatpad"

    def __init__(self, spec: LaionClap, *, device="cpu", dtype=None, revision=None):
        import torch

        name = f"laion-clap:{spec.checkpoint}"
        if spec.tmodel not in TEXT_MODELS:
            raise ModelLoadError(f"Cannot load {spec!r}: tmodel must be one of {sorted(TEXT_MODELS)}.")
        clap_module = _clap_module(name)
        torchaudio = import_optional("torchaudio", package="torchaudio", extra="laion", model=name)
        import transformers

        known, entry = _known(str(spec.checkpoint))
        local = Path(str(spec.checkpoint)).expanduser()
        if local.is_file() or known is None:
            if not local.is_file():
                raise ModelLoadError(
                    f"Cannot load model={name!r}: {str(spec.checkpoint)!r} is neither a local .pt file "
                    f"nor a known checkpoint (ids 0-3 or {sorted(LAION_CHECKPOINTS)})."
                )
            checkpoint, stamp, fusion_default, amodel_default = str(local), file_stamp(local), None, "HTSAT-tiny"
        else:
            filename, fusion_default, amodel_default = entry
            checkpoint = hub_file(
                LAION_HUB_REPO,
                filename,
                revision=revision,
                model=name,
                hint=f"Download it once online, or pass LaionClap(checkpoint='/path/{filename}').",
            )
            stamp = checkpoint  # the cache path holds the commit hash
        state = load_checkpoint(checkpoint, model=name)
        state_dict = state.get("state_dict", state) if isinstance(state, dict) else None
        if not isinstance(state_dict, dict) or not state_dict:
            raise ModelLoadError(f"Cannot load model={name!r}: {checkpoint!r} holds no laion_clap state dict.")
        if next(iter(state_dict)).startswith("module."):  # saved from DistributedDataParallel
            state_dict = {k[len("module.") :]: v for k, v in state_dict.items()}
        # A buffer that transformers >= 4.31 no longer keeps (laion_clap drops it too).
        state_dict.pop("text_branch.embeddings.position_ids", None)
        fusion = spec.enable_fusion if spec.enable_fusion is not None else fusion_default
        if fusion is None:
            fusion = _is_fused(state_dict)
        amodel = spec.amodel or amodel_default

        source = spec.text_model or TEXT_MODELS[spec.tmodel]
        hint = (
            f"laion_clap's {spec.tmodel} text tower needs the config and tokenizer of "
            f"{TEXT_MODELS[spec.tmodel]!r}: download them once online, or pass "
            "LaionClap(text_model='/dir') with a directory saved by save_pretrained."
        )
        text_class = getattr(transformers, _TEXT_CLASSES[spec.tmodel])

        class _TextTowerFromConfig:
            """Stands for the text model class inside laion_clap while we construct its CLAP."""

            @staticmethod
            def from_pretrained(_hub_id, *a, **k):
                config = pretrained(transformers.AutoConfig, source, what="text model config", model=name, hint=hint)
                return text_class(config)

        try:
            with restored_process_state(), swapped_attribute(
                clap_module.model, _TEXT_CLASSES[spec.tmodel], _TextTowerFromConfig
            ):
                model, model_cfg = clap_module.create_model(
                    amodel,
                    spec.tmodel,
                    precision="fp32",
                    device="cpu",
                    enable_fusion=fusion,
                    fusion_type="aff_2d" if fusion else "None",
                )
        except RuntimeError as exc:  # an unknown amodel
            raise ModelLoadError(f"Cannot load model={name!r}: {exc} (amodel={amodel!r}).") from exc
        try:
            model.load_state_dict(state_dict, strict=True)
        except RuntimeError as exc:
            raise ModelLoadError(
                f"Cannot load model={name!r}: {checkpoint!r} does not match a laion_clap model with "
                f"amodel={amodel!r}, tmodel={spec.tmodel!r}, enable_fusion={fusion}. Pass the settings it "
                "was trained with: LaionClap(checkpoint, amodel=..., tmodel=..., enable_fusion=...). "
                f"[{str(exc)[:500]}]"
            ) from exc
        self.tokenizer = pretrained(
            getattr(transformers, _TOKENIZERS[spec.tmodel]), source, what="tokenizer", model=name, hint=hint
        )
        self.dtype = dtype or torch.float32
        self.model = model.to(device=device, dtype=self.dtype).eval()
        self.device = device
        self.fusion = bool(fusion)
        self.checkpoint = checkpoint
        self.amodel, self.tmodel = amodel, spec.tmodel
        audio_cfg = model_cfg["audio_cfg"]
        self.sampling_rate = int(audio_cfg["sample_rate"])
        self.window = MAX_SAMPLES
        self.logit_scale = float(self.model.logit_scale_a.detach().float().exp().cpu())
        text_stamp = file_stamp(source) if Path(str(source)).expanduser().is_dir() else source
        self.fingerprint = f"laion-clap|{stamp}|{amodel}|{spec.tmodel}|{fusion}|{text_stamp}|{self.dtype}"
        if self.fusion:
            # laion_clap's get_mel (training/data.py, which we cannot import: it builds hub tokenizers).
            self._mel = torchaudio.transforms.MelSpectrogram(
                sample_rate=audio_cfg["sample_rate"],
                n_fft=audio_cfg["window_size"],
                win_length=audio_cfg["window_size"],
                hop_length=audio_cfg["hop_size"],
                center=True,
                pad_mode="reflect",
                power=2.0,
                norm=None,
                onesided=True,
                n_mels=audio_cfg["mel_bins"],
                f_min=audio_cfg["fmin"],
                f_max=audio_cfg["fmax"],
            ).to(device)  # spectrograms where the model runs, a batch at a time
            self._to_db = torchaudio.transforms.AmplitudeToDB(top_db=None)

    def save(self, directory) -> None:
        """Write the checkpoint (its exact bytes), the text tower's config and tokenizer, and a manifest.

        What ``store_weights_in_pickle=True`` embeds; it loads again as
        ``LaionClap(checkpoint=..., enable_fusion, amodel, tmodel, text_model=...)``.
        """
        directory = Path(directory)
        shutil.copyfile(self.checkpoint, directory / "checkpoint.pt")
        self.model.text_branch.config.save_pretrained(directory / "text_model")  # its weights are in the checkpoint
        self.tokenizer.save_pretrained(directory / "text_model")
        manifest = {
            "backend": "laion_clap",
            "checkpoint": "checkpoint.pt",
            "enable_fusion": self.fusion,
            "amodel": self.amodel,
            "tmodel": self.tmodel,
            "text_model": "text_model",
        }
        (directory / BACKEND_MANIFEST).write_text(json.dumps(manifest))

    def _features(self, waves: list[np.ndarray]) -> list[dict]:
        """laion_clap's per-clip input dicts, computed for the whole batch on the model's device."""
        import torch

        # laion_clap's int16 round trip (float32_to_int16, int16_to_float32).
        quantized = (np.clip(np.stack(waves), -1.0, 1.0) * 32767.0).astype(np.int16)
        waveform = torch.from_numpy((quantized / 32767.0).astype(np.float32)).to(self.device)
        longer = torch.zeros((len(waves), 1), dtype=torch.bool, device=self.device)
        if not self.fusion:
            return [{"waveform": w, "longer": b} for w, b in zip(waveform, longer)]
        # (batch, mels, frames) -> 4 copies of (frames, mels) per clip: top_db=None keeps clips independent
        mel = self._to_db(self._mel(waveform)).transpose(1, 2).unsqueeze(1).repeat(1, 4, 1, 1)
        return [{"waveform": w, "longer": b, "mel_fusion": m} for w, b, m in zip(waveform, longer, mel)]

    def encode_audio(self, waves: list[np.ndarray]) -> np.ndarray:
        import torch

        for w in waves:
            if w.shape[0] != self.window:
                raise ValueError(f"expected {self.window} samples per clip, got {w.shape[0]}")
        with torch.inference_mode():
            batch = self._features(waves)
            if self.dtype != torch.float32:
                batch = [{k: v.to(self.dtype) if v.is_floating_point() else v for k, v in b.items()} for b in batch]
            emb = self.model.get_audio_embedding(batch)
            emb = torch.nn.functional.normalize(emb.float(), dim=-1)
        return emb.cpu().numpy()

    def encode_text(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = self.tokenizer(
            list(texts), padding="max_length", truncation=True, max_length=CONTEXT_LENGTH, return_tensors="pt"
        )
        with torch.inference_mode():
            emb = self.model.get_text_embedding(dict(tokens))
            emb = torch.nn.functional.normalize(emb.float(), dim=-1)
        return emb.cpu().numpy()
