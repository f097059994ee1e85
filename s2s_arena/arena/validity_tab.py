"""The Space's agreement tab: the validity report of the votes stored so far, recomputed when the
number of stored votes changes (gold votes are stored uncounted, so all votes are the key)."""

from __future__ import annotations

import threading
from typing import Any


class ValidityView:
    def __init__(self, arena: Any, judge: Any = None, *, bootstrap: int = 200, seed: int = 0):
        self.arena, self.judge = arena, judge
        self.bootstrap, self.seed = bootstrap, seed
        self._lock = threading.Lock()
        self._key: int | None = None
        self._md = ""
        self._report: dict[str, Any] | None = None

    def report(self) -> dict[str, Any] | None:
        self.markdown()
        return self._report

    def markdown(self) -> str:
        from s2s_arena import validity
        from s2s_arena.schema import SchemaError

        from .roles import vote_rows

        store = self.arena.store
        n = store.count()
        with self._lock:
            if self._key == n and self._md:
                return self._md
            rows = vote_rows(store)
            if not rows:
                md, rep = "No votes yet: the validity report appears with the first votes.", None
            else:
                attrs = {sid: validity.requirement_attribute(s) for sid, s in self.arena.samples.items()}
                judge = None
                if self.judge is not None:
                    judge = self.judge.subset(self.judge.score_a == self.judge.score_a)  # a copy: covariates get added
                try:
                    rep = validity.validity_report(rows, judge=judge, attributes=attrs, bootstrap=self.bootstrap,
                                                   seed=self.seed, source="vote store")
                    # Voter keys stay private: the tab shows counts, not who was flagged.
                    rep["gold"]["flagged"] = []
                    rep["gold"]["voters"] = {}
                    md = validity.markdown(rep)
                except SchemaError as e:
                    md, rep = f"The validity report cannot be computed yet: {getattr(e, 'detail', e)}", None
            self._key, self._md, self._report = n, md, rep
            return md
