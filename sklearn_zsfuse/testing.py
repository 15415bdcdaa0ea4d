"""Builders of tiny, randomly initialised models of the real architectures.

They let tests, documentation and offline users exercise the exact
``from_pretrained(path)`` code path that real checkpoints take, with no network
and in seconds on a CPU. The weights are random: scores they produce carry no
information about emotion.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["make_tiny_clap", "make_tiny_wavlm", "TOKENIZER_CORPUS"]

TOKENIZER_CORPUS = (
    "this person is feeling angry",
    "a recording of a happy voice",
    "the speaker sounds sad and calm",
    "speech with a fearful, surprised or disgusted tone",
    "a neutral person is speaking",
    "kids are talking by the door",
    "dogs are sitting by the door",
    "an emotional utterance of frustration, excitement, boredom and contempt",
)


def _transformers_major() -> int:
    import transformers

    return int(transformers.__version__.split(".")[0])


def _train_tokenizer(directory: Path, vocab_size: int = 300, corpus=TOKENIZER_CORPUS):
    from tokenizers import ByteLevelBPETokenizer
    from transformers import RobertaTokenizer

    bpe = ByteLevelBPETokenizer()
    bpe.train_from_iterator(
        list(corpus),
        vocab_size=vocab_size,
        min_frequency=1,
        special_tokens=["<s>", "<pad>", "</s>", "<unk>", "<mask>"],
        show_progress=False,
    )
    raw = directory / "_bpe"
    raw.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(raw))
    if _transformers_major() >= 5:
        import json

        vocab = json.loads((raw / "vocab.json").read_text(encoding="utf-8"))
        merges = [
            tuple(line.split())
            for line in (raw / "merges.txt").read_text(encoding="utf-8").splitlines()[1:]
            if line.strip()
        ]
        tokenizer = RobertaTokenizer(vocab=vocab, merges=merges, model_max_length=77)
    else:  # transformers 4 builds the tokenizer from files
        tokenizer = RobertaTokenizer(
            vocab_file=str(raw / "vocab.json"),
            merges_file=str(raw / "merges.txt"),
            model_max_length=77,
        )
    return tokenizer, raw


def make_tiny_clap(
    path: str | os.PathLike,
    *,
    enable_fusion: bool = False,
    projection_dim: int = 16,
    seed: int = 0,
) -> Path:
    """Save a tiny random CLAP (HTSAT audio tower + RoBERTa text tower) to ``path``.

    The directory holds ``config.json``, safetensors weights, a BPE tokenizer
    trained on :data:`TOKENIZER_CORPUS` and the CLAP feature extractor (48 kHz,
    10 s window), so ``ClapModel.from_pretrained(path)`` and
    ``ClapProcessor.from_pretrained(path)`` load it like a hub checkpoint.
    """
    import shutil

    import torch
    from transformers import ClapConfig, ClapFeatureExtractor, ClapModel, ClapProcessor

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    tokenizer, raw = _train_tokenizer(path)
    text_config = dict(
        vocab_size=len(tokenizer),
        hidden_size=16,
        num_hidden_layers=1,
        num_attention_heads=2,
        intermediate_size=32,
        max_position_embeddings=80,
        projection_dim=projection_dim,
    )
    audio_config = dict(
        hidden_size=64,  # patch_embeds_hidden_size * 2 ** (len(depths) - 1)
        patch_embeds_hidden_size=8,
        depths=[1, 1, 1, 1],
        num_attention_heads=[1, 1, 1, 1],
        window_size=8,
        spec_size=256,
        projection_dim=projection_dim,
        enable_fusion=enable_fusion,
        fusion_type="aff_2d" if enable_fusion else None,
        num_hidden_layers=4,
    )
    config = ClapConfig(
        text_config=text_config,
        audio_config=audio_config,
        projection_dim=projection_dim,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = ClapModel(config).eval()
    model.save_pretrained(path)
    feature_extractor = ClapFeatureExtractor(
        truncation="fusion" if enable_fusion else "rand_trunc",
        padding="repeatpad",
    )
    ClapProcessor(feature_extractor=feature_extractor, tokenizer=tokenizer).save_pretrained(path)
    shutil.rmtree(raw)
    return path


def make_tiny_wavlm(path: str | os.PathLike, *, seed: int = 0, hidden_size: int = 32) -> Path:
    """Save a tiny random WavLM (conv feature encoder + transformer) to ``path``.

    Layer-norm feature extraction and an attention-mask-aware feature extractor,
    as in WavLM-Large, so padded batches give the same per-clip results.
    """
    import torch
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = WavLMConfig(
        hidden_size=hidden_size,
        num_hidden_layers=2,
        num_attention_heads=2,
        intermediate_size=64,
        conv_dim=(16, 16, 16, 16, 16, 16, 16),
        num_conv_pos_embeddings=16,
        num_conv_pos_embedding_groups=2,
        feat_extract_norm="layer",
        do_stable_layer_norm=True,
        num_buckets=32,
        max_bucket_distance=200,
    )
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = WavLMModel(config).eval()
    model.save_pretrained(path)
    Wav2Vec2FeatureExtractor(
        feature_size=1,
        sampling_rate=16000,
        padding_value=0.0,
        do_normalize=True,
        return_attention_mask=True,
    ).save_pretrained(path)
    return path
