"""Importers: our votes (JSONL, CSV, SQLite vote store), our judge verdicts, the S2S-Arena v1 labels;
format detection, dimension selection and clear errors on bad records."""

from __future__ import annotations

import csv
import json
import sqlite3

import numpy as np
import pytest

from s2s_arena.outcomes import Outcomes, load_many, load_outcomes, load_system_metadata
from s2s_arena.schema import SchemaError, Verdict, Vote

VOTES = [
    Vote(vote_id="v1", session="s1", sample_id="x1", system_a="alpha", system_b="beta", winner="a", p_pair=0.5),
    Vote(vote_id="v2", session="s1", sample_id="x2", system_a="beta", system_b="gamma", winner="tie"),
    Vote(vote_id="v3", session="s2", sample_id="x1", system_a="gamma", system_b="alpha", winner="both_bad"),
    Vote(vote_id="v4", session="s2", sample_id="x3", system_a="alpha", system_b="gamma", winner="b"),
    Vote(vote_id="v5", session="s3", sample_id="x3", system_a="alpha", system_b="beta", winner="a",
         counted=False, exclusion_reason="did not listen"),
]


def write_jsonl(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows))
    return path


def check_votes(o: Outcomes):
    assert len(o) == 4 and o.n_excluded == 1
    assert o.score_a.tolist() == [1.0, 0.5, 0.5, 0.0]
    assert o.is_tie.tolist() == [False, True, True, False]
    assert o.both_bad.tolist() == [False, False, True, False]
    assert o.weight.tolist() == [2.0, 1.0, 1.0, 1.0]
    assert o.systems == ["alpha", "beta", "gamma"]
    assert o.winner().tolist() == ["a", "tie", "both_bad", "b"]


def test_votes_jsonl_csv_sqlite(tmp_path):
    rows = [v.to_dict() for v in VOTES]
    check_votes(load_outcomes(write_jsonl(tmp_path / "votes.jsonl", rows)))
    with open(tmp_path / "votes.csv", "w", newline="") as f:
        w = csv.DictWriter(f, fieldnames=list(rows[0]))
        w.writeheader()
        w.writerows({k: ("" if v is None else v) for k, v in r.items()} for r in rows)
    check_votes(load_outcomes(tmp_path / "votes.csv", fmt="votes"))
    db = tmp_path / "votes.sqlite"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE sessions (id TEXT)")
    con.execute("CREATE TABLE votes (vote_id TEXT, session TEXT, sample_id TEXT, system_a TEXT, system_b TEXT, "
                "winner TEXT, p_pair REAL, counted INTEGER, exclusion_reason TEXT)")
    con.executemany("INSERT INTO votes VALUES (?,?,?,?,?,?,?,?,?)",
                    [(r["vote_id"], r["session"], r["sample_id"], r["system_a"], r["system_b"], r["winner"],
                      r["p_pair"], int(r["counted"]), r["exclusion_reason"]) for r in rows])
    con.commit()
    con.close()
    o = load_outcomes(db)
    check_votes(o)
    assert o.annotator.tolist() == ["s1", "s1", "s2", "s2"]
    assert load_outcomes(db, weights=False).weight.tolist() == [1.0] * 4


def test_verdicts_resolve_both_orders_per_dimension_and_count_invalid(tmp_path):
    vs = [Verdict("x1", "alpha", "beta", "A>>B", content="A=B", paralinguistics="B>A", quality="both_bad"),
          Verdict("x1", "beta", "alpha", "B>A", order="ba", content="A>B", paralinguistics="A>B"),  # beta shown 1st
          Verdict("x2", "alpha", "gamma", "invalid", reason="judge error: TimeoutError: read timed out"),
          Verdict("x2", "gamma", "alpha", "both_bad", order="ba", quality="A>B"),
          Verdict("x3", "gamma", "beta", "both_bad", level="L2", seed_id="seed-3")]  # one order only
    path = write_jsonl(tmp_path / "verdicts.jsonl", [v.to_dict() for v in vs])
    o = load_outcomes(path)
    # one outcome per judged pair: x1 (both orders agree alpha wins), x3; x2 has an invalid order
    assert len(o) == 2 and o.n_invalid == 1 and o.invalid_kinds == {"judge error (TimeoutError)": 1}
    assert o.system_a.tolist() == ["alpha", "gamma"] and o.score_a.tolist() == [1.0, 0.5]
    assert o.both_bad.tolist() == [False, True]
    assert o.consistent[0] == 1.0 and np.isnan(o.consistent[1])
    assert o.decisive.tolist() == [2, 0] and o.first_won.tolist() == [1, 0]
    assert o.cluster.tolist() == ["x1", "seed-3"] and o.level.tolist() == [None, "L2"]
    para = load_outcomes(path, dimension="paralinguistics")
    assert para.score_a.tolist() == [0.0, 0.5] and para.n_invalid == 1
    # quality: both_bad in one order, a tie in the other: they disagree, so the pair is an inconsistent tie
    vq = load_outcomes(path, dimension="voice_quality")
    assert vq.score_a.tolist()[0] == 0.5 and not vq.both_bad[0] and vq.consistent[0] == 0.0
    with pytest.raises(SchemaError, match="record 0: field 'dimension'"):
        load_outcomes(write_jsonl(tmp_path / "v.jsonl", [VOTES[0].to_dict()]), dimension="content")


def test_disagreeing_orders_are_one_tie_not_two_outcomes(tmp_path):
    # the case: X >> Y in one order, a tie in the other, on 40 pairs
    rows = []
    for i in range(40):
        rows += [Verdict(f"s{i}", "X", "Y", "A>>B", judge="j").to_dict(),
                 Verdict(f"s{i}", "Y", "X", "A=B", order="ba", judge="j").to_dict()]
    o = load_outcomes(write_jsonl(tmp_path / "v.jsonl", rows))
    assert len(o) == 40 and o.is_tie.all() and (o.consistent == 0).all()


def test_rows_of_two_judge_configurations_never_resolve_together(tmp_path):
    rows = [Verdict("s", "X", "Y", "A>B", judge="j", prompt_hash="h1").to_dict(),
            Verdict("s", "Y", "X", "A>B", order="ba", judge="j", prompt_hash="h2").to_dict()]
    o = load_outcomes(write_jsonl(tmp_path / "v.jsonl", rows))
    assert len(o) == 2 and o.score_a.tolist() == [1.0, 1.0] and np.isnan(o.consistent).all()


def test_real_v1_labels(v1_labels_path):
    o = load_outcomes(v1_labels_path)
    raw = json.loads(v1_labels_path.read_text())
    assert len(o) == len(raw) == 314
    assert o.systems == sorted({r["model_a"] for r in raw} | {r["model_b"] for r in raw})
    labels = [r["label"]["overall"] for r in raw]
    assert int(o.both_bad.sum()) == labels.count("both_bad")
    assert int((o.score_a == 1).sum()) == labels.count("1") and int((o.score_a == 0).sum()) == labels.count("2")
    assert int(o.is_tie.sum()) == labels.count("both_bad") + labels.count("both_good")
    assert o.sample_id[0] == raw[0]["instruction_id"] and o.task[0] == raw[0]["instruction_path"].split("/")[1]
    content = load_outcomes(v1_labels_path, fmt="s2s-arena-v1", dimension="content")
    assert int((content.score_a == 1).sum()) == [r["label"]["content"] for r in raw].count("1")
    with pytest.raises(SchemaError, match="look like 's2s-arena-v1'"):
        load_outcomes(v1_labels_path, fmt="votes")


def test_many_files_concatenate(tmp_path):
    a = write_jsonl(tmp_path / "a.jsonl", [v.to_dict() for v in VOTES[:2]])
    b = write_jsonl(tmp_path / "b.jsonl", [Verdict("x9", "alpha", "delta", "A>B", judge="j").to_dict()])
    o = load_many([a, b])
    assert len(o) == 3 and o.systems == ["alpha", "beta", "delta", "gamma"]
    assert str(a) in o.source and str(b) in o.source


@pytest.mark.parametrize("row, field, what", [
    ({"sample_id": "1", "system_a": "", "system_b": "b", "winner": "a"}, "system_a", "empty system name"),
    ({"sample_id": "1", "system_a": "a", "system_b": None, "winner": "a"}, "system_b", "empty system name"),
    ({"sample_id": "1", "system_a": "a", "system_b": "a", "winner": "a"}, "system_b", "paired with itself"),
    ({"sample_id": "1", "system_a": "a", "system_b": "b", "winner": "left"}, "winner", "unknown outcome"),
    ({"sample_id": "1", "system_a": "a", "system_b": "b", "verdict": "A>>>B"}, "verdict", "unknown verdict"),
    ({"sample_id": "1", "system_a": "a", "system_b": "b", "winner": "a", "p_pair": 0}, "p_pair", "probability"),
    ({"sample_id": "1", "system_a": "a", "system_b": "b", "score_a": 0.7}, "score_a", "1, 0.5 or 0"),
    ({"sample_id": "1", "system_a": "a", "system_b": "b"}, "winner", "no outcome"),
])
def test_bad_records_name_file_record_and_field(tmp_path, row, field, what):
    good = {"sample_id": "0", "system_a": "a", "system_b": "b", "winner": "a"}
    path = tmp_path / "bad.jsonl"
    write_jsonl(path, [good, row] if "winner" in row or "verdict" not in row else [dict(good, verdict="A>B"), row])
    with pytest.raises(SchemaError) as e:
        load_outcomes(path)
    msg = str(e.value)
    assert f"{path}: record 1: field '{field}'" in msg and what in msg


def test_empty_and_malformed_files(tmp_path):
    (tmp_path / "empty.jsonl").write_text("")
    with pytest.raises(SchemaError, match="empty"):
        load_outcomes(tmp_path / "empty.jsonl")
    (tmp_path / "list.json").write_text("[]")
    with pytest.raises(SchemaError, match="no records"):
        load_outcomes(tmp_path / "list.json")
    (tmp_path / "broken.jsonl").write_text('{"system_a": "a", "system_b": "b", "winner": "a"}\n{oops\n')
    with pytest.raises(SchemaError, match="broken.jsonl: line 2"):
        load_outcomes(tmp_path / "broken.jsonl")
    with pytest.raises(FileNotFoundError):
        load_outcomes(tmp_path / "missing.jsonl")
    with pytest.raises(SchemaError, match="unknown dimension"):
        load_outcomes(tmp_path / "broken.jsonl", dimension="prosody")
    only_invalid = write_jsonl(tmp_path / "inv.jsonl", [Verdict("x", "a", "b", "invalid").to_dict()])
    with pytest.raises(SchemaError, match="no usable outcomes"):
        load_outcomes(only_invalid)


def test_identical_pairs_set_aside_only_when_asked(tmp_path):
    rows = [{"sample_id": "1", "system_a": "a", "system_b": "a", "verdict": "A=B"},
            {"sample_id": "2", "system_a": "a", "system_b": "a", "verdict": "A>B"},
            {"sample_id": "3", "system_a": "a", "system_b": "b", "verdict": "A>B"}]
    o = Outcomes.from_records(rows, "calib", allow_self=True)
    assert len(o) == 1 and o.self_pairs.tolist() == [0.5, 1.0]
    with pytest.raises(SchemaError, match="paired with itself"):
        Outcomes.from_records(rows, "calib")


def test_style_differences_and_subset():
    rows = [{"sample_id": "1", "system_a": "a", "system_b": "b", "winner": "a", "duration_a": 3.0, "duration_b": 1.0},
            {"sample_id": "2", "system_a": "b", "system_b": "a", "winner": "b"}]
    o = Outcomes.from_records(rows)
    assert o.style["duration"][0] == 2.0 and np.isnan(o.style["duration"][1])
    sub = o.subset(np.array([False, True]))
    assert len(sub) == 1 and sub.system_a.tolist() == ["b"]
    assert list(o.to_frame().columns[:4]) == ["sample_id", "system_a", "system_b", "score_a"]


def test_system_metadata(tmp_path):
    for name, kind in (("alpha", "industrial"), ("beta", "academic")):
        (tmp_path / name).mkdir()
        (tmp_path / name / "system.json").write_text(json.dumps({"name": name, "kind": kind, "architecture": "cascade"}))
    meta = load_system_metadata(tmp_path)
    assert meta["alpha"]["kind"] == "industrial" and meta["beta"]["architecture"] == "cascade"
    (tmp_path / "gamma").mkdir()
    (tmp_path / "gamma" / "system.json").write_text(json.dumps({"name": "gamma", "kind": "startup"}))
    with pytest.raises(SchemaError, match="gamma/system.json: field 'kind'"):
        load_system_metadata(tmp_path)


def test_sqlite_vote_store_joins_what_was_shown(tmp_path):
    # the Space keeps level / task / durations per battle and the vote refers to its battle
    db = tmp_path / "votes.db"
    con = sqlite3.connect(db)
    con.execute("CREATE TABLE battles (token TEXT PRIMARY KEY, sample_id TEXT, level TEXT, domain TEXT, task TEXT, "
                "system_a TEXT, system_b TEXT, p_pair REAL, duration_a REAL, duration_b REAL)")
    con.execute("CREATE TABLE votes (seq INTEGER PRIMARY KEY, vote_id TEXT, battle_token TEXT, session TEXT, "
                "sample_id TEXT, system_a TEXT, system_b TEXT, p_pair REAL, winner TEXT, counted BOOLEAN)")
    con.executemany("INSERT INTO battles VALUES (?,?,?,?,?,?,?,?,?,?)",
                    [("t1", "x1", "L2", "entertainment", "tongue_twister", "alpha", "beta", 0.25, 3.5, 2.0),
                     ("t2", "x2", "L0", "health", "advice", "beta", "alpha", 0.5, None, None)])
    con.executemany("INSERT INTO votes (vote_id, battle_token, session, sample_id, system_a, system_b, p_pair, "
                    "winner, counted) VALUES (?,?,?,?,?,?,?,?,?)",
                    [("v1", "t1", "s", "x1", "alpha", "beta", 0.25, "a", 1),
                     ("v2", "t2", "s", "x2", "beta", "alpha", 0.5, "tie", 1)])
    con.commit()
    con.close()
    o = load_outcomes(db)
    assert o.level.tolist() == ["L2", "L0"] and o.task.tolist() == ["tongue_twister", "advice"]
    assert o.weight.tolist() == [4.0, 2.0]
    assert o.style["duration"][0] == pytest.approx(1.5) and np.isnan(o.style["duration"][1])
