"""Tiny randomly initialised transformers models built from configs (no downloads), saved to folders."""

from __future__ import annotations

import json
from pathlib import Path

CHARS = list("abcdefghijklmnopqrstuvwxyz' ")


def build_asr(path: Path, *, blank_bias: float | None = None) -> Path:
    """A Wav2Vec2 CTC model + character tokenizer + feature extractor.

    ``blank_bias`` (e.g. -5) pushes the random head away from the CTC blank and the special tokens so it emits letters: tests
    that need a non-empty (garbage) transcript set it.
    """
    import torch
    from transformers import (Wav2Vec2Config, Wav2Vec2CTCTokenizer, Wav2Vec2FeatureExtractor, Wav2Vec2ForCTC,
                              Wav2Vec2Processor)

    torch.manual_seed(0)
    path.mkdir(parents=True, exist_ok=True)
    vocab = {"<pad>": 0, "<s>": 1, "</s>": 2, "<unk>": 3, "|": 4}
    for c in CHARS[:-1]:
        vocab[c] = len(vocab)
    (path / "vocab.json").write_text(json.dumps(vocab))
    tok = Wav2Vec2CTCTokenizer(str(path / "vocab.json"), word_delimiter_token="|")
    fe = Wav2Vec2FeatureExtractor(feature_size=1, sampling_rate=16_000, padding_value=0.0, do_normalize=True,
                                  return_attention_mask=False)
    cfg = Wav2Vec2Config(vocab_size=len(vocab), hidden_size=32, num_hidden_layers=2, num_attention_heads=2,
                         intermediate_size=64, conv_dim=(16, 16), conv_stride=(5, 4), conv_kernel=(10, 4),
                         num_conv_pos_embeddings=16, num_conv_pos_embedding_groups=2, pad_token_id=0)
    model = Wav2Vec2ForCTC(cfg).eval()
    if blank_bias is not None:
        with torch.no_grad():
            for special in ("<pad>", "<s>", "</s>", "<unk>"):
                model.lm_head.bias[vocab[special]] = blank_bias
    model.save_pretrained(path)
    Wav2Vec2Processor(feature_extractor=fe, tokenizer=tok).save_pretrained(path)
    return path


def build_llm(path: Path) -> Path:
    """A GPT-2 sized-down chat model with a word-level tokenizer and a chat template."""
    import torch
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import GPT2Config, GPT2LMHeadModel, PreTrainedTokenizerFast

    torch.manual_seed(0)
    path.mkdir(parents=True, exist_ok=True)
    words = ["<unk>", "<eos>", "system", "user", "assistant", "hello", "the", "answer", "is", "yes",
             "no", "you", "a", "voice", "assistant", "speak", "slowly", "happy"] + [c for c in CHARS if c.strip()]
    vocab = {w: i for i, w in enumerate(dict.fromkeys(words))}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.Whitespace()
    tok = PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", eos_token="<eos>", pad_token="<eos>")
    tok.chat_template = ("{% for m in messages %}{{ m['role'] }} {{ m['content'] }} <eos> {% endfor %}"
                         "{% if add_generation_prompt %}assistant {% endif %}")
    tok.save_pretrained(path)
    cfg = GPT2Config(vocab_size=len(vocab), n_positions=512, n_embd=32, n_layer=2, n_head=2,
                     bos_token_id=1, eos_token_id=1, pad_token_id=1)
    model = GPT2LMHeadModel(cfg).eval()
    # Never emit the end token: a random model would otherwise often answer with nothing.
    with torch.no_grad():
        model.lm_head.weight[1].zero_()
        model.transformer.wte.weight[1].zero_()
    model.save_pretrained(path)
    model.generation_config.save_pretrained(path)
    return path


def build_tts(path: Path) -> Path:
    """A VITS model from a tiny VitsConfig + VitsTokenizer over a character vocab.json."""
    import torch
    from transformers import VitsConfig, VitsModel, VitsTokenizer

    torch.manual_seed(0)
    path.mkdir(parents=True, exist_ok=True)
    vocab = {c: i for i, c in enumerate(["<pad>", "<unk>"] + CHARS + list(".,?!0123456789-"))}
    (path / "vocab.json").write_text(json.dumps(vocab))
    tok = VitsTokenizer(str(path / "vocab.json"), pad_token="<pad>", unk_token="<unk>", add_blank=True, normalize=True, phonemize=False, language=None)
    tok.save_pretrained(path)
    cfg = VitsConfig(
        vocab_size=len(vocab), hidden_size=16, num_hidden_layers=1, num_attention_heads=2, ffn_dim=32,
        flow_size=16, spectrogram_bins=33, upsample_initial_channel=16, upsample_rates=[4, 4],
        upsample_kernel_sizes=[8, 8], resblock_kernel_sizes=[3], resblock_dilation_sizes=[[1, 3]],
        prior_encoder_num_flows=1, prior_encoder_num_wavenet_layers=1, posterior_encoder_num_wavenet_layers=1,
        duration_predictor_num_flows=1, duration_predictor_filter_channels=16, depth_separable_num_layers=1,
        sampling_rate=16_000,
    )
    VitsModel(cfg).eval().save_pretrained(path)
    return path
