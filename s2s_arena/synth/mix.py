"""Several backends behind one synthesiser: the Piper neural voice (English) and the Kokoro Japanese
voices where they can render every cue, eSpeak NG for the rest (breathy and creaky voice,
emphasis, singing, accents, the other languages). The voice name says which: ``piper:<speaker>`` goes
to Piper, ``kokoro:<voice>`` to Kokoro, anything else to eSpeak NG; ``SynthResult.meta["backend"]``
records which one spoke. Kokoro is optional (used when its packages are installed).
"""

from __future__ import annotations

from typing import Any

from s2s_arena.synth import SynthResult


class MixedSynthesizer:
    name = "mix"

    def __init__(self, threads: int = 0) -> None:
        from s2s_arena.synth.espeak import EspeakSynthesizer
        from s2s_arena.synth.piper import PiperSynthesizer

        from s2s_arena.synth import kokoro_ja

        self.espeak = EspeakSynthesizer()
        self.piper = PiperSynthesizer(threads=threads)
        self.kokoro = kokoro_ja.KokoroJaSynthesizer() if kokoro_ja.is_available() else None
        self.version = "; ".join([self.piper.version] + ([self.kokoro.version] if self.kokoro else [])
                                 + [f"espeak-ng {self.espeak.version}"])

    def languages(self) -> list[str]:
        return self.espeak.languages()

    def voices(self, language: str = "en") -> list[Any]:
        neural = [*self.piper.voices(language), *(self.kokoro.voices(language) if self.kokoro else [])]
        return [*neural, *self.espeak.voices(language)]

    def backend_for(self, voice: str | None, language: str, attributes: dict[str, Any] | None) -> str:
        from s2s_arena.synth import kokoro_ja
        from s2s_arena.synth.piper import supports

        if voice and voice.startswith("piper:") and supports(attributes or {}, language):
            return "piper"
        if voice and voice.startswith("kokoro:") and self.kokoro and kokoro_ja.supports(attributes or {}, language):
            return "kokoro-ja"
        return "espeak-ng"

    def synthesize(self, text: str, language: str = "en", attributes: dict[str, Any] | None = None,
                   voice: str | None = None, rate: float = 1.0, pitch: float = 0.0,
                   seed: int | None = None) -> SynthResult:
        """As the backends' ``synthesize``; a Piper voice asked for cues Piper cannot render falls back
        to eSpeak NG's voice for those cues (``meta["fallback"]`` says so)."""
        backend = self.backend_for(voice, language, attributes)
        if backend == "piper":
            return self.piper.synthesize(text, language, attributes, voice, rate, pitch, seed)
        if backend == "kokoro-ja":
            return self.kokoro.synthesize(text, language, attributes, voice, rate, pitch, seed)  # type: ignore[union-attr]
        fallback = bool(voice and voice.split(":")[0] in ("piper", "kokoro"))
        res = self.espeak.synthesize(text, language, attributes, None if fallback else voice, rate, pitch, seed)
        if fallback:
            res.meta["fallback"] = f"{voice} cannot render these cues; spoken by eSpeak NG"
        return res


def available() -> bool:
    from s2s_arena.synth.piper import is_available

    return is_available()


__all__ = ["MixedSynthesizer", "available"]
