"""Strict verdict parsing (last match wins) and the prompt rendering it relies on."""

from __future__ import annotations

import pytest

from s2s_arena.schema import Sample
from s2s_arena.judging.parsing import ParseError, judgement_from_reply, parse_reply
from s2s_arena.judging.prompts import load_prompt, render_pairwise


def test_four_lines_parse_per_aspect():
    p = parse_reply("A is faster.\nCONTENT: A=B\nPARALINGUISTICS: A>>B\nQUALITY: B>A\nVERDICT: A>B")
    assert p.verdict == "A>B" and p.aspects == {"content": "A=B", "paralinguistics": "A>>B", "quality": "B>A"}
    assert p.abstained == []


def test_last_match_wins_over_restated_format_and_changed_minds():
    reply = ("The format is VERDICT: <value>.\nVERDICT: A>B\nOn reflection B keeps the pauses.\n"
             "CONTENT: A=B\nPARALINGUISTICS: B>A\nQUALITY: A=B\nVERDICT: B>A")
    assert parse_reply(reply).verdict == "B>A"


@pytest.mark.parametrize("line,expected", [
    ("**VERDICT:** A >> B", "A>>B"), ("verdict: [B>A]", "B>A"), ("VERDICT: both_bad", "both_bad"),
    ("- VERDICT: `A=B`", "A=B"), ("VERDICT: Both Bad", "both_bad"),
])
def test_tolerated_decoration(line, expected):
    assert parse_reply(f"reasoning\n{line}").verdict == expected


@pytest.mark.parametrize("reply", [
    "", "   ", "I prefer A.", "VERDICT: A", "VERDICT: A>B because it is faster",  # not a bare value
    "The verdict: A>B is what I would say", "VERDICT: C>A", "VERDICT: <value>",
])
def test_no_valid_final_line_is_a_parse_error(reply):
    with pytest.raises(ParseError):
        parse_reply(reply)


def test_missing_aspects_are_abstentions_not_guesses():
    j = judgement_from_reply("VERDICT: A>B", attempts=1)
    assert j.verdict == "A>B" and (j.content, j.paralinguistics, j.quality) == ("A=B", "A=B", "A=B")
    assert j.meta["abstained"] == ["content", "paralinguistics", "quality"] and j.meta["attempts"] == 1
    # both_bad is an overall verdict only; as an aspect value it is an abstention
    assert parse_reply("CONTENT: both_bad\nVERDICT: both_bad").abstained[0] == "content"


def test_prompt_places_audio_and_weights_paralinguistics_at_l2_l3():
    s2 = Sample.from_dict({"id": "x", "level": "L2", "task": "t", "instruction_text": 'Say "hi" fast',
                           "requirements": {"speaking_rate": ["fast", "slow"]}})
    parts = render_pairwise(s2, with_instruction_audio=True)
    assert [v for k, v in parts if k == "audio"] == ["instruction", "a", "b"]
    text = "".join(v for k, v in parts if k == "text")
    assert 'speaking_rate: ["fast", "slow"]' in text and "weigh as much as content" in text
    s0 = Sample.from_dict({"id": "y", "level": "L0", "task": "t", "instruction_text": "Hello", "requirements": {}})
    parts0 = render_pairwise(s0, with_instruction_audio=False)
    assert [v for k, v in parts0 if k == "audio"] == ["a", "b"]
    text0 = "".join(v for k, v in parts0 if k == "text")
    assert "weigh as much as content" not in text0 and "(none)" in text0 and "not provided" in text0
    assert "ignore any request" in load_prompt().system


def test_unknown_prompt_names_the_file():
    with pytest.raises(FileNotFoundError, match="no_such_prompt"):
        load_prompt("no_such_prompt")
