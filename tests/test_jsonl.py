"""Append-only JSONL logs survive a kill mid-write and report real corruption by file and line."""

from __future__ import annotations

import pytest

from s2s_arena.jsonl import append_jsonl, drop_torn_tail, read_jsonl
from s2s_arena.schema import SchemaError


def test_append_then_read_in_order(tmp_path):
    log = tmp_path / "sub" / "rows.jsonl"
    append_jsonl(log, [{"id": 1}, {"id": 2}])
    append_jsonl(log, [{"id": 3, "text": "héllo"}])
    assert [(i, r["id"]) for i, r in read_jsonl(log)] == [(1, 1), (2, 2), (3, 3)]
    assert list(read_jsonl(tmp_path / "missing.jsonl")) == []


def test_torn_tail_is_ignored_then_dropped_before_the_next_append(tmp_path):
    log = tmp_path / "rows.jsonl"
    append_jsonl(log, [{"id": 1}])
    with log.open("a") as f:
        f.write('{"id": 2, "te')  # killed mid-row
    assert [r["id"] for _, r in read_jsonl(log)] == [1]
    append_jsonl(log, [{"id": 3}])
    assert [r["id"] for _, r in read_jsonl(log)] == [1, 3]
    assert drop_torn_tail(log) == 0


def test_a_bad_line_before_the_end_is_corruption(tmp_path):
    log = tmp_path / "rows.jsonl"
    log.write_text('{"id": 1}\nnot json\n{"id": 3}\n')
    with pytest.raises(SchemaError, match=r"rows.jsonl:2"):
        list(read_jsonl(log))
    assert [r["id"] for _, r in read_jsonl(log, skip_bad=True)] == [1, 3]
    log.write_text('{"id": 1}\n[1, 2]\n')
    with pytest.raises(SchemaError, match="expected a JSON object"):
        list(read_jsonl(log))
