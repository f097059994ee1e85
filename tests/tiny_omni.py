"""Tiny randomly initialised speaking Omni models (Qwen2.5-Omni, Qwen3-Omni) with tokenizer + feature extractor."""

from __future__ import annotations

from pathlib import Path

# Special tokens of the Qwen2.5-Omni prompt format, given small ids in a tiny vocabulary.
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>",
           "<|IMAGE|>", "<|VIDEO|>", "<|vision_bos|>", "<|vision_eos|>", "<tts_pad>", "<tts_text_bos>",
           "<tts_text_eos>", "<tts_text_bos_single>"]
WORDS = ["system", "user", "assistant", "you", "are", "a", "helpful", "voice", "hello", "the", "answer", "is",
         "yes", "no", "speak", "slowly", "happy", "Qwen", "virtual", "human"]
CODEC_VOCAB = 64


def _word_tokenizer(path: Path, special: list[str], chars: str, extra: dict[str, str],
                    **kw) -> dict[str, int]:
    """Save a word-level tokenizer (specials, a few words, single characters) to ``path``; return its
    vocabulary. Special tokens split ``<|im_start|>user`` into the marker and the role word."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate(special + ["<unk>"] + WORDS + list(chars))}
    tk = Tokenizer(models.WordLevel(vocab=vocab, unk_token="<unk>"))
    tk.pre_tokenizer = pre_tokenizers.WhitespaceSplit()
    tk.add_special_tokens(special)
    PreTrainedTokenizerFast(tokenizer_object=tk, unk_token="<unk>", eos_token="<|im_end|>", pad_token="<|endoftext|>",
                            extra_special_tokens=extra, **kw).save_pretrained(path)
    return vocab


def build_omni(path: Path) -> Path:
    import torch
    from transformers import Qwen2_5OmniConfig, Qwen2_5OmniForConditionalGeneration, WhisperFeatureExtractor

    torch.manual_seed(0)
    path.mkdir(parents=True, exist_ok=True)
    extra = {"audio_token": "<|AUDIO|>", "image_token": "<|IMAGE|>", "video_token": "<|VIDEO|>",
             "audio_bos_token": "<|audio_bos|>", "audio_eos_token": "<|audio_eos|>",
             "vision_bos_token": "<|vision_bos|>", "vision_eos_token": "<|vision_eos|>"}
    vocab = _word_tokenizer(path, SPECIAL, "abcdefghijklmnopqrstuvwxyz.,!?\n", extra, additional_special_tokens=SPECIAL)
    # Short feature windows: the real model pads every instruction to 30 s of 128 mel bins.
    WhisperFeatureExtractor(feature_size=16, sampling_rate=16_000, chunk_length=2, n_fft=400,
                            hop_length=160).save_pretrained(path)

    rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 2, 2]}
    hidden = 32
    thinker = {
        "audio_config": {"d_model": hidden, "encoder_attention_heads": 2, "encoder_ffn_dim": 32, "encoder_layers": 1,
                         "num_mel_bins": 16, "max_source_positions": 1500, "n_window": 100, "output_dim": hidden},
        "vision_config": {"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": hidden,
                          "fullatt_block_indexes": [0], "patch_size": 14, "spatial_merge_size": 2, "temporal_patch_size": 2},
        "text_config": {"vocab_size": len(vocab), "hidden_size": hidden, "intermediate_size": 48, "num_hidden_layers": 1,
                        "num_attention_heads": 2, "num_key_value_heads": 1, "max_position_embeddings": 2048,
                        "rope_parameters": rope},
        "audio_token_index": vocab["<|AUDIO|>"], "image_token_index": vocab["<|IMAGE|>"], "video_token_index": vocab["<|VIDEO|>"],
        "audio_start_token_id": vocab["<|audio_bos|>"], "audio_end_token_id": vocab["<|audio_eos|>"],
        "vision_start_token_id": vocab["<|vision_bos|>"], "vision_end_token_id": vocab["<|vision_eos|>"],
        "user_token_id": vocab["user"],
    }
    talker = {
        "vocab_size": CODEC_VOCAB, "embedding_size": hidden, "hidden_size": hidden, "intermediate_size": 48,
        "num_hidden_layers": 1, "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16,
        "max_position_embeddings": 4096, "rope_parameters": rope,
        "audio_token_index": vocab["<|AUDIO|>"], "image_token_index": vocab["<|IMAGE|>"], "video_token_index": vocab["<|VIDEO|>"],
        "audio_start_token_id": vocab["<|audio_bos|>"], "audio_end_token_id": vocab["<|audio_eos|>"],
        "vision_start_token_id": vocab["<|vision_bos|>"], "vision_end_token_id": vocab["<|vision_eos|>"],
        "tts_text_start_token_id": vocab["<tts_text_bos>"], "tts_text_end_token_id": vocab["<tts_text_eos>"],
        "tts_text_pad_token_id": vocab["<tts_pad>"],
        "tts_codec_start_token_id": CODEC_VOCAB - 4, "tts_codec_end_token_id": CODEC_VOCAB - 3,
        "tts_codec_pad_token_id": CODEC_VOCAB - 5, "tts_codec_mask_token_id": CODEC_VOCAB - 1,
    }
    token2wav = {
        "dit_config": {"hidden_size": hidden, "num_hidden_layers": 2, "num_attention_heads": 2, "head_dim": 16, "ff_mult": 1,
                       "emb_dim": 16, "num_embeds": CODEC_VOCAB, "mel_dim": 20, "repeats": 2, "block_size": 4,
                       "look_ahead_layers": [1], "look_backward_layers": [0], "enc_emb_dim": 8, "enc_dim": 8,
                       "enc_channels": [8, 8, 8, 8, 24], "enc_kernel_sizes": [5, 3, 3, 3, 1], "enc_dilations": [1, 2, 3, 4, 1],
                       "enc_attention_channels": 8, "enc_res2net_scale": 2, "enc_se_channels": 8, "rope_parameters": {"rope_type": "default", "rope_theta": 10000.0}},
        "bigvgan_config": {"mel_dim": 20, "upsample_initial_channel": 16, "resblock_kernel_sizes": [3],
                           "resblock_dilation_sizes": [[1, 3, 5]], "upsample_rates": [8, 6, 5], "upsample_kernel_sizes": [16, 12, 10]},
    }
    config = Qwen2_5OmniConfig(thinker_config=thinker, talker_config=talker, token2wav_config=token2wav, enable_audio_output=True)
    model = Qwen2_5OmniForConditionalGeneration(config).eval()
    model.save_pretrained(path)
    # The speaker table the real checkpoints ship as spk_dict.pt: a speaker embedding, a reference mel, and
    # the talker's text-bos token for that voice.
    torch.save({"Chelsie": {"cond": torch.randn(1, 8), "ref_mel": torch.randn(1, 12, 20), "bos_token": vocab["<tts_text_bos_single>"]}},
               path / "spk_dict.pt")
    return path


QWEN3_SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|audio_pad|>", "<|audio_start|>", "<|audio_end|>",
                 "<|image_pad|>", "<|video_pad|>", "<|vision_start|>", "<|vision_end|>", "<tts_pad>", "<tts_text_bos>",
                 "<tts_text_eod>"]
QWEN3_TALKER_VOCAB = 1100  # generate() suppresses the top 1024 talker ids, so codes live below that


def build_qwen3_omni(path: Path) -> Path:
    """Qwen3-Omni: MoE thinker, MoE talker + code predictor (2 code groups), code2wav (1920x upsampling)."""
    import torch
    from transformers import Qwen3OmniMoeConfig, Qwen3OmniMoeForConditionalGeneration, WhisperFeatureExtractor

    torch.manual_seed(0)
    path.mkdir(parents=True, exist_ok=True)
    extra = {"audio_token": "<|audio_pad|>", "image_token": "<|image_pad|>", "video_token": "<|video_pad|>",
             "audio_bos_token": "<|audio_start|>", "audio_eos_token": "<|audio_end|>",
             "vision_bos_token": "<|vision_start|>", "vision_eos_token": "<|vision_end|>"}
    vocab = _word_tokenizer(path, QWEN3_SPECIAL, "abcdefghijklmnopqrstuvwxyz.,!?", extra)
    WhisperFeatureExtractor(feature_size=16, sampling_rate=16_000, chunk_length=2).save_pretrained(path)

    hidden, tv = 32, QWEN3_TALKER_VOCAB
    rope = {"rope_type": "default", "rope_theta": 10000.0, "mrope_section": [4, 2, 2], "interleaved": True}
    plain_rope = {"rope_type": "default", "rope_theta": 10000.0}
    moe = {"hidden_size": hidden, "intermediate_size": 32, "num_hidden_layers": 1, "num_attention_heads": 2,
           "num_key_value_heads": 1, "head_dim": 16, "moe_intermediate_size": 16, "num_experts": 2, "num_experts_per_tok": 1}
    media = {"audio_token_id": vocab["<|audio_pad|>"], "image_token_id": vocab["<|image_pad|>"],
             "video_token_id": vocab["<|video_pad|>"], "audio_start_token_id": vocab["<|audio_start|>"],
             "vision_start_token_id": vocab["<|vision_start|>"]}
    thinker = {
        "audio_config": {"d_model": hidden, "encoder_attention_heads": 2, "encoder_ffn_dim": 32, "encoder_layers": 1,
                         "num_mel_bins": 16, "n_window": 50, "output_dim": hidden, "downsample_hidden_size": 16},
        "vision_config": {"depth": 1, "hidden_size": 16, "intermediate_size": 16, "num_heads": 2, "out_hidden_size": hidden,
                          "deepstack_visual_indexes": [0], "num_position_embeddings": 16, "patch_size": 16},
        "text_config": {**moe, "vocab_size": len(vocab), "max_position_embeddings": 2048, "rope_parameters": rope},
        "user_token_id": vocab["user"], "audio_end_token_id": vocab["<|audio_end|>"], **media,
    }
    talker = {
        # shared_expert_intermediate_size / spatial_merge_size: read by the 5.x modeling code but absent from the
        # config classes' defaults (the released checkpoints carry them).
        "text_config": {**moe, "vocab_size": tv, "max_position_embeddings": 4096, "rope_parameters": rope,
                        "shared_expert_intermediate_size": 16},
        "code_predictor_config": {"vocab_size": 128, "hidden_size": hidden, "intermediate_size": 32, "num_hidden_layers": 1,
                                  "num_attention_heads": 2, "num_key_value_heads": 1, "head_dim": 16, "num_code_groups": 2,
                                  "rope_parameters": plain_rope},
        "num_code_groups": 2, "thinker_hidden_size": hidden, "accept_hidden_layer": 1, "spatial_merge_size": 2,
        "codec_pad_id": tv - 7, "codec_bos_id": tv - 6, "codec_eos_token_id": tv - 5, "codec_nothink_id": tv - 4,
        "codec_think_bos_id": tv - 3, "codec_think_eos_id": tv - 2, "speaker_id": {"ethan": tv - 1}, **media,
    }
    code2wav = {"codebook_size": 128, "hidden_size": hidden, "max_position_embeddings": 512, "num_attention_heads": 2,
                "num_key_value_heads": 2, "sliding_window": 8, "intermediate_size": 32, "num_hidden_layers": 1,
                "num_quantizers": 2, "upsample_rates": [8, 5, 4, 3], "upsampling_ratios": [2, 2], "decoder_dim": 32,
                "rope_parameters": plain_rope}
    config = Qwen3OmniMoeConfig(
        thinker_config=thinker, talker_config=talker, code2wav_config=code2wav, enable_audio_output=True,
        im_start_token_id=vocab["<|im_start|>"], im_end_token_id=vocab["<|im_end|>"], tts_pad_token_id=vocab["<tts_pad>"],
        tts_bos_token_id=vocab["<tts_text_bos>"], tts_eos_token_id=vocab["<tts_text_eod>"], system_token_id=vocab["system"],
        user_token_id=vocab["user"], assistant_token_id=vocab["assistant"],
    )
    Qwen3OmniMoeForConditionalGeneration(config).eval().save_pretrained(path)
    return path
