"""(b) FM embedding: FMEmbedder vs a raw batched forward (the limit) and a per-file loop (EmoBox style).

One WavLM-Large-size model (random weights) in memory, used by all three:
- raw: pre-decoded 16 kHz waveforms, length-sorted batches, feature extractor,
  one forward with the attention mask, masked mean of the last layer: the
  model's compute and nothing else (decoding not timed);
- ours: ``FMEmbedder.transform(paths)`` from empty caches: hashing, decoding,
  length sorting, batching, every layer pooled, caching;
- per-file: for each path decode, extract, forward one clip, mean-pool.
Target: ours >= 0.9x the raw forward's throughput.
"""

from __future__ import annotations

import numpy as np
from _common import Timer, base_parser, header, ravdess, wavlm


def main():
    parser = base_parser(__doc__.splitlines()[0])
    parser.add_argument("--clips", type=int, default=8)
    parser.add_argument("--batch-size", type=int, default=8)
    parser.add_argument("--size", choices=["large", "base"], default="large", help="WavLM-Large or -Base+ sizes")
    parser.add_argument(
        "--repeats", type=int, default=3, help="time the methods this many times, interleaved; keep each one's best"
    )
    args = parser.parse_args()
    header(f"FM embedding vs raw forward vs per-file loop (benchmark b), WavLM-{args.size} size", args)

    import warnings

    import torch

    from sklearn_zsfuse import FMEmbedder, clear_caches
    from sklearn_zsfuse.audio import as_clip_list, decode
    from sklearn_zsfuse.encoders import get_speech_encoder

    model_dir = wavlm(args.models_dir, args.size)
    paths, _, _ = ravdess(args.data, args.clips)
    embedder = FMEmbedder(model_dir, device="cpu", batch_size=args.batch_size).fit()
    encoder = get_speech_encoder(model_dir, device="cpu")
    model, fe = encoder.model, encoder.feature_extractor
    waves = [decode(c, 16000) for c in as_clip_list(paths, None)]
    seconds = sum(len(w) for w in waves) / 16000
    print(f"{len(paths)} RAVDESS clips ({seconds:.0f} s of audio), batch_size={args.batch_size}, "
          f"{sum(p.numel() for p in model.parameters()) / 1e6:.0f}M parameters", flush=True)

    def pooled_last(batch):
        inputs = fe(batch, sampling_rate=16000, padding=True, return_attention_mask=True, return_tensors="pt")
        kwargs = {"attention_mask": inputs["attention_mask"]} if encoder.uses_mask else {}
        with torch.inference_mode():
            hidden = model(inputs["input_values"], **kwargs).last_hidden_state
            frames = model._get_feat_extract_output_lengths(inputs["attention_mask"].sum(-1))
            mask = (torch.arange(hidden.shape[1])[None, :] < frames[:, None]).float()[..., None]
            return ((hidden * mask).sum(1) / frames[:, None]).numpy()

    def raw():
        order = np.argsort([-len(w) for w in waves], kind="stable")  # longest first, as FMEmbedder
        out = np.empty((len(waves), model.config.hidden_size), dtype=np.float32)
        step = args.batch_size if encoder.uses_mask else 1  # group-norm models: no padding
        for s in range(0, len(order), step):
            idx = order[s : s + step]
            out[idx] = pooled_last([waves[i] for i in idx])
        return out

    def ours():
        clear_caches()
        return embedder.transform(paths)

    def per_file():
        out = []
        for clip in as_clip_list(paths, None):
            out.append(pooled_last([decode(clip, 16000)])[0])
        return np.stack(out)

    # torch deprecates the mask types transformers passes to attention (this script's process).
    warnings.filterwarnings("ignore", message=".*mismatched key_padding_mask.*")
    # Warm-up (first-call allocations), on one short clip.
    pooled_last([waves[0][:16000]])
    times = {}
    results = {}
    for _ in range(args.repeats):
        for name, fn in (("raw batched forward", raw), ("FMEmbedder", ours), ("per-file loop", per_file)):
            with Timer() as t:
                results[name] = fn()
            times[name] = min(times.get(name, np.inf), t.seconds)
            print(f"{name:20s}: {t.seconds:7.1f} s  ({len(paths) / t.seconds:.2f} clips/s, "
                  f"real-time factor {t.seconds / seconds:.3f})", flush=True)
    agree = np.abs(results["FMEmbedder"] - results["raw batched forward"]).max()
    scale = np.abs(results["raw batched forward"]).max()
    print(f"agreement: max |ours - raw| = {agree:.2e} (values up to {scale:.2e})")
    limit = times["raw batched forward"] / times["FMEmbedder"]
    loop = times["per-file loop"] / times["FMEmbedder"]
    print(f"RATIO throughput vs raw forward = {limit:.2f}x  (target >= 0.9x: {'met' if limit >= 0.9 else 'NOT met'})")
    print(f"RATIO speedup over per-file loop = {loop:.2f}x")


if __name__ == "__main__":
    main()
