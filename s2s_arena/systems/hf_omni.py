"""``hf:<model id or path>``: a local end-to-end model that listens and speaks, through transformers.

Qwen2.5-Omni (thinker + talker + token2wav) and Qwen3-Omni (MoE thinker + talker + code2wav): the
checkpoint's feature extractor turns the spoken instruction into log-mel features, the prompt holds
one audio placeholder per encoder frame (the library's own length formula), and ``generate``
returns the text tokens and the waveform (24 kHz) in one call. The checkpoint's tokenizer and
feature extractor are used directly rather than its multimodal processor because the processor's
video half needs torchvision, which has no build beside the CPU torch this project pins; audio-only
inputs never need it. The model loads lazily inside the worker
(on GPU when present, bfloat16 there), so the driver of a Ray run never holds it.
"""

from __future__ import annotations

import time
from typing import Any

import numpy as np

from ..audio import SAMPLE_RATE, resample
from ..schema import Sample, SchemaError, SystemInfo
from .base import System, SystemOutput, prompts, sample_audio

# model_type in config.json -> (model class, processing module holding the audio length formula,
# default speaker, output rate)
FAMILIES: dict[str, tuple[str, str, str, int]] = {
    "qwen2_5_omni": ("Qwen2_5OmniForConditionalGeneration", "qwen2_5_omni.processing_qwen2_5_omni", "Chelsie", 24_000),
    "qwen3_omni_moe": ("Qwen3OmniMoeForConditionalGeneration", "qwen3_omni_moe.processing_qwen3_omni_moe", "Ethan", 24_000),
}


class HFOmniSystem(System):
    def __init__(
        self,
        model: str,
        *,
        name: str,
        spec: str = "",
        device: str | None = None,
        dtype: str | None = None,
        speaker: str | None = None,
        max_new_tokens: int = 256,
        talker_max_new_tokens: int = 2048,
        token2wav_steps: int | None = None,
        talker_do_sample: bool | None = None,
        seed: int = 0,
        system_prompt: str | None = None,
        **info: Any,
    ):
        self.model_id = model
        self.device = device
        self.dtype = dtype
        self.speaker = speaker
        self.max_new_tokens = int(max_new_tokens)
        self.talker_max_new_tokens = int(talker_max_new_tokens)
        # Diffusion steps of Qwen2.5-Omni's code-to-mel DiT (model default 10): fewer is faster, rougher.
        self.token2wav_steps = token2wav_steps
        # None keeps the model's own sampling (its speech sounds best that way); False makes the talker greedy,
        # which reproducible runs and randomly initialised test models need.
        self.talker_do_sample = talker_do_sample
        self.seed = int(seed)
        # Qwen2.5-Omni's talker is trained to speak only under its own system prompt.
        self.system_prompt = prompts()["qwen_omni"] if system_prompt is None else system_prompt
        info.setdefault("architecture", "end-to-end")
        info.setdefault("backbone", model)
        self.info = SystemInfo(name=name, spec=spec, **info)
        self._model = self._tokenizer = self._features = None
        self._family: tuple[str, str, str, int] | None = None

    def load(self) -> None:
        if self._model is not None:
            return
        import importlib

        import torch
        import transformers
        from transformers import AutoConfig, AutoFeatureExtractor, AutoTokenizer

        from s2s_arena.hub import check_model_source, model_load_error

        check_model_source(self.model_id, f"hf:{self.model_id}")
        try:
            config = AutoConfig.from_pretrained(self.model_id)
        except OSError as e:  # not on disk, not downloadable offline, no config.json
            raise model_load_error(f"hf:{self.model_id}", e) from None
        family = FAMILIES.get(config.model_type)
        if family is None:
            raise SchemaError(f"hf:{self.model_id}", "model_type",
                              f"{config.model_type!r} is not a speaking model this adapter knows; expected one of "
                              f"{', '.join(FAMILIES)} (other systems: openai:, cascade:, folder:)")
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        dtype = getattr(torch, self.dtype) if self.dtype else (torch.bfloat16 if device.startswith("cuda") else torch.float32)
        model_cls = getattr(transformers, family[0])
        self._audio_lengths = importlib.import_module(f"transformers.models.{family[1]}")._get_feat_extract_output_lengths
        model = model_cls.from_pretrained(self.model_id, dtype=dtype, device_map=device if device.startswith("cuda") else None)
        if not getattr(model, "has_talker", False):
            raise SchemaError(f"hf:{self.model_id}", "talker", "the checkpoint has no talker: it cannot speak")
        self._model = model.to(device).eval()
        self._tokenizer = AutoTokenizer.from_pretrained(self.model_id)
        self._features = AutoFeatureExtractor.from_pretrained(self.model_id)
        for attr in ("audio_token", "audio_bos_token", "audio_eos_token"):
            if not getattr(self._tokenizer, attr, None):
                raise SchemaError(f"hf:{self.model_id}", attr, "the tokenizer defines no such special token")
        self._family = family
        self._device = device

    def close(self) -> None:
        self._model = self._tokenizer = self._features = None

    def prompt(self, n_audio_tokens: int) -> str:
        """The ChatML turn both Qwen Omni families use: system text, then the user's audio only."""
        tok = self._tokenizer
        audio = tok.audio_bos_token + tok.audio_token * n_audio_tokens + tok.audio_eos_token
        system = f"<|im_start|>system\n{self.system_prompt}<|im_end|>\n" if self.system_prompt else ""
        return f"{system}<|im_start|>user\n{audio}<|im_end|>\n<|im_start|>assistant\n"

    def inputs(self, audio_16k: np.ndarray, sr: int) -> dict[str, Any]:
        feats = self._features(audio_16k, sampling_rate=sr, return_attention_mask=True, padding="max_length",
                               return_tensors="pt")
        mask = feats["attention_mask"]
        n_tokens = int(self._audio_lengths(mask.sum(-1))[0])
        text = self._tokenizer(self.prompt(n_tokens), return_tensors="pt")
        return {"input_ids": text["input_ids"], "attention_mask": text["attention_mask"],
                "input_features": feats["input_features"], "feature_attention_mask": mask}

    def respond_one(self, sample: Sample) -> SystemOutput:
        import torch

        self.load()
        assert self._model is not None and self._family is not None
        fe_sr = int(getattr(self._features, "sampling_rate", 16_000))
        x = resample(sample_audio(sample), SAMPLE_RATE, fe_sr)
        start = time.perf_counter()
        inputs = {k: v.to(self._device) for k, v in self.inputs(x, fe_sr).items()}
        inputs["input_features"] = inputs["input_features"].to(self._model.dtype)
        torch.manual_seed(self.seed)
        with torch.no_grad():
            result = self._model.generate(
                **inputs, speaker=self.speaker or self._family[2], thinker_max_new_tokens=self.max_new_tokens,
                talker_max_new_tokens=self.talker_max_new_tokens, **self._talker_kwargs(),
            )
        total = time.perf_counter() - start
        if not isinstance(result, tuple) or len(result) != 2 or result[1] is None:
            return SystemOutput.failed("the model returned no speech (talker disabled?)", total)
        ids, wav = result
        if hasattr(ids, "sequences"):
            ids = ids.sequences
        reply = self._tokenizer.batch_decode(ids[:, inputs["input_ids"].shape[1]:], skip_special_tokens=True)[0]
        audio = wav.reshape(-1).float().cpu().numpy()
        return SystemOutput(audio=audio, sr=self._family[3], text=reply.strip(), latency_first_audio_s=total,
                            latency_total_s=total, meta={"model": self.model_id, "speaker": self.speaker or self._family[2],
                                                         "text_tokens": int(ids.shape[1] - inputs["input_ids"].shape[1])})

    def _talker_kwargs(self) -> dict[str, Any]:
        """Talker options: sampling when set, and (Qwen2.5-Omni) the stop ids from the config, which generate hard-codes for the 7B codec."""
        talker = getattr(getattr(self._model, "config", None), "talker_config", None)
        end, pad = getattr(talker, "tts_codec_end_token_id", None), getattr(talker, "tts_codec_pad_token_id", None)
        extra: dict[str, Any] = {}
        if self.talker_do_sample is not None:
            extra["talker_do_sample"] = bool(self.talker_do_sample)
        if self._family and self._family[0].startswith("Qwen2_5"):
            if end is not None and pad is not None:
                extra["talker_eos_token_id"] = [pad, end]
            if self.token2wav_steps:
                extra["token2wav_num_steps"] = int(self.token2wav_steps)
        return extra
