"""Parse an audio-LM judge's reply into a Judgement.

The format is strict (four ``NAME: value`` lines, see prompts/pairwise_audio_judge.yaml), and the
LAST match of each line wins: models often restate the format or change their mind while reasoning,
and the final line is the one they commit to. A reply without a VERDICT line is a parse failure,
never a guessed verdict.
"""

from __future__ import annotations

import re
from dataclasses import dataclass

from s2s_arena.schema import ASPECTS

from .judges.base import Judgement

ASPECT_VALUES = ("A>>B", "A>B", "A=B", "B>A", "B>>A")
VERDICT_VALUES = ASPECT_VALUES + ("both_bad",)
_VALUE = r"(A\s*>>\s*B|A\s*>\s*B|A\s*=\s*B|B\s*>>\s*A|B\s*>\s*A|both[_ ]bad)"
# A line "NAME: value", tolerating markdown bold / brackets around the name or the value.
_LINE = {
    name: re.compile(rf"(?im)^[\s>*_#`-]*{name}[\s*_`]*:[\s*_`\[(]*{_VALUE}[\s*_`\])]*\.?\s*$")
    for name in ("content", "paralinguistics", "quality", "verdict")
}


class ParseError(ValueError):
    """The reply does not contain a final ``VERDICT: <value>`` line."""


@dataclass
class ParsedReply:
    verdict: str
    aspects: dict[str, str]
    abstained: list[str]


def _normalise(value: str) -> str:
    v = re.sub(r"\s+", "", value)
    return "both_bad" if v.lower() in ("both_bad", "bothbad") else v.upper()


def _last(pattern: re.Pattern[str], text: str) -> str | None:
    matches = pattern.findall(text)
    return _normalise(matches[-1]) if matches else None


def parse_reply(text: str) -> ParsedReply:
    """Last-match parse. Raises ParseError when there is no valid final VERDICT line."""
    if not isinstance(text, str) or not text.strip():
        raise ParseError("empty reply")
    verdict = _last(_LINE["verdict"], text)
    if verdict is None:
        tail = text.strip().splitlines()[-1][:120]
        raise ParseError(f"no 'VERDICT: <value>' line (last line: {tail!r})")
    aspects: dict[str, str] = {}
    abstained: list[str] = []
    for aspect in ASPECTS:
        value = _last(_LINE[aspect], text)
        if value is None or value == "both_bad":  # both_bad is an overall verdict, not an aspect value
            abstained.append(aspect)
            value = "A=B"
        aspects[aspect] = value
    return ParsedReply(verdict=verdict, aspects=aspects, abstained=abstained)


def judgement_from_reply(text: str, **meta) -> Judgement:
    """A Judgement from a reply; raises ParseError (the caller re-asks once, then counts invalid)."""
    parsed = parse_reply(text)
    meta = dict(meta)
    if parsed.abstained:
        meta["abstained"] = parsed.abstained
    return Judgement(parsed.verdict, reason=text.strip(), meta=meta, **parsed.aspects)
