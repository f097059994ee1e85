"""Two backends behind one synthesiser: the Piper neural voice where it can render every cue, eSpeak NG
for the rest (whisper, breathy and creaky voice, emphasis, singing, accents, languages other than
English). The voice name says which: ``piper:<speaker>`` goes to Piper, anything else to eSpeak NG;
``SynthResult.meta["backend"]`` records which one spoke.
"""

from __future__ import annotations

from typing import Any

from s2s_arena.synth import SynthResult


class MixedSynthesizer:
    name = "mix"

    def __init__(self) -> None:
        from s2s_arena.synth.espeak import EspeakSynthesizer
        from s2s_arena.synth.piper import PiperSynthesizer

        self.espeak = EspeakSynthesizer()
        self.piper = PiperSynthesizer()
        self.version = f"{self.piper.version}; espeak-ng {self.espeak.version}"

    def languages(self) -> list[str]:
        return self.espeak.languages()

    def voices(self, language: str = "en") -> list[Any]:
        return [*self.piper.voices(language), *self.espeak.voices(language)]

    def backend_for(self, voice: str | None, language: str, attributes: dict[str, Any] | None) -> str:
        from s2s_arena.synth.piper import supports

        if voice and voice.startswith("piper:") and supports(attributes or {}, language):
            return "piper"
        return "espeak-ng"

    def synthesize(self, text: str, language: str = "en", attributes: dict[str, Any] | None = None,
                   voice: str | None = None, rate: float = 1.0, pitch: float = 0.0,
                   seed: int | None = None) -> SynthResult:
        """As the backends' ``synthesize``; a Piper voice asked for cues Piper cannot render falls back
        to eSpeak NG's voice for those cues (``meta["fallback"]`` says so)."""
        if self.backend_for(voice, language, attributes) == "piper":
            return self.piper.synthesize(text, language, attributes, voice, rate, pitch, seed)
        fallback = bool(voice and voice.startswith("piper:"))
        res = self.espeak.synthesize(text, language, attributes, None if fallback else voice, rate, pitch, seed)
        if fallback:
            res.meta["fallback"] = f"{voice} cannot render these cues; spoken by eSpeak NG"
        return res


def available() -> bool:
    from s2s_arena.synth.piper import is_available

    return is_available()


__all__ = ["MixedSynthesizer", "available"]
