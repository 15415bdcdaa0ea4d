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

Speed on a CPU, where it runs on the input workers one clip at a time: frames
that see only the zero tail of a repeat-padded clip are not transformed, and the
intermediates are per-thread buffers, reused (``benchmarks/zero_shot_end_to_end.py``
prints it against the extractor).
"""

from __future__ import annotations

import math

import numpy as np

__all__ = ["ClapLogMel"]

_AMIN = 1e-10  # transformers' mel_floor and power_to_db min_value: the -100 dB clamp
_FLOOR_DB = 10.0 * math.log10(_AMIN)
# Clips per call on a GPU: a large batch is what keeps it busy, and 64 clips bound the
# transient complex128 spectrum to about 0.5 GB. A CPU takes one clip at a time (the
# input workers' way), in blocks of frames whose buffers stay in its caches.
_DEVICE_CHUNK = 64
_CPU_CHUNK = 1
_CPU_FRAMES = 128


class ClapLogMel:
    """``ClapFeatureExtractor``'s log-mel spectrogram of whole windows, as a torch function.

    ``mel(waves)`` takes a ``(batch, window)`` array or tensor of float samples
    and returns a float32 tensor on ``device`` of shape ``(batch, copies,
    frames, n_mels)``: ``copies`` is 4 for fused checkpoints, 1 otherwise.

    On a CPU every intermediate lives in buffers kept per thread (the input workers
    call it in parallel) and reused clip after clip: fresh ones cost a page fault per
    4 kB, about as much CPU as the FFT itself when results are kept in between.
    """

    def __init__(self, feature_extractor, *, fused: bool, device="cpu"):
        import threading

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
        self._scratch = threading.local()

    def __getstate__(self):  # the per-thread buffers stay with their threads
        state = self.__dict__.copy()
        del state["_scratch"]
        return state

    def __setstate__(self, state):
        import threading

        self.__dict__.update(state)
        self._scratch = threading.local()

    def __call__(self, waves):
        import torch

        waves = torch.as_tensor(waves)
        if waves.ndim != 2:
            raise ValueError(f"expected a (batch, samples) array of waveforms, got shape {tuple(waves.shape)}")
        waves = waves.to(self.device)
        frames = self._frame_count(waves.shape[1])
        on_cpu = self.device.type == "cpu"
        chunk = _CPU_CHUNK if on_cpu else _DEVICE_CHUNK
        mel = torch.empty((waves.shape[0], 1, frames, self._filters.shape[1]), device=self.device)
        with torch.no_grad():
            for s in range(0, waves.shape[0], chunk):
                self._log_mel(waves[s : s + chunk], mel[s : s + chunk, 0], _CPU_FRAMES if on_cpu else frames)
        # repeat, not expand: the model gets its own memory, as from the extractor
        return mel.repeat(1, self.copies, 1, 1) if self.copies > 1 else mel

    def _log_mel(self, waves, out, block: int) -> None:
        """``out[:] =`` the log-mel of ``waves``, (batch, frames, n_mels), ``block`` frames at a time."""
        import torch

        levels = self._block_levels(waves)
        needed = self._frames_with_sound(levels, waves.shape[1])
        out[:, needed:] = _FLOOR_DB
        # Powers above float32's range (a clip far louder than full scale, e.g. int16 counts
        # given as floats, or worse) would overflow the float32 sums: such clips are scaled
        # by a power of two, which is exact, and the decibels shifted back after the log.
        peak = levels.amax(dim=1, keepdim=True).to(self.fft_dtype)
        loud = bool((peak > 1).any())
        gain = torch.where(peak > 1, torch.exp2(-torch.ceil(torch.log2(peak))), torch.ones_like(peak))
        frames = self._padded(waves, needed, gain if loud else None).unfold(-1, self.n_fft, self.hop)
        for s in range(0, needed, block):
            e = min(needed, s + block)
            out[:, s:e] = self._mel_power(frames[:, s:e])
        # 10 log10(max(mel / gain^2, AMIN)), taken in decibels (log10 is monotonic) so
        # that the clamp applies to the unscaled power
        db = out[:, :needed]
        db.log10_().mul_(10.0)
        if loud:
            db += (-20.0 * torch.log10(gain)).to(torch.float32).unsqueeze(-1)  # (batch, 1, 1)
        db.clamp_min_(_FLOOR_DB)

    def _frame_count(self, n: int) -> int:
        """Frames of a clip of ``n`` samples, as ``torch.stft(center=True)`` makes them."""
        return 1 + n // self.hop

    def _block_levels(self, waves):
        """(batch, blocks): the largest |sample| of each ``hop`` samples, in one pass over the clips."""
        from torch.nn.functional import pad

        if waves.shape[1] % self.hop:
            waves = pad(waves, (0, -waves.shape[1] % self.hop))
        return waves.view(waves.shape[0], -1, self.hop).abs().amax(dim=2)

    def _frames_with_sound(self, levels, n: int) -> int:
        """Leading frames that may see a nonzero sample; the rest see only zeros.

        A repeat-padded short clip ends in zeros (30 % of a 3.5 s clip's window): frames
        there have no power, whose log-mel is the clamp, exactly what the full
        computation gives them. The reflect padding mirrors the last 512 samples into the
        last frames, so a tail shorter than that leaves every frame to transform.
        """
        import torch

        half, frames = self.n_fft // 2, self._frame_count(n)
        blocks = torch.nonzero(levels.amax(dim=0) > 0)
        # the last sample with sound is at most the last one of the last block with sound
        last = min(n - 1, (int(blocks[-1]) + 1) * self.hop - 1) if len(blocks) else -1
        if last >= n - 1 - half:
            return frames
        return min(frames, (last + half) // self.hop + 1)  # frame f starts at sample f*hop - half

    def _padded(self, waves, frames: int, gain):
        """The samples the first ``frames`` frames see, in the FFT's dtype, padded as
        ``torch.stft(center=True, pad_mode="reflect")`` pads: the ends mirrored (a
        silent tail's mirror is zeros), times ``gain`` where given."""
        b, n = waves.shape
        half = self.n_fft // 2
        length = (frames - 1) * self.hop + self.n_fft
        span = min(n, length - half)
        padded = self._buffer("padded", (b, length), self.fft_dtype)
        padded[:, half : half + span] = waves[:, :span]
        padded[:, :half] = waves[:, 1 : half + 1].flip(1)
        if half + span < length:
            if frames == self._frame_count(n):  # every frame: the end mirrored too
                padded[:, half + n :] = waves[:, n - 1 - (length - half - n) : n - 1].flip(1)
            else:
                padded[:, half + span :] = 0
        if gain is not None:
            padded *= gain
        return padded

    def _mel_power(self, frames):
        """Mel power of windowed frames (batch, k, n_fft) -> (batch, k, n_mels), float32."""
        import torch

        shape = frames.shape[:2]
        windowed = torch.mul(frames, self._window, out=self._buffer("windowed", frames.shape, self.fft_dtype))
        complex_dtype = torch.complex128 if self.fft_dtype == torch.float64 else torch.complex64
        spec = torch.fft.rfft(
            windowed, dim=-1, out=self._buffer("spec", (*shape, self.n_fft // 2 + 1), complex_dtype)
        )
        parts = torch.view_as_real(spec[..., : self.n_bins])
        power = self._buffer("power", (*shape, self.n_bins), self.fft_dtype)
        torch.mul(parts[..., 0], parts[..., 0], out=power)
        power.addcmul_(parts[..., 1], parts[..., 1])
        power32 = self._buffer("power32", power.shape, torch.float32)
        power32.copy_(power)
        return power32 @ self._filters

    def _buffer(self, name: str, shape: tuple, dtype):
        """A tensor for an intermediate: on a CPU this thread's own, reused from call to call."""
        import torch

        if self.device.type != "cpu":  # the caching allocator reuses device memory already
            return torch.empty(shape, dtype=dtype, device=self.device)
        size = math.prod(shape)
        held = getattr(self._scratch, name, None)
        if held is None or held.dtype != dtype or held.numel() < size:
            held = torch.empty(size, dtype=dtype)
            setattr(self._scratch, name, held)
        return held[:size].view(shape)
