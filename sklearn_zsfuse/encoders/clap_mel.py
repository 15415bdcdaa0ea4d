"""The log-mel front end of Hugging Face CLAP checkpoints, in torch, batched, on the model's device.

It computes what ``transformers.ClapFeatureExtractor._get_input_mel`` computes
for a clip of exactly one window (no random crop, no padding): a centred STFT
(periodic Hann window, reflect padding), the power spectrum, the extractor's
own mel filter bank (HTK for fused checkpoints, Slaney for the others) and
``10 * log10(max(mel, 1e-10))``; fused checkpoints get the 4 stacked copies they
expect for a clip that is not longer than the window.

Precision: the FFT runs in float64, the rest in float32. transformers runs the
whole chain in float64 numpy. A float32 FFT has a noise floor about 140 dB
below a frame's energy, and speech resampled from 16 kHz has mel bands above
8 kHz that sit right there, near the -100 dB clamp: on RAVDESS clips a float32
FFT is up to 2.8 dB off in those bands (0.02 dB with the Slaney bank), while the
float64 FFT matches to the float32 rounding of the output (< 1e-5 dB). After the
FFT nothing cancels (sums of positive powers with positive weights), so float32
loses nothing there. The FFT is a small part of the work even in float64 (about
50 MFLOP per 10 s clip against 12 GFLOP for the HTSAT forward pass). Devices
without float64 (Apple's MPS) use float32 throughout.
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ClapLogMel"]

_AMIN = 1e-10  # transformers' mel_floor and power_to_db min_value: the -100 dB clamp
# Clips per STFT call. On a CPU the STFT of a batch overflows the caches (one clip at a
# time is ~2.5x faster); on a GPU a large batch is what keeps it busy, and 64 clips bound
# the transient complex128 spectrum to about 0.5 GB.
_CPU_CHUNK = 1
_DEVICE_CHUNK = 64


class ClapLogMel:
    """``ClapFeatureExtractor``'s log-mel spectrogram of whole windows, as a torch function.

    ``mel(waves)`` takes a ``(batch, window)`` array or tensor of float samples
    and returns a float32 tensor on ``device`` of shape ``(batch, copies,
    frames, n_mels)``: ``copies`` is 4 for fused checkpoints, 1 otherwise.
    """

    def __init__(self, feature_extractor, *, fused: bool, device="cpu"):
        import torch

        fe = feature_extractor
        filters = np.asarray(fe.mel_filters if fused else fe.mel_filters_slaney)  # (n_freq, n_mels)
        # Frequency bins above the filters' top (14 kHz of 24) are computed by the FFT but
        # never weighed: skipping them saves 40 % of the power spectrum.
        used = np.flatnonzero(filters.any(axis=1))
        self.n_bins = int(used[-1]) + 1 if used.size else filters.shape[0]
        self.n_fft = int(fe.fft_window_size)
        self.hop = int(fe.hop_length)
        self.copies = 4 if fused else 1
        self.device = torch.device(device)
        self.fft_dtype = torch.float32 if self.device.type == "mps" else torch.float64
        self._window = torch.hann_window(self.n_fft, periodic=True, dtype=self.fft_dtype, device=self.device)
        self._filters = torch.as_tensor(filters[: self.n_bins], dtype=torch.float32, device=self.device)

    def __call__(self, waves):
        import torch

        waves = torch.as_tensor(waves)
        if waves.ndim != 2:
            raise ValueError(f"expected a (batch, samples) array of waveforms, got shape {tuple(waves.shape)}")
        waves = waves.to(self.device)
        chunk = _CPU_CHUNK if self.device.type == "cpu" else _DEVICE_CHUNK
        with torch.no_grad():
            mel = torch.cat([self._log_mel(waves[s : s + chunk]) for s in range(0, waves.shape[0], chunk)])
            # repeat, not expand: the model gets its own memory, as from the extractor
            return mel.unsqueeze(1).repeat(1, self.copies, 1, 1)

    def _log_mel(self, waves):
        import torch

        waves = waves.to(self.fft_dtype)
        # Powers above float32's range (a clip far louder than full scale, e.g. int16 counts
        # given as floats, or worse) would overflow the float32 sums: such clips are scaled
        # by a power of two, which is exact, and the decibels shifted back after the log.
        peak = waves.abs().amax(dim=1, keepdim=True)
        gain = torch.where(peak > 1, torch.exp2(-torch.ceil(torch.log2(peak))), torch.ones_like(peak))
        spec = torch.stft(
            waves * gain,
            self.n_fft,
            self.hop,
            window=self._window,
            center=True,
            pad_mode="reflect",
            return_complex=True,
        )[:, : self.n_bins]  # (batch, bins, frames)
        parts = torch.view_as_real(spec)
        power = (parts[..., 0].square() + parts[..., 1].square()).to(torch.float32)
        mel = power.transpose(1, 2) @ self._filters  # (batch, frames, n_mels)
        # 10 log10(max(mel / gain^2, AMIN)), taken in decibels (log10 is monotonic) so
        # that the clamp applies to the unscaled power
        shift = (-20.0 * torch.log10(gain)).to(torch.float32).unsqueeze(-1)  # (batch, 1, 1)
        return torch.clamp_min(10.0 * torch.log10(mel) + shift, 10.0 * math.log10(_AMIN))
