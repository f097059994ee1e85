"""Optional paraphraser for stage 2 (off by default): new wordings of an instruction, same intent.

Two backends, chosen by a spec string:

* ``hf:<model-or-local-path>`` - a local ``transformers`` text-generation model (nothing downloaded
  at build time unless the id is not cached; use a local path offline);
* ``openai:<model>@<base_url>`` - any OpenAI-compatible chat endpoint (vLLM, llama.cpp server, ...);
  the key comes from ``OPENAI_API_KEY`` when the endpoint needs one.

A paraphrase is only used when it keeps every word a cue depends on (emphasised words, words a pause
must follow) and stays within a sane length; otherwise the original text is kept and the sample
records ``paraphrased: false``. The paraphraser never sees or changes cues.
"""

from __future__ import annotations

from s2s_arena.errors import ConfigError
import os
import re
from typing import Iterable, Protocol

PROMPT = ("Rewrite the following spoken request in {language} with different wording but exactly the same "
          "meaning. Keep these words unchanged: {keep}. Answer with the rewritten request only.\n\n"
          "Request: {text}\nRewritten:")


class Paraphraser(Protocol):
    name: str

    def generate(self, prompt: str) -> str: ...


def _clean(out: str) -> str:
    out = out.strip().splitlines()[0] if out.strip() else ""
    return out.strip().strip('"').strip()


def acceptable(original: str, candidate: str, keep: Iterable[str]) -> bool:
    """A paraphrase is usable if it is new text of similar length that keeps the cue words."""
    if not candidate or candidate.strip().lower() == original.strip().lower():
        return False
    if not 0.5 <= len(candidate) / max(1, len(original)) <= 2.0:
        return False
    if re.search(r"[<>*#`{}\[\]|_~^\\]", candidate):  # markup would be read aloud
        return False
    low = candidate.lower()
    return all(w.lower() in low for w in keep)


def paraphrase(p: Paraphraser | None, text: str, language: str, keep: Iterable[str]) -> tuple[str, bool]:
    """(text to speak, whether it is a paraphrase)."""
    if p is None:
        return text, False
    keep = [k for k in keep if k]
    try:
        out = _clean(p.generate(PROMPT.format(language=language, keep=", ".join(keep) or "(none)", text=text)))
    except Exception as e:  # an unreachable endpoint must not abort a long build: keep the original
        import logging

        logging.getLogger(__name__).warning("paraphraser %s failed (%s); keeping the original text", p.name, e)
        return text, False
    return (out, True) if acceptable(text, out, keep) else (text, False)


class HFParaphraser:
    def __init__(self, model: str, max_new_tokens: int = 60, seed: int = 0):
        from transformers import pipeline, set_seed

        set_seed(seed)
        self.name = f"hf:{model}"
        self._pipe = pipeline("text-generation", model=model, device="cpu")
        self._max = max_new_tokens

    def generate(self, prompt: str) -> str:
        out = self._pipe(prompt, max_new_tokens=self._max, do_sample=False, return_full_text=False)
        return out[0]["generated_text"]


class OpenAIParaphraser:
    def __init__(self, model: str, base_url: str, timeout_s: float = 30.0):
        self.name = f"openai:{model}@{base_url}"
        self.model, self.url, self.timeout = model, base_url.rstrip("/"), timeout_s

    def generate(self, prompt: str) -> str:
        import httpx

        headers = {}
        if os.environ.get("OPENAI_API_KEY"):
            headers["Authorization"] = f"Bearer {os.environ['OPENAI_API_KEY']}"
        r = httpx.post(f"{self.url}/chat/completions", headers=headers, timeout=self.timeout, json={
            "model": self.model, "temperature": 0.0, "max_tokens": 80,
            "messages": [{"role": "user", "content": prompt}],
        })
        r.raise_for_status()
        return r.json()["choices"][0]["message"]["content"]


def get_paraphraser(spec: str | None, seed: int = 0) -> Paraphraser | None:
    """None for no spec; ValueError naming the expected forms for a malformed one."""
    if not spec:
        return None
    if spec.startswith("hf:") and len(spec) > 3:
        return HFParaphraser(spec[3:], seed=seed)
    if spec.startswith("openai:") and "@" in spec:
        model, url = spec[len("openai:"):].split("@", 1)
        if model and url.startswith(("http://", "https://")):
            return OpenAIParaphraser(model, url)
    raise ConfigError(f"--paraphraser {spec!r}: expected 'hf:<model-or-path>' or 'openai:<model>@<http(s) base url>'")
