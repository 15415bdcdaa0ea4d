"""GE2E: the pretrained speaker encoder inside the Resemblyzer wheel, as a speech specialist.

The PyPI wheel ``Resemblyzer==0.1.4`` (Apache-2.0) ships ``resemblyzer/pretrained.pt``,
a GE2E speaker encoder (Wan et al., 2018): a 40-band mel power spectrogram at
16 kHz (25 ms Hann windows every 10 ms), three LSTM layers of 256 units and a
256-d projection. This backend reads that file where pip put it (through the
distribution's metadata: the ``resemblyzer`` module, which imports webrtcvad,
is never imported) with the package's safe checkpoint reader, and runs the
front end and the LSTM in torch on the model's device.

What it gives, per ``pooling``:

``"mean"`` (registered as ``ge2e``)
    Three "layers", the hidden states of each LSTM layer averaged over the
    clip's frames: ``(n, 3, 256)``. Layer 0 is the first LSTM layer.
``"stats"`` (``ge2e:stats``)
    The same three layers with statistics pooling: each layer's mean and its
    (population) standard deviation over the frames, concatenated: ``(n, 3, 512)``.
``"utterance"`` (``ge2e:utterance``)
    Resemblyzer's speaker embedding, one "layer" of 256: what
    ``VoiceEncoder.embed_utterance`` returns (1.6 s partial windows at 1.3 a
    second, each projected, rectified and L2-normalised, then averaged and
    normalised again).

Input: what Resemblyzer's ``preprocess_wav`` does to a 16 kHz clip, which is how
the model was trained: the volume is raised to -30 dBFS RMS where it is quieter,
then silences longer than about 0.2 s are cut out by WebRTC's voice activity
detector (``webrtcvad``: install ``webrtcvad-wheels``, MIT, which has wheels; the
original ``webrtcvad`` has none and needs setuptools' ``pkg_resources`` to
import). A clip in which it finds no voice at all is kept whole. ``vad=False``
skips the trimming (then pooling covers pauses too: on RAVDESS, whose clips
hold about a second of silence around each sentence, that costs 2 to 8 points
of UA).

Batches are padded, and padding never changes a clip's result: the LSTM runs
on packed sequences (each clip's recurrence stops at its own last frame) and
pooling covers each clip's own frames. Time and memory are linear in a clip's
duration: long clips run in blocks of :data:`BLOCK_FRAMES` frames with the LSTM's
state carried from block to block, which is exactly one pass over the clip. The
engine's ``chunk_seconds`` does not apply (the encoder has no ``frame_sums``:
chunks would restart the recurrence). The model always runs in float32 (the
requested ``dtype`` is ignored): it has 1.4 M parameters, half precision would
save nothing, and the recurrent state would accumulate its rounding.
"""

from __future__ import annotations

from dataclasses import dataclass
from pathlib import Path

import numpy as np

from ._backend import MissingExtraError
from .file_digest import file_digest
from .ge2e_preprocess import INSTALL, TARGET_DBFS, normalized_volume, trimmed_silences, webrtcvad_module
from .hub import ModelLoadError
from .specs import ModelSpec

__all__ = ["GE2E", "GE2EEncoder", "INSTALL", "POOLINGS", "resemblyzer_weights"]

DISTRIBUTION = "Resemblyzer"
WEIGHTS_FILE = "resemblyzer/pretrained.pt"  # inside the distribution
POOLINGS = ("mean", "stats", "utterance")

# Resemblyzer's hparams.py
SAMPLING_RATE = 16000
N_FFT = 400  # 25 ms
HOP = 160  # 10 ms
N_MELS = 40
HIDDEN = 256
N_LSTM = 3
PARTIAL_FRAMES = 160  # 1.6 s partial utterances (embed_utterance)
PARTIAL_RATE = 1.3  # partials a second
MIN_COVERAGE = 0.75  # a last partial is kept if the clip covers this much of it
# Frames the LSTM takes at once (30 s); the state is carried across blocks.
BLOCK_FRAMES = 3000


@dataclass(frozen=True)
class GE2E(ModelSpec):
    """The GE2E speaker encoder; ``checkpoint=None`` reads the installed Resemblyzer's weights.

    ``pooling`` is ``"mean"``, ``"stats"`` or ``"utterance"`` (see the module doc).
    ``checkpoint`` may name another file in Resemblyzer's format (``{"model_state":
    state_dict}``, or the state dict itself). ``vad=False`` keeps silences (no webrtcvad).
    """

    pooling: str = "mean"
    checkpoint: str | None = None
    vad: bool = True

    def __post_init__(self):
        if self.pooling not in POOLINGS:
            raise ValueError(f"GE2E(pooling={self.pooling!r}): pooling must be one of {POOLINGS}.")

    def load(self, *, device="cpu", dtype=None, revision=None):
        return GE2EEncoder(pooling=self.pooling, checkpoint=self.checkpoint, vad=self.vad, device=device)


def resemblyzer_weights() -> tuple[Path, str]:
    """The installed Resemblyzer's ``pretrained.pt`` and what to record about it (version, licence)."""
    from importlib import metadata

    try:
        dist = metadata.distribution(DISTRIBUTION)
    except metadata.PackageNotFoundError:
        raise MissingExtraError(
            "FMEmbedder(model='ge2e') reads the GE2E weights that ship inside the Resemblyzer wheel, "
            f"which is not installed here: {INSTALL}"
        ) from None
    path = Path(dist.locate_file(WEIGHTS_FILE))
    if not path.is_file():
        raise ModelLoadError(
            f"Cannot load model='ge2e': Resemblyzer {dist.version} is installed but its {WEIGHTS_FILE} is not "
            f"at {str(path)!r}; reinstall it: {INSTALL} --force-reinstall"
        )
    classifiers = dist.metadata.get_all("Classifier") or []
    licence = "Apache-2.0" if any("Apache Software License" in c for c in classifiers) else "licence not stated"
    source = f"{WEIGHTS_FILE} of Resemblyzer {dist.version} ({licence}, https://github.com/resemble-ai/Resemblyzer)"
    return path, source


def _state_dict(path: Path, model) -> dict:
    """The LSTM and projection weights of a Resemblyzer checkpoint, checked, read without running code."""
    from .checkpoint import load_checkpoint

    checkpoint = load_checkpoint(path, model=model)
    state = checkpoint.get("model_state", checkpoint) if isinstance(checkpoint, dict) else None
    expected = {"linear.weight": (HIDDEN, HIDDEN), "linear.bias": (HIDDEN,)}
    for k in range(N_LSTM):
        expected.update({
            f"lstm.weight_ih_l{k}": (4 * HIDDEN, N_MELS if k == 0 else HIDDEN),
            f"lstm.weight_hh_l{k}": (4 * HIDDEN, HIDDEN),
            f"lstm.bias_ih_l{k}": (4 * HIDDEN,),
            f"lstm.bias_hh_l{k}": (4 * HIDDEN,),
        })
    for name, shape in expected.items():
        value = state.get(name) if isinstance(state, dict) else None
        if getattr(value, "shape", None) != shape:
            found = "missing" if value is None else f"of shape {tuple(getattr(value, 'shape', ()))}"
            raise ModelLoadError(
                f"Cannot load model={model!r}: {str(path)!r} is not a GE2E checkpoint in Resemblyzer's "
                f"format: {name} is {found}, expected {shape}."
            )
    return {name: state[name].float() for name in expected}


def partial_starts(n_samples: int) -> list[int]:
    """First frames of ``embed_utterance``'s partial windows (its ``compute_partial_slices``)."""
    n_frames = int(np.ceil((n_samples + 1) / HOP))
    step = int(np.round((SAMPLING_RATE / PARTIAL_RATE) / HOP))
    starts = list(range(0, max(1, n_frames - PARTIAL_FRAMES + step + 1), step))
    # The last window is dropped if the clip covers less than MIN_COVERAGE of it.
    coverage = (n_samples - starts[-1] * HOP) / (PARTIAL_FRAMES * HOP)
    if coverage < MIN_COVERAGE and len(starts) > 1:
        starts.pop()
    return starts


class GE2EEncoder:
    """The GE2E speaker encoder's LSTM states (or its speaker embedding) per clip; see the module doc."""

    sampling_rate = SAMPLING_RATE

    def __init__(self, *, pooling="mean", checkpoint=None, vad=True, device="cpu"):
        import torch

        if pooling not in POOLINGS:
            raise ValueError(f"pooling must be one of {POOLINGS}, got {pooling!r}")
        self.webrtcvad = webrtcvad_module() if vad else None  # first: the cheapest thing to find missing
        model = "ge2e" if checkpoint is None else f"GE2E(checkpoint={checkpoint!r})"
        if checkpoint is None:
            path, source = resemblyzer_weights()
            self.provenance = f"GE2E speaker encoder weights: {source}"
        else:
            path = Path(checkpoint).expanduser()
            self.provenance = f"GE2E speaker encoder weights: {str(path)}"
        state = _state_dict(path, model)
        digest = file_digest(path)
        self.provenance += f", sha256 {digest[:16]}"
        self.pooling = pooling
        self.device = torch.device(device)
        self.n_layers = 1 if pooling == "utterance" else N_LSTM
        self.hidden_size = 2 * HIDDEN if pooling == "stats" else HIDDEN
        if pooling == "stats":
            self.feature_names = [f"mean{i}" for i in range(HIDDEN)] + [f"std{i}" for i in range(HIDDEN)]
        trim = f"webrtcvad-{getattr(self.webrtcvad, '__version__', '?')}" if vad else "no-vad"
        self.fingerprint = f"ge2e|{digest}|{pooling}|float32|raise-to{TARGET_DBFS:g}dBFS|{trim}"
        self.block_frames = BLOCK_FRAMES
        # One single-layer LSTM per layer, so that every layer's states can be pooled. Built
        # on the meta device (no memory, nothing drawn from torch's global RNG), then given
        # the file's tensors.
        self.lstms = []
        for k in range(N_LSTM):
            lstm = torch.nn.LSTM(N_MELS if k == 0 else HIDDEN, HIDDEN, batch_first=True, device="meta")
            names = ("weight_ih", "weight_hh", "bias_ih", "bias_hh")
            lstm.load_state_dict({f"{p}_l0": state[f"lstm.{p}_l{k}"] for p in names}, assign=True)
            self.lstms.append(lstm.to(self.device).eval().requires_grad_(False))
        self.linear = torch.nn.Linear(HIDDEN, HIDDEN, device="meta")
        self.linear.load_state_dict({"weight": state["linear.weight"], "bias": state["linear.bias"]}, assign=True)
        self.linear.to(self.device).eval().requires_grad_(False)
        import librosa

        # librosa.feature.melspectrogram's own bank (Slaney scale and area normalisation).
        filters = librosa.filters.mel(sr=SAMPLING_RATE, n_fft=N_FFT, n_mels=N_MELS)
        self._filters = torch.as_tensor(filters.T, dtype=torch.float32, device=self.device)  # (201, 40)
        self._window = torch.hann_window(N_FFT, periodic=True, dtype=torch.float32, device=self.device)
        self.audio_batches = 0
        self.audio_clips = 0

    # -- the front end ------------------------------------------------------------------

    def _mel(self, signal):
        """Mel power frames ``(batch, frames, 40)`` of signals already centred (N_FFT // 2 zeros first).

        librosa's ``melspectrogram(center=True)`` with its zero padding (librosa >= 0.10):
        frame ``t`` is samples ``t * HOP - N_FFT // 2`` to ``t * HOP + N_FFT // 2``, zeros
        outside the clip, so a clip's frames are the same whatever zeros follow it.
        """
        import torch

        frames = signal.unfold(-1, N_FFT, HOP) * self._window
        spectrum = torch.fft.rfft(frames, dim=-1)
        return (spectrum.real.square() + spectrum.imag.square()) @ self._filters

    def _signals(self, waves, n_frames: int):
        """The clips, centred and zero-padded to ``n_frames`` frames (at least), one tensor on the device."""
        import torch

        size = max((n_frames - 1) * HOP + N_FFT, N_FFT // 2 + max(w.shape[0] for w in waves))
        out = np.zeros((len(waves), size), dtype=np.float32)
        for i, w in enumerate(waves):
            out[i, N_FFT // 2 : N_FFT // 2 + w.shape[0]] = w
        return torch.from_numpy(out).to(self.device)

    # -- the LSTM states, pooled --------------------------------------------------------

    def encode(self, waves: list[np.ndarray]) -> np.ndarray:
        """``(n_clips, n_layers, hidden_size)`` float32: pooled LSTM states, or the speaker embedding."""
        import torch

        self.audio_batches += 1
        self.audio_clips += len(waves)
        waves = [self.preprocessed(w) for w in waves]
        with torch.inference_mode():
            if self.pooling == "utterance":
                return self._utterance(waves)[:, None, :]
            return self._pooled(waves)

    def preprocessed(self, wave: np.ndarray) -> np.ndarray:
        """What the model hears of a 16 kHz clip: volume raised, long silences cut (``preprocess_wav``)."""
        wave = normalized_volume(np.asarray(wave, dtype=np.float32))
        return wave if self.webrtcvad is None else trimmed_silences(wave, self.webrtcvad)

    def _pooled(self, waves) -> np.ndarray:
        import torch
        from torch.nn.utils.rnn import pack_padded_sequence, pad_packed_sequence

        n_frames = np.array([1 + w.shape[0] // HOP for w in waves])
        order = np.argsort(-n_frames, kind="stable")  # packed sequences go longest first
        frames = n_frames[order]
        signal = self._signals([waves[i] for i in order], int(frames[0]))
        stats = self.pooling == "stats"
        pools = [_Moments(len(waves), self.device, stats) for _ in self.lstms]
        states = [None] * len(self.lstms)  # (h, c) of each layer, carried across blocks
        for start in range(0, int(frames[0]), self.block_frames):
            active = int((frames > start).sum())  # clips still running: a prefix, as sorted
            steps = np.minimum(frames[:active] - start, self.block_frames)
            stop = start + int(steps[0])
            x = self._mel(signal[:active, start * HOP : (stop - 1) * HOP + N_FFT])
            x = pack_padded_sequence(x, torch.from_numpy(steps), batch_first=True)
            for k, lstm in enumerate(self.lstms):
                carried = None if states[k] is None else tuple(s[:, :active].contiguous() for s in states[k])
                x, states[k] = lstm(x, carried)
                h, _ = pad_packed_sequence(x, batch_first=True)  # zeros past each clip's frames
                pools[k].add(h, torch.as_tensor(steps, device=self.device))
        pooled = torch.stack([p.result() for p in pools], dim=1)  # (n, n_layers, hidden_size), sorted
        out = np.empty(pooled.shape, dtype=np.float32)
        out[order] = pooled.cpu().numpy()
        return out

    # -- the speaker embedding ----------------------------------------------------------

    def _utterance(self, waves) -> np.ndarray:
        """``VoiceEncoder.embed_utterance`` of each clip: its partial windows' embeddings, averaged."""
        import torch

        starts = [partial_starts(w.shape[0]) for w in waves]
        n_frames = max(s[-1] for s in starts) + PARTIAL_FRAMES
        mels = self._mel(self._signals(waves, n_frames)[:, : (n_frames - 1) * HOP + N_FFT])
        partials = torch.stack([mels[i, s : s + PARTIAL_FRAMES] for i, clip in enumerate(starts) for s in clip])
        x = partials
        for lstm in self.lstms:
            x, (h, _) = lstm(x)
        embeds = torch.relu(self.linear(h[-1]))
        embeds = embeds / embeds.norm(dim=1, keepdim=True).clamp(min=1e-12)
        owner = torch.as_tensor(np.repeat(np.arange(len(waves)), [len(s) for s in starts]), device=self.device)
        sums = torch.zeros(len(waves), HIDDEN, device=self.device).index_add_(0, owner, embeds)
        means = sums / torch.as_tensor([len(s) for s in starts], device=self.device)[:, None]
        return (means / means.norm(dim=1, keepdim=True).clamp(min=1e-12)).cpu().numpy()


class _Moments:
    """Per clip, the running frame count, mean and sum of squared deviations of one layer's states.

    Blocks merge with Chan et al.'s pairwise update, so a clip split into blocks
    pools as if it were whole, without the cancellation of a sum of squares.
    """

    def __init__(self, n, device, stats: bool):
        import torch

        self.stats = stats
        self.count = torch.zeros(n, 1, device=device)
        self.mean = torch.zeros(n, HIDDEN, device=device)
        self.m2 = torch.zeros(n, HIDDEN, device=device) if stats else None

    def add(self, h, steps):
        """Fold in the states ``h`` (active, frames, hidden) of the first ``active`` clips."""
        import torch

        active = h.shape[0]
        count_b = steps[:, None].float()
        mean_b = h.sum(dim=1) / count_b  # h is zero past each clip's frames
        count_a, mean_a = self.count[:active], self.mean[:active]
        total = count_a + count_b
        delta = mean_b - mean_a
        if self.stats:
            valid = (torch.arange(h.shape[1], device=h.device)[None, :] < steps[:, None])[..., None]
            m2_b = ((h - mean_b[:, None]) * valid).square().sum(dim=1)
            self.m2[:active] += m2_b + delta.square() * (count_a * count_b / total)
        self.mean[:active] = mean_a + delta * (count_b / total)
        self.count[:active] = total

    def result(self):
        import torch

        if not self.stats:
            return self.mean
        return torch.cat([self.mean, (self.m2 / self.count).sqrt()], dim=1)

