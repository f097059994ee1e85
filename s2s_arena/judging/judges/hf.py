"""``hf:<model>``: a local audio-LM judge through transformers.

Works with Qwen2-Audio-7B-Instruct, Qwen2.5-Omni (its thinker: the text-producing half) and any model
whose processor's chat template takes several audio clips in one user turn. The prompt (from
``prompts/pairwise_audio_judge.yaml``) carries the instruction audio and transcript, the evaluation
target and requirements, then response A and response B; the reply is parsed strictly (last match);
a reply without the verdict lines is re-asked once, then counted ``invalid``. Decoding is greedy
(temperature 0) so a verdict is reproducible and cacheable.
"""

from __future__ import annotations

from s2s_arena.errors import DependencyError
import time
from typing import Any

import numpy as np

from s2s_arena.audio import resample

from ..parsing import ParseError, judgement_from_reply
from ..prompts import DEFAULT_PROMPT, load_prompt, render_pairwise
from .base import Judge, Judgement, PairInput

# Full Qwen2.5-Omni checkpoints hold a talker (speech output) we do not need: judge with the thinker.
_THINKER_OF = {"qwen2_5_omni": "thinker", "qwen3_omni_moe": "thinker"}


class HFAudioLMJudge(Judge):
    version = "1"

    def __init__(self, model: str, *, device: str | None = None, dtype: str | None = None,
                 max_new_tokens: int = 512, reask_max_new_tokens: int = 64, prompt: str = DEFAULT_PROMPT,
                 listen_to_instruction: bool = True, generation_kwargs: dict[str, Any] | None = None,
                 trust_remote_code: bool = False):
        from s2s_arena.hub import check_model_source

        self.model_id = check_model_source(model, f"hf:{model}")  # a typo fails here, not on every pair
        self.name = f"hf:{model}"
        self.device = device
        self.dtype = dtype
        self.max_new_tokens = int(max_new_tokens)
        self.reask_max_new_tokens = int(reask_max_new_tokens)
        self.template = load_prompt(prompt)
        self.listen_to_instruction = listen_to_instruction
        # Extra arguments for model.generate (e.g. a logits processor or prefix_allowed_tokens_fn for
        # constrained decoding); sampling stays off whatever is passed.
        self.generation_kwargs = dict(generation_kwargs or {})
        self.trust_remote_code = trust_remote_code
        self._model = None
        self._processor = None

    def config(self) -> Any:
        return {"model": self.model_id, "prompt": self.template.text_for_hash(), "max_new_tokens": self.max_new_tokens,
                "reask_max_new_tokens": self.reask_max_new_tokens, "instruction_audio": self.listen_to_instruction,
                "generation": sorted(k for k in self.generation_kwargs)}

    @property
    def listens_to_instruction(self) -> bool:
        return self.listen_to_instruction

    def __getstate__(self):  # shipped to Ray actors unloaded: each actor loads its own copy on its GPU
        state = dict(self.__dict__)
        state["_model"], state["_processor"] = None, None
        return state

    # -- loading ---------------------------------------------------------------------------------------
    def _load(self) -> None:
        if self._model is not None:
            return
        import torch
        from transformers import AutoConfig, AutoModelForMultimodalLM, AutoProcessor

        from s2s_arena.hub import model_load_error

        try:
            processor = AutoProcessor.from_pretrained(self.model_id, trust_remote_code=self.trust_remote_code)
        except OSError as e:  # not on disk, not downloadable offline, no processor files
            raise model_load_error(f"hf:{self.model_id}", e) from None
        if getattr(processor, "chat_template", None) is None:
            raise DependencyError(f"hf:{self.model_id}: the processor has no chat template; the judge needs one that takes audio clips")
        processor.tokenizer.padding_side = "left"  # batched generation of a decoder-only LM
        config = AutoConfig.from_pretrained(self.model_id, trust_remote_code=self.trust_remote_code)
        dtype = getattr(torch, self.dtype) if isinstance(self.dtype, str) else (self.dtype or "auto")
        model = AutoModelForMultimodalLM.from_pretrained(self.model_id, dtype=dtype, trust_remote_code=self.trust_remote_code)
        part = _THINKER_OF.get(config.model_type)
        if part and hasattr(model, part):
            model = getattr(model, part)
        device = self.device or ("cuda" if torch.cuda.is_available() else "cpu")
        self._model = model.to(device).eval()
        self._processor = processor

    @property
    def feature_rate(self) -> int:
        self._load()
        return int(getattr(self._processor.feature_extractor, "sampling_rate", 16000))

    # -- prompting -------------------------------------------------------------------------------------
    def _conversation(self, item: PairInput) -> tuple[list[dict], list[np.ndarray]]:
        with_instr = self.listen_to_instruction and item.instruction_audio is not None
        clips = {"instruction": item.instruction_audio, "a": item.audio_a, "b": item.audio_b}
        content, audios = [], []
        for kind, value in render_pairwise(item.sample, with_instruction_audio=with_instr, template=self.template):
            if kind == "text":
                content.append({"type": "text", "text": value})
            else:
                # The template only needs to know an audio clip goes here; the waveform goes to the processor.
                content.append({"type": "audio", "audio": f"<{value}>"})
                audios.append(resample(np.asarray(clips[value], dtype=np.float32), item.sr, self.feature_rate))
        messages = [{"role": "system", "content": [{"type": "text", "text": self.template.system}]},
                    {"role": "user", "content": content}]
        return messages, audios

    def _generate(self, conversations: list[list[dict]], audios: list[list[np.ndarray]], max_new_tokens: int) -> list[str]:
        import torch

        proc = self._processor
        texts = [proc.apply_chat_template(c, tokenize=False, add_generation_prompt=True) for c in conversations]
        flat = [a for clips in audios for a in clips]
        inputs = proc(text=texts, audio=flat, sampling_rate=self.feature_rate, return_tensors="pt", padding=True)
        inputs = inputs.to(self._model.device)
        if "input_features" in inputs and inputs["input_features"].is_floating_point():
            inputs["input_features"] = inputs["input_features"].to(self._model.dtype)
        kwargs = {**self.generation_kwargs, "max_new_tokens": max_new_tokens, "do_sample": False}
        kwargs.setdefault("pad_token_id", proc.tokenizer.pad_token_id)
        with torch.inference_mode():
            out = self._model.generate(**inputs, **kwargs)
        out = out.sequences if hasattr(out, "sequences") else out
        new = out[:, inputs["input_ids"].shape[1]:]
        return proc.batch_decode(new, skip_special_tokens=True)

    # -- judging ---------------------------------------------------------------------------------------
    def judge(self, items: list[PairInput]) -> list[Judgement]:
        if not items:
            return []
        start = time.perf_counter()
        try:
            self._load()
            built = [self._conversation(it) for it in items]
            replies = self._generate([c for c, _ in built], [a for _, a in built], self.max_new_tokens)
        except Exception as e:  # noqa: BLE001 - one failing batch becomes counted invalid rows
            return [Judgement.invalid(f"hf:{self.model_id} failed: {type(e).__name__}: {e}", transient=True) for _ in items]
        results: list[Judgement | None] = [None] * len(items)
        failed: list[tuple[int, str]] = []
        for i, reply in enumerate(replies):
            try:
                results[i] = judgement_from_reply(reply, attempts=1)
            except ParseError as e:
                failed.append((i, f"{e}"))
        if failed:
            # One re-ask, with the model's own reply in the conversation, asking only for the lines.
            convs, clips = [], []
            for i, _ in failed:
                conv, audio = built[i]
                convs.append(conv + [{"role": "assistant", "content": [{"type": "text", "text": replies[i]}]},
                                     {"role": "user", "content": [{"type": "text", "text": self.template.reask}]}])
                clips.append(audio)
            try:
                second = self._generate(convs, clips, self.reask_max_new_tokens)
            except Exception as e:  # noqa: BLE001
                second = [""] * len(failed)
                for i, _ in failed:
                    results[i] = Judgement.invalid(f"re-ask failed: {type(e).__name__}: {e}", transient=True,
                                                   attempts=2, raw=[replies[i]])
            for (i, first_error), reply in zip(failed, second):
                if results[i] is not None:
                    continue
                try:
                    results[i] = judgement_from_reply(reply, attempts=2, first_reply=replies[i])
                except ParseError as e:
                    results[i] = Judgement.invalid(
                        f"unparseable reply after one re-ask ({first_error}; then {e})",
                        attempts=2, raw=[replies[i], reply])
        per_item = (time.perf_counter() - start) / len(items)
        # Whisper-style feature extractors hear a fixed window (30 s); say so when a clip was cut.
        window_s = float(getattr(self._processor.feature_extractor, "chunk_length", 0) or 0)
        for j, (_, clips) in zip(results, built):
            j.meta.setdefault("latency_s", per_item)
            if window_s:
                cut = [round(len(c) / self.feature_rate, 1) for c in clips if len(c) / self.feature_rate > window_s]
                if cut:
                    j.meta["clips_truncated_s"] = {"window_s": window_s, "durations_s": cut}
        return results  # type: ignore[return-value]

    def close(self) -> None:
        self._model = None
        self._processor = None
