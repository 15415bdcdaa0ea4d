"""MS-CLAP 2022 and 2023 (Microsoft), through the ``msclap`` package's own model classes.

What differs from ``msclap.CLAP`` (the package's wrapper), and why:

- weights are read without running code from the file (:mod:`.checkpoint`); the
  hub file comes from the standard Hugging Face cache, a local ``.pth`` is used as is;
- the text model and tokenizer ('bert-base-uncased' for 2022, 'gpt2' for 2023),
  which msclap fetches from the hub at every start, may be a local directory;
- audio arrives as arrays (no torchaudio file decoding), resampled to 44.1 kHz
  with the same torchaudio resampler; short clips are repeated and cut to the
  window (5 s / 7 s) as msclap does, long clips are cropped by the scorer
  (centre, or seeded random) instead of Python's global ``random``;
- importing msclap silences all warnings and transformers' logging for the whole
  process: that is undone, and construction leaves torch's RNG as it was.
"""

from __future__ import annotations

import json
import shutil
from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._backend import (
    BACKEND_MANIFEST,
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

__all__ = ["MSClap", "MSClapEncoder", "MSCLAP_HUB_REPO"]

MSCLAP_HUB_REPO = "microsoft/msclap"
VERSIONS = ("2022", "2023")


@dataclass(frozen=True)
class MSClap(ModelSpec):
    """An MS-CLAP model for :class:`~sklearn_zsfuse.ALMZeroShotScorer`.

    Parameters
    ----------
    version : {"2022", "2023"} or None
        ``None``: read from ``checkpoint`` (CNN14 audio tower: 2022, HTS-AT: 2023),
        or "2023" when no checkpoint is given.
    checkpoint : str or None
        A local ``CLAP_weights_<version>.pth``. ``None`` takes it from the hub
        repository ``microsoft/msclap`` (standard Hugging Face cache).
    text_model : str or None
        Directory holding the text model and its tokenizer ('bert-base-uncased'
        for 2022, 'gpt2' for 2023, saved with ``save_pretrained``). ``None`` uses
        those hub ids through the Hugging Face cache.
    """

    version: str | None = None
    checkpoint: str | None = None
    text_model: str | None = None

    def load(self, *, device, dtype, revision=None):
        return MSClapEncoder(self, device=device, dtype=dtype, revision=revision)


def _version_of(state_dict: dict) -> str | None:
    if any(k.startswith("audio_encoder.base.htsat.") for k in state_dict):
        return "2023"
    if any(k.startswith("audio_encoder.base.conv_block1.") for k in state_dict):
        return "2022"
    return None


class MSClapEncoder:
    """The audio and text towers of an msclap ``CLAP`` model, with L2-normalised outputs."""

    pad_mode = "repeat"  # msclap repeats short clips past the window, then cuts

    def __init__(self, spec: MSClap, *, device="cpu", dtype=None, revision=None):
        import torch
        import yaml

        name = spec.checkpoint or f"msclap-{spec.version or '2023'}"
        if spec.version not in (None, *VERSIONS):
            raise ModelLoadError(f"Cannot load MSClap(version={spec.version!r}): version must be one of {VERSIONS}.")
        package = import_optional("msclap", package="msclap", extra="msclap", model=name)
        clap_module = import_optional("msclap.models.clap", package="msclap", extra="msclap", model=name)

        if spec.checkpoint is not None:
            checkpoint = str(Path(spec.checkpoint).expanduser())
            stamp = file_stamp(checkpoint) if Path(checkpoint).is_file() else checkpoint
        else:
            filename = f"CLAP_weights_{spec.version or '2023'}.pth"
            checkpoint = hub_file(
                MSCLAP_HUB_REPO,
                filename,
                revision=revision,
                model=name,
                hint="Download it once online, or pass MSClap(checkpoint='/path/" + filename + "').",
            )
            stamp = checkpoint  # the cache path holds the commit hash
        state = load_checkpoint(checkpoint, model=name)
        state_dict = state.get("model", state) if isinstance(state, dict) else None
        if not isinstance(state_dict, dict) or not state_dict:
            raise ModelLoadError(f"Cannot load model={name!r}: {checkpoint!r} holds no msclap state dict.")
        found = _version_of(state_dict)
        if found is None:
            raise ModelLoadError(
                f"Cannot load model={name!r}: {checkpoint!r} is not an msclap checkpoint (no CNN14 or "
                "HTS-AT audio encoder weights)."
            )
        if spec.version is not None and spec.version != found:
            raise ModelLoadError(
                f"Cannot load model={name!r}: MSClap(version={spec.version!r}) was asked for but "
                f"{checkpoint!r} holds a {found} model."
            )
        self.version = found
        self.checkpoint = checkpoint
        config_file = Path(package.__file__).parent / "configs" / f"config_{found}.yml"
        args = yaml.safe_load(config_file.read_text())
        canonical = args["text_model"]
        source = spec.text_model or canonical
        hint = (
            f"msclap {found} needs the text model {canonical!r} and its tokenizer: download them once "
            f"online, or pass MSClap(text_model='/dir') with a directory saved by save_pretrained."
        )

        from transformers import AutoModel, AutoTokenizer

        class _TextModelFromSource:
            """Stands for transformers.AutoModel inside msclap while we construct its CLAP."""

            @staticmethod
            def from_pretrained(_hub_id, *a, **k):
                return pretrained(AutoModel, source, what="text model", model=name, hint=hint)

        with restored_process_state(), swapped_attribute(clap_module, "AutoModel", _TextModelFromSource):
            clap = clap_module.CLAP(
                audioenc_name=args["audioenc_name"],
                sample_rate=args["sampling_rate"],
                window_size=args["window_size"],
                hop_size=args["hop_size"],
                mel_bins=args["mel_bins"],
                fmin=args["fmin"],
                fmax=args["fmax"],
                classes_num=args["num_classes"],
                out_emb=args["out_emb"],
                text_model=canonical,
                transformer_embed_dim=args["transformer_embed_dim"],
                d_proj=args["d_proj"],
            )
        # msclap loads with strict=False: keys that newer transformers dropped (position_ids)
        # are ignored, and the frozen text model may come from the text model files.
        result = clap.load_state_dict(state_dict, strict=False)
        missing = [k for k in result.missing_keys if not k.startswith("caption_encoder.base.")]
        if missing:
            raise ModelLoadError(
                f"Cannot load model={name!r}: {checkpoint!r} lacks {len(missing)} weights of the msclap "
                f"{found} model (e.g. {missing[:3]}); they would stay random."
            )
        self.tokenizer = pretrained(AutoTokenizer, source, what="tokenizer", model=name, hint=hint)
        self.is_gpt = "gpt" in canonical
        if self.is_gpt:
            self.tokenizer.add_special_tokens({"pad_token": "!"})
        self.token_keys = ["input_ids", "attention_mask"] if self.is_gpt else ["input_ids", "token_type_ids", "attention_mask"]
        self.text_len = int(args["text_len"])

        self.dtype = dtype or torch.float32
        self.clap = clap.to(device=device, dtype=self.dtype).eval()
        self.device = device
        self.sampling_rate = int(args["sampling_rate"])
        self.window = int(args["duration"]) * self.sampling_rate
        self.logit_scale = float(self.clap.logit_scale.detach().float().exp().cpu())
        text_stamp = file_stamp(source) if Path(str(source)).expanduser().is_dir() else source
        self.fingerprint = f"msclap|{found}|{stamp}|{text_stamp}|{self.dtype}"
        self._resamplers: dict[int, object] = {}

    def save(self, directory) -> None:
        """Write the checkpoint (its exact bytes), the text model and tokenizer, and a manifest.

        What ``store_weights_in_pickle=True`` embeds; it loads again as
        ``MSClap(version, checkpoint=..., text_model=...)`` from those files.
        """
        directory = Path(directory)
        checkpoint = f"CLAP_weights_{self.version}.pth"
        shutil.copyfile(self.checkpoint, directory / checkpoint)
        self.clap.caption_encoder.base.save_pretrained(directory / "text_model")
        self.tokenizer.save_pretrained(directory / "text_model")
        manifest = {"backend": "msclap", "version": self.version, "checkpoint": checkpoint, "text_model": "text_model"}
        (directory / BACKEND_MANIFEST).write_text(json.dumps(manifest))

    def resample(self, wave: np.ndarray, rate: int) -> np.ndarray:
        """torchaudio's ``Resample`` with its defaults, as msclap's ``read_audio`` uses."""
        import torch
        import torchaudio.transforms as T

        resampler = self._resamplers.get(rate)
        if resampler is None:
            resampler = self._resamplers[rate] = T.Resample(rate, self.sampling_rate)
        with torch.inference_mode():
            return resampler(torch.from_numpy(wave)[None])[0].numpy()

    def encode_audio(self, waves: list[np.ndarray]) -> np.ndarray:
        import torch

        for w in waves:
            if w.shape[0] != self.window:
                raise ValueError(f"expected {self.window} samples per clip, got {w.shape[0]}")
        x = torch.from_numpy(np.stack(waves).astype(np.float32))
        with torch.inference_mode():
            emb = self.clap.audio_encoder(x.to(self.device, self.dtype))[0]
            emb = torch.nn.functional.normalize(emb.float(), dim=-1)
        return emb.cpu().numpy()

    def _tokens(self, text: str) -> dict:
        if self.is_gpt:
            text = text + " <|endoftext|>"
        # msclap pads to text_len and never truncates; truncation=False says so explicitly.
        tok = self.tokenizer(
            text,
            add_special_tokens=True,
            max_length=self.text_len,
            padding="max_length",
            truncation=False,
            return_tensors="pt",
        )
        return {k: tok[k].reshape(-1) for k in self.token_keys}

    def encode_text(self, texts: list[str]) -> np.ndarray:
        import torch

        tokens = [self._tokens(t) for t in texts]
        # Texts longer than text_len keep their length (as in msclap); batch equal lengths.
        groups: dict[int, list[int]] = {}
        for i, tok in enumerate(tokens):
            groups.setdefault(int(tok["input_ids"].shape[0]), []).append(i)
        out = [None] * len(texts)
        with torch.inference_mode():
            for idx in groups.values():
                batch = {k: torch.stack([tokens[i][k] for i in idx]).to(self.device) for k in self.token_keys}
                emb = torch.nn.functional.normalize(self.clap.caption_encoder(batch).float(), dim=-1)
                for i, e in zip(idx, emb.cpu().numpy()):
                    out[i] = e
        return np.stack(out)
