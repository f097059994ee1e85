"""eSpeak NG voice choice: language tags and accents to voices, speaker/quality cues to variants.

eSpeak NG names a voice ``<language voice>+<variant>`` (``en-gb-scotland+f3``). The language part
sets pronunciation (so it also carries accents: a French voice reading English text speaks it with a
French accent); the variant part sets the speaker (pitch, formants, breathiness, jitter).
"""

from __future__ import annotations

import random

# BCP-47 (lower case) -> eSpeak NG language voice, where the two differ or a default is wanted.
LANGUAGE_VOICE: dict[str, str] = {
    "en": "en-us", "en-us": "en-us", "en-gb": "en-gb-x-rp", "en-uk": "en-gb-x-rp",
    "zh": "cmn", "zh-cn": "cmn", "zh-hans": "cmn", "zh-tw": "cmn", "zh-hant": "cmn", "cmn": "cmn",
    "zh-hk": "yue", "yue": "yue", "zh-yue": "yue",
    "es": "es", "es-es": "es", "es-mx": "es-419", "es-419": "es-419", "es-us": "es-419",
    "fr": "fr-fr", "fr-fr": "fr-fr", "fr-be": "fr-be", "fr-ch": "fr-ch",
    "de": "de", "de-de": "de", "ja": "ja", "ja-jp": "ja", "ru": "ru", "ru-ru": "ru",
    "ar": "ar", "hi": "hi", "hi-in": "hi", "pt": "pt", "pt-pt": "pt", "pt-br": "pt-br",
    "it": "it", "it-it": "it", "ko": "ko", "ko-kr": "ko",
}

# Accent name (lower case, as written in task files) -> eSpeak NG language voice.
ACCENT_VOICE: dict[str, str] = {
    "american": "en-us", "general american": "en-us", "us": "en-us",
    "new york": "en-us-nyc", "new yorker": "en-us-nyc",
    "british": "en-gb-x-rp", "rp": "en-gb-x-rp", "received pronunciation": "en-gb-x-rp",
    "english": "en-gb", "southern british": "en-gb-x-rp",
    "scottish": "en-gb-scotland", "scots": "en-gb-scotland",
    "northern english": "en-gb-x-gbclan", "lancashire": "en-gb-x-gbclan", "lancaster": "en-gb-x-gbclan",
    "west midlands": "en-gb-x-gbcwmd", "birmingham": "en-gb-x-gbcwmd", "brummie": "en-gb-x-gbcwmd",
    "caribbean": "en-029", "jamaican": "en-029",
    # Foreign accents: the other language's voice reading the (English) text.
    "indian": "hi", "hindi": "hi", "french": "fr-fr", "german": "de", "spanish": "es",
    "mexican": "es-419", "latin american": "es-419", "italian": "it", "russian": "ru",
    "chinese": "cmn", "mandarin": "cmn", "cantonese": "yue", "japanese": "ja", "korean": "ko",
    "portuguese": "pt", "brazilian": "pt-br", "arabic": "ar",
}

# Language voices whose speakers sit lower than the rest (semitones to add to every speaker of them):
# a Mandarin sentence with f4 measured 146 Hz against 181 Hz in English, so "female" came out at a
# male-ish pitch. The lift goes through SSML pitch, so it uses part of eSpeak's ~9.5 st headroom.
VOICE_PITCH_ST: dict[str, float] = {"cmn": 3.0, "cmn-latn-pinyin": 3.0, "yue": 3.0, "hak": 2.0}

# Speaker variants. The first of each list is the default; a seed picks among them otherwise.
FEMALE = ("f3", "f1", "f2", "f4", "f5")
MALE = ("m3", "m1", "m2", "m4", "m6", "m7")
# Highest female variants (measured with Praat, en-us: f3 213 Hz, f2 197 Hz, f4 181 Hz); the plan adds
# the child's pitch and vocal-tract shift.
CHILD = ("f3", "f2")
ELDERLY = {"male": "grandpa", "female": "grandma"}
QUALITY = {  # voice quality -> (male variant, female variant)
    "whisper": ("whisper", "whisperf"),
    "breathy": ("victor", "f5"),  # variants with some breath; the backend adds aspiration noise
    "creaky": ("croak", "grandma"),  # low pitch with flutter (jitter)
}
VARIANTS = FEMALE + MALE + ("whisper", "whisperf", "victor", "Alicia", "croak", "grandpa", "grandma", "klatt")


def language_voice(language: str, available: set[str]) -> str | None:
    """eSpeak NG voice for a BCP-47 tag, or None when eSpeak NG has none."""
    tag = language.strip().lower().replace("_", "-")
    for cand in (LANGUAGE_VOICE.get(tag), tag, LANGUAGE_VOICE.get(tag.split("-")[0]), tag.split("-")[0]):
        if cand and cand in available:
            return cand
    return None


def voice_pitch_st(voice: str) -> float:
    """Pitch lift (semitones) that brings the speakers of language voice ``voice`` to the common register."""
    return VOICE_PITCH_ST.get(voice.partition("+")[0].lower(), 0.0)


def accent_voice(accent: str) -> str | None:
    a = accent.strip().lower().replace("_", " ").replace("-", " ")
    a = a.removesuffix(" accent").removesuffix(" english")
    return ACCENT_VOICE.get(a) or ACCENT_VOICE.get(a.split()[0] if a else a)


def variant_for(*, gender: str | None, age: str | None, quality: str, seed: int | None) -> str | None:
    """The variant for a speaker description; None keeps the language voice's own (male) speaker."""
    female = gender == "female"
    if quality in QUALITY:
        return QUALITY[quality][1 if female or age == "child" else 0]
    pick = (lambda opts: opts[0]) if seed is None else (lambda opts: random.Random(seed).choice(opts))
    if age == "child":
        return pick(CHILD)
    if age == "elderly":
        return ELDERLY["female" if female else "male"]
    if gender == "female":
        return pick(FEMALE)
    if gender == "male":
        return pick(MALE)
    return None
