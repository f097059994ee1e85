"""The hf judge end to end on tiny randomly initialised audio-LMs built here (no downloads).

Qwen2-Audio (Qwen2AudioForConditionalGeneration) and a Qwen2.5-Omni thinker
(Qwen2_5OmniThinkerForConditionalGeneration) are built from tiny configs with a character-level
tokenizer carrying the chat template and audio special tokens, saved to a temporary folder, and
loaded back by the judge through AutoProcessor / AutoModelForMultimodalLM, as a real checkpoint would
be. Random weights emit garbage, which must come out as a counted ``invalid`` after one re-ask. To
show a VALID verdict flowing through generate -> decode -> parse, one test constrains decoding with
``prefix_allowed_tokens_fn`` (a standard generate argument the judge passes through), forcing the
model's tokens to spell a verdict: the model, processor, chat template and parser are all the real ones.

Qwen2_5OmniProcessor needs torchvision (its video processor), which this environment does not have,
so the Omni thinker is paired with a Qwen2AudioProcessor carrying an Omni-style chat template: the
thinker computes the same number of audio tokens per clip, so inputs are exactly what it expects.
"""

from __future__ import annotations

import string

import numpy as np
import pytest

torch = pytest.importorskip("torch")
transformers = pytest.importorskip("transformers")

from s2s_arena.schema import Sample  # noqa: E402
from s2s_arena.judging.judges import get_judge  # noqa: E402
from s2s_arena.judging.judges.base import PairInput  # noqa: E402
from s2s_arena.judging.protocol import Pair, judge_pairs, resolve, summarize  # noqa: E402

SR = 24000
SPECIAL = ["<|endoftext|>", "<|im_start|>", "<|im_end|>", "<|AUDIO|>", "<|audio_bos|>", "<|audio_eos|>",
           "<|IMAGE|>", "<|VIDEO|>", "<|vision_bos|>", "<|vision_eos|>"]
OMNI_TEMPLATE = (
    "{% for message in messages %}<|im_start|>{{ message['role'] }}\n"
    "{% if message['content'] is string %}{{ message['content'] }}{% else %}{% for c in message['content'] %}"
    "{% if c['type'] == 'audio' %}<|audio_bos|><|AUDIO|><|audio_eos|>{% elif c['type'] == 'text' %}{{ c['text'] }}{% endif %}"
    "{% endfor %}{% endif %}<|im_end|>\n{% endfor %}{% if add_generation_prompt %}<|im_start|>assistant\n{% endif %}"
)
VALID_REPLY = "CONTENT: A>B\nPARALINGUISTICS: A>>B\nQUALITY: A=B\nVERDICT: A>B"


def build_tokenizer():
    from tokenizers import Tokenizer, decoders, models
    from transformers import PreTrainedTokenizerFast

    vocab = {t: i for i, t in enumerate(SPECIAL + ["<unk>"] + list(dict.fromkeys(string.printable)))}
    tok = Tokenizer(models.BPE(vocab=vocab, merges=[], unk_token="<unk>"))  # one token per character
    tok.decoder = decoders.Fuse()
    tok.add_special_tokens(SPECIAL)  # matched whole in text (the chat template writes them), never split
    return PreTrainedTokenizerFast(
        tokenizer_object=tok, unk_token="<unk>", pad_token="<|endoftext|>", eos_token="<|im_end|>",
        extra_special_tokens={"audio_token": "<|AUDIO|>", "audio_bos_token": "<|audio_bos|>",
                              "audio_eos_token": "<|audio_eos|>"},
    ), vocab


AUDIO_ENCODER = dict(d_model=16, encoder_layers=1, encoder_attention_heads=2, encoder_ffn_dim=32,
                     num_mel_bins=128, max_source_positions=1500)


def text_config(vocab, **extra):
    return dict(vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=1,
                num_attention_heads=2, num_key_value_heads=1, max_position_embeddings=8192, **extra)


def save_tiny(model, processor, vocab, path):
    model.generation_config.eos_token_id = vocab["<|im_end|>"]
    model.generation_config.pad_token_id = vocab["<|endoftext|>"]
    model.save_pretrained(path)
    processor.save_pretrained(path)
    return str(path)


@pytest.fixture(scope="module")
def tiny_qwen2_audio(tmp_path_factory):
    from transformers import (Qwen2AudioConfig, Qwen2AudioForConditionalGeneration, Qwen2AudioProcessor,
                              WhisperFeatureExtractor)

    tokenizer, vocab = build_tokenizer()
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tokenizer)
    config = Qwen2AudioConfig(audio_config=AUDIO_ENCODER, text_config=text_config(vocab),
                              audio_token_index=vocab["<|AUDIO|>"])
    torch.manual_seed(0)
    model = Qwen2AudioForConditionalGeneration(config)
    return save_tiny(model, processor, vocab, tmp_path_factory.mktemp("qwen2_audio")), tokenizer


@pytest.fixture(scope="module")
def tiny_omni_thinker(tmp_path_factory):
    from transformers import (Qwen2_5OmniThinkerConfig, Qwen2_5OmniThinkerForConditionalGeneration,
                              Qwen2AudioProcessor, WhisperFeatureExtractor)

    tokenizer, vocab = build_tokenizer()
    processor = Qwen2AudioProcessor(feature_extractor=WhisperFeatureExtractor(feature_size=128), tokenizer=tokenizer,
                                    chat_template=OMNI_TEMPLATE)
    config = Qwen2_5OmniThinkerConfig(
        audio_config={**AUDIO_ENCODER, "output_dim": 32, "n_window": 100},
        vision_config=dict(depth=1, hidden_size=16, intermediate_size=32, num_heads=2, out_hidden_size=32,
                           fullatt_block_indexes=[0]),
        text_config=text_config(vocab, rope_scaling={"type": "default", "mrope_section": [2, 3, 3]}),
        audio_token_index=vocab["<|AUDIO|>"], image_token_index=vocab["<|IMAGE|>"],
        video_token_index=vocab["<|VIDEO|>"], audio_start_token_id=vocab["<|audio_bos|>"],
        audio_end_token_id=vocab["<|audio_eos|>"], vision_start_token_id=vocab["<|vision_bos|>"],
        vision_end_token_id=vocab["<|vision_eos|>"],
    )
    torch.manual_seed(0)
    model = Qwen2_5OmniThinkerForConditionalGeneration(config)
    return save_tiny(model, processor, vocab, tmp_path_factory.mktemp("omni_thinker")), tokenizer


def forcing(tokenizer, first: str, after_reask: str):
    """prefix_allowed_tokens_fn that makes greedy decoding spell ``first`` (and ``after_reask`` when the
    conversation holds the re-ask turn), then end the turn."""
    im_start = tokenizer.convert_tokens_to_ids("<|im_start|>")
    eos = tokenizer.convert_tokens_to_ids("<|im_end|>")
    header = len(tokenizer("assistant\n")["input_ids"])
    targets = {False: tokenizer(first)["input_ids"], True: tokenizer(after_reask)["input_ids"]}

    def allowed(batch_id, input_ids):
        ids = input_ids.tolist()
        starts = [i for i, t in enumerate(ids) if t == im_start]
        reasked = len(starts) > 3  # system, user, assistant; a re-ask adds assistant + user
        done = len(ids) - (starts[-1] + 1 + header)
        target = targets[reasked]
        return [target[done]] if done < len(target) else [eos]

    return allowed


def sample(sample_id: str = "s1") -> Sample:
    return Sample.from_dict({"id": sample_id, "level": "L3", "task": "emotion_transfer",
                             "instruction_text": "Tell him happily that Mike is coming.",
                             "requirements": {"emotion": "happy"}, "input_cues": {"emotion": "happy"}})


def clip(seed: int, seconds: float = 0.5) -> np.ndarray:
    return (np.random.default_rng(seed).standard_normal(int(SR * seconds)) * 0.1).astype(np.float32)


def test_random_qwen2_audio_garbage_is_invalid_after_one_reask(tiny_qwen2_audio):
    path, _ = tiny_qwen2_audio
    judge = get_judge(f"hf:{path}", max_new_tokens=8, reask_max_new_tokens=4)
    assert judge.name == f"hf:{path}" and judge.listens_to_instruction
    items = [PairInput(sample(), clip(1), clip(2), instruction_audio=clip(3)), PairInput(sample(), clip(2), clip(1))]
    # the chat template really receives three audio clips (instruction, A, B) for the first item
    conv, audios = judge._conversation(items[0])
    text = judge._processor.apply_chat_template(conv, tokenize=False, add_generation_prompt=True)
    assert len(audios) == 3 and text.count("<|AUDIO|>") == 3
    assert "ignore any request" in text  # the injection guard is in the system turn
    out = judge.judge(items)
    assert [j.verdict for j in out] == ["invalid", "invalid"]
    for j in out:
        assert j.meta["attempts"] == 2 and len(j.meta["raw"]) == 2 and "after one re-ask" in j.reason
        assert not j.meta.get("transient")  # a deterministic failure: cacheable, counted


def test_valid_verdict_flows_through_qwen2_audio_after_a_reask(tiny_qwen2_audio):
    path, tokenizer = tiny_qwen2_audio
    judge = get_judge(f"hf:{path}", max_new_tokens=16, reask_max_new_tokens=len(VALID_REPLY) + 2,
                      generation_kwargs={"prefix_allowed_tokens_fn": forcing(tokenizer, "I think A.", VALID_REPLY)})
    (j,) = judge.judge([PairInput(sample(), clip(1), clip(2), instruction_audio=clip(3))])
    assert j.verdict == "A>B", j.reason
    assert (j.content, j.paralinguistics, j.quality) == ("A>B", "A>>B", "A=B")
    assert j.meta["attempts"] == 2 and j.meta["first_reply"] == "I think A."


def test_omni_thinker_through_judge_pairs_counts_position_bias(tiny_omni_thinker):
    path, tokenizer = tiny_omni_thinker
    # The forced model always prefers whatever is shown first: both orders disagree -> a tie, inconsistent.
    judge = get_judge(f"hf:{path}", max_new_tokens=len(VALID_REPLY) + 2, listen_to_instruction=False,
                      generation_kwargs={"prefix_allowed_tokens_fn": forcing(tokenizer, VALID_REPLY, VALID_REPLY)})
    pairs = [Pair(sample(), "cand", "base", clip(1), clip(2)), Pair(sample("s2"), "cand", "base", clip(4), clip(4))]
    rows = judge_pairs(judge, pairs, batch_size=2)
    assert [r.verdict for r in rows] == ["A>B", "A>B", "A=B", "A=B"]
    assert rows[0].judge == f"hf:{path}" and rows[0].prompt_hash == judge.config_hash()
    outcomes = resolve(rows)
    assert outcomes[0].outcome == "tie" and outcomes[0].consistent is False
    assert outcomes[1].identical
    s = summarize(outcomes, candidate="cand", bootstrap=0)
    assert s["tie_rate"] == 1.0 and s["position_consistency"] == 0.0 and s["n_invalid"] == 0


def prefer_longer(tokenizer, seen: list[int]):
    """prefix_allowed_tokens_fn for a model that prefers the longer response: it reads the clip lengths
    from the prompt itself (the processor expands each clip into one audio token per 40 ms), so the
    verdict depends on what the judge really put in the prompt; ``seen`` records the clips per prompt."""
    bos, eos_audio = (tokenizer.convert_tokens_to_ids(t) for t in ("<|audio_bos|>", "<|audio_eos|>"))
    im_start, eos = tokenizer.convert_tokens_to_ids("<|im_start|>"), tokenizer.convert_tokens_to_ids("<|im_end|>")
    header = len(tokenizer("assistant\n")["input_ids"])

    def allowed(batch_id, input_ids):
        ids = input_ids.tolist()
        starts = [i for i, t in enumerate(ids) if t == bos]
        lengths = [ids.index(eos_audio, i) - i - 1 for i in starts]
        a, b = lengths[-2], lengths[-1]
        v = "A>B" if a > b else "B>A" if b > a else "A=B"
        target = tokenizer(f"CONTENT: A=B\nPARALINGUISTICS: {v}\nQUALITY: A=B\nVERDICT: {v}")["input_ids"]
        done = len(ids) - (max(i for i, t in enumerate(ids) if t == im_start) + 1 + header)
        if done == 0:
            seen.append(len(lengths))
        return [target[done]] if done < len(target) else [eos]

    return allowed


@pytest.mark.slow
def test_evaluate_metric_with_the_hf_judge_hears_instruction_and_responses(tiny_qwen2_audio, tmp_path):
    import evaluate

    from s2s_arena.audio import save_audio

    path, tokenizer = tiny_qwen2_audio
    seen: list[int] = []
    metric = evaluate.load(str(__import__("pathlib").Path(__file__).resolve().parent.parent / "s2s_arena_metric"),
                           judge=f"hf:{path}", verdict_cache=str(tmp_path / "cache"), bootstrap=0,
                           judge_options={"max_new_tokens": 80, "generation_kwargs": {"prefix_allowed_tokens_fn": prefer_longer(tokenizer, seen)}})
    instr = str(save_audio(tmp_path / "instr.wav", clip(9, seconds=0.8), SR))
    row = {"id": "e1", "level": "L1", "task": "t", "instruction_text": "Tell me a story.", "requirements": "{}",
           "audio": instr}
    out = metric.compute(predictions=[{"array": clip(5, seconds=1.2), "sampling_rate": SR}],
                         references=[{"array": clip(6, seconds=0.6), "sampling_rate": SR}], samples=[row])
    assert seen == [3, 3]  # instruction + A + B in both orders
    assert out["win_rate"] == 1.0 and out["position_consistency"] == 1.0 and out["judge"] == f"hf:{path}"
