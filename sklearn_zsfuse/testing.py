"""Builders of tiny, randomly initialised models of the real architectures.

They let tests, documentation and offline users exercise the exact
``from_pretrained(path)`` code path that real checkpoints take, with no network
and in seconds on a CPU. The weights are random: scores they produce carry no
information about emotion.
"""

from __future__ import annotations

import os
from pathlib import Path

__all__ = ["make_random_ge2e", "make_tiny_clap", "make_tiny_text_model", "make_tiny_wavlm", "TOKENIZER_CORPUS"]

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


def make_random_ge2e(path: str | os.PathLike, *, seed: int = 0) -> Path:
    """Save a GE2E speaker encoder with random weights, in Resemblyzer's format, to the file ``path``.

    The real architecture (40 mel bands, 3 LSTM layers of 256, a 256-d projection; 5.7 MB)
    with PyTorch's default initialisation, for ``GE2E(checkpoint=path)`` where the
    Resemblyzer wheel is not installed.
    """
    import torch

    from .encoders.ge2e import HIDDEN, N_LSTM, N_MELS

    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        lstm = torch.nn.LSTM(N_MELS, HIDDEN, N_LSTM, batch_first=True)
        linear = torch.nn.Linear(HIDDEN, HIDDEN)
    state = {f"lstm.{k}": v for k, v in lstm.state_dict().items()}
    state.update({f"linear.{k}": v for k, v in linear.state_dict().items()})
    torch.save({"step": 0, "model_state": state}, path)
    return path


def make_tiny_wavlm(
    path: str | os.PathLike, *, seed: int = 0, hidden_size: int = 32, num_hidden_layers: int = 2
) -> Path:
    """Save a tiny random WavLM (conv feature encoder + transformer) to ``path``.

    Layer-norm feature extraction and an attention-mask-aware feature extractor,
    as in WavLM-Large, so padded batches give the same per-clip results.
    ``num_hidden_layers=24`` has WavLM-Large's layers (25 hidden states), still tiny.
    """
    import torch
    from transformers import Wav2Vec2FeatureExtractor, WavLMConfig, WavLMModel

    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    config = WavLMConfig(
        hidden_size=hidden_size,
        num_hidden_layers=num_hidden_layers,
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


TEXT_MODEL_KINDS = ("gpt2", "bert", "roberta", "bart")


def _bpe_files(directory: Path, special_tokens: list[str], specials_first: bool) -> tuple[dict, list, Path]:
    import json

    from tokenizers import ByteLevelBPETokenizer

    bpe = ByteLevelBPETokenizer()
    # RoBERTa/BART put <s>, <pad>, ... first (the pad id is the position padding index);
    # GPT-2 starts with the byte alphabet, so "!" (msclap's pad token) is id 0.
    bpe.train_from_iterator(
        list(TOKENIZER_CORPUS),
        vocab_size=320,
        min_frequency=1,
        special_tokens=special_tokens if specials_first else [],
        show_progress=False,
    )
    raw = directory / "_bpe"
    raw.mkdir(parents=True, exist_ok=True)
    bpe.save_model(str(raw))
    vocab = json.loads((raw / "vocab.json").read_text(encoding="utf-8"))
    for token in special_tokens:
        vocab.setdefault(token, len(vocab))
    (raw / "vocab.json").write_text(json.dumps(vocab), encoding="utf-8")
    merges = [
        tuple(line.split())
        for line in (raw / "merges.txt").read_text(encoding="utf-8").splitlines()[1:]
        if line.strip()
    ]
    return vocab, merges, raw


def _bpe_tokenizer(cls, directory: Path, special_tokens: list[str], specials_first: bool = True, **kwargs):
    vocab, merges, raw = _bpe_files(directory, special_tokens, specials_first)
    if _transformers_major() >= 5:
        return cls(vocab=vocab, merges=merges, **kwargs), raw
    return cls(vocab_file=str(raw / "vocab.json"), merges_file=str(raw / "merges.txt"), **kwargs), raw


def _wordpiece_tokenizer(directory: Path):
    from transformers import BertTokenizer

    words = sorted({w for line in TOKENIZER_CORPUS for w in line.replace(",", " ,").split()})
    chars = sorted({c for line in TOKENIZER_CORPUS for c in line if not c.isspace()})
    vocab = ["[PAD]", "[UNK]", "[CLS]", "[SEP]", "[MASK]", *words, *chars, *(f"##{c}" for c in chars)]
    raw = directory / "_wordpiece"
    raw.mkdir(parents=True, exist_ok=True)
    vocab = list(dict.fromkeys(vocab))
    (raw / "vocab.txt").write_text("\n".join(vocab) + "\n", encoding="utf-8")
    if _transformers_major() >= 5:
        return BertTokenizer(vocab={t: i for i, t in enumerate(vocab)}, do_lower_case=True), raw
    return BertTokenizer(vocab_file=str(raw / "vocab.txt"), do_lower_case=True), raw


def make_tiny_text_model(
    path: str | os.PathLike,
    kind: str,
    *,
    hidden_size: int = 768,
    max_positions: int = 128,
    seed: int = 0,
) -> Path:
    """Save a one-layer random text model and its tokenizer, in the layout of a hub repo.

    ``kind`` is "gpt2", "bert", "roberta" or "bart": the text towers that msclap
    ('gpt2', 'bert-base-uncased') and laion_clap ('roberta-base',
    'bert-base-uncased', 'facebook/bart-base') build. ``hidden_size`` defaults to
    768 because both packages hard-code that width for their projections. The
    tokenizer is trained on :data:`TOKENIZER_CORPUS`.
    """
    import shutil

    import torch
    import transformers as tf

    if kind not in TEXT_MODEL_KINDS:
        raise ValueError(f"kind must be one of {TEXT_MODEL_KINDS}, got {kind!r}")
    path = Path(path)
    path.mkdir(parents=True, exist_ok=True)
    heads = 12 if hidden_size % 12 == 0 else 1
    if kind == "gpt2":
        tokenizer, raw = _bpe_tokenizer(
            tf.GPT2Tokenizer, path, ["<|endoftext|>"], specials_first=False, unk_token="<|endoftext|>",
            bos_token="<|endoftext|>", eos_token="<|endoftext|>",
        )
        config = tf.GPT2Config(
            vocab_size=len(tokenizer), n_embd=hidden_size, n_layer=1, n_head=heads,
            n_positions=max_positions, bos_token_id=tokenizer.bos_token_id,
            eos_token_id=tokenizer.eos_token_id,
        )
        model_cls = tf.GPT2Model
    elif kind == "bert":
        tokenizer, raw = _wordpiece_tokenizer(path)
        config = tf.BertConfig(
            vocab_size=len(tokenizer), hidden_size=hidden_size, num_hidden_layers=1,
            num_attention_heads=heads, intermediate_size=64, max_position_embeddings=max_positions,
        )
        model_cls = tf.BertModel
    else:
        specials = ["<s>", "<pad>", "</s>", "<unk>", "<mask>"]
        cls = tf.RobertaTokenizer if kind == "roberta" else tf.BartTokenizer
        tokenizer, raw = _bpe_tokenizer(cls, path, specials, model_max_length=max_positions - 2)
        common = dict(vocab_size=len(tokenizer), pad_token_id=tokenizer.pad_token_id,
                      bos_token_id=tokenizer.bos_token_id, eos_token_id=tokenizer.eos_token_id)
        if kind == "roberta":
            config = tf.RobertaConfig(
                hidden_size=hidden_size, num_hidden_layers=1, num_attention_heads=heads,
                intermediate_size=64, max_position_embeddings=max_positions + 2, **common,
            )
            model_cls = tf.RobertaModel
        else:
            config = tf.BartConfig(
                d_model=hidden_size, encoder_layers=1, decoder_layers=1, encoder_attention_heads=heads,
                decoder_attention_heads=heads, encoder_ffn_dim=64, decoder_ffn_dim=64,
                max_position_embeddings=max_positions, decoder_start_token_id=tokenizer.eos_token_id,
                forced_eos_token_id=tokenizer.eos_token_id, **common,
            )
            model_cls = tf.BartModel
    with torch.random.fork_rng(devices=[]):
        torch.manual_seed(seed)
        model = model_cls(config).eval()
    model.save_pretrained(path)
    tokenizer.save_pretrained(path)
    shutil.rmtree(raw)
    return path
