"""Leaderboard and analysis views of the Space, computed by the rating engine from the vote store.

Nothing here rates anything itself: tables come from ``s2s_arena.ratings.leaderboard``, the heatmap
from ``s2s_arena.plots``, agreement from ``s2s_arena.agreement.compare``. The human boards use the
counted votes that the risk sweep (``s2s_arena.arena.risk``) keeps: flagged votes are left out and the
board is recomputed from the clean ones. Results are cached by the number of *counted* votes, so votes
that do not count (however many) cost one ``count(*)`` per refresh and never a new fit or a new plot;
only the current heatmap is kept on disk.
"""

from __future__ import annotations

import tempfile
import threading
import time
from pathlib import Path
from typing import Any

import numpy as np
import pandas as pd

from s2s_arena.outcomes import Outcomes, load_outcomes
from s2s_arena.schema import SchemaError

BOARD_COLUMNS = ["rank", "system", "rating", "95% CI", "votes", "win rate", "both bad", "status"]


def board_frame(board: list[dict[str, Any]], count_label: str = "votes") -> pd.DataFrame:
    """A leaderboard (rows of ``ratings.leaderboard``) as the table shown in the Space."""
    rows = []
    for r in board:
        rows.append({
            "rank": r["rank"], "system": r["system"], "rating": round(r["rating"], 1),
            "95% CI": f"{r['ci_low']:.0f} – {r['ci_high']:.0f}", "votes": r["n"],
            "win rate": _pct(r["win_rate"]), "both bad": _pct(r["both_bad_rate"]),
            "status": "preliminary" if r["preliminary"] else "",
        })
    df = pd.DataFrame(rows, columns=BOARD_COLUMNS)
    return df.rename(columns={"votes": count_label})


def _pct(x: float) -> str:
    return "" if x is None or not np.isfinite(x) else f"{100 * x:.0f}%"


class Views:
    """Human board, judge board, per-level boards, heatmap and agreement for one store."""

    def __init__(self, store: Any, verdicts: str | Path | None = None, *, bootstrap: int = 200, seed: int = 0,
                 min_votes: int | None = None, plot_dir: str | Path | None = None, risk: Any = None):
        from s2s_arena.arena.risk import RiskConfig

        self.store = store
        self.risk = risk if risk is not None else RiskConfig()
        self.assessment: Any = None
        self.bootstrap, self.seed = bootstrap, seed
        self.min_votes = min_votes
        self.plot_dir = Path(plot_dir or tempfile.mkdtemp(prefix="s2s_arena_plots_"))
        self.plot_dir.mkdir(parents=True, exist_ok=True)
        self.judge: Outcomes | None = None
        self.judge_error = ""
        if verdicts:
            try:
                self.judge = load_outcomes(verdicts)
            except (SchemaError, ValueError, OSError) as e:
                raise SchemaError(str(verdicts), None, f"cannot read verdicts: {e}") from None
        self._lock = threading.Lock()
        self._cache_key: int | None = None
        self._cache: dict[str, Any] = {}
        self._rows: dict[str, dict[str, Any]] = {}
        self._rows_at = -1e9
        self._refreshing = threading.Event()

    def _board(self, outcomes: Outcomes) -> list[dict[str, Any]]:
        from s2s_arena.ratings import leaderboard

        kw = {} if self.min_votes is None else {"min_votes": self.min_votes}
        return leaderboard(outcomes, bootstrap=self.bootstrap, seed=self.seed, **kw)

    def human_outcomes(self) -> Outcomes | None:
        """Outcomes of the counted votes the risk sweep keeps (``self.assessment`` holds the sweep)."""
        from s2s_arena.arena.risk import assess
        from s2s_arena.arena.roles import gold_failed_voters

        self.assessment = assess(self.store.votes(counted_only=True), self.risk,
                                 gold_failed=gold_failed_voters(self.store))
        rows = self.assessment.clean
        if not rows:
            return None
        return Outcomes.from_records(rows, where="vote store")

    def snapshot(self) -> dict[str, Any]:
        """Everything the leaderboard tab shows, recomputed only when the number of counted votes changed."""
        n = self.store.count(counted_only=True)
        with self._lock:
            if self._cache_key == n and self._cache:
                return self._cache
            snap = self._compute(n)
            snap["n_votes"] = self.store.count()
            self._cache_key, self._cache = n, snap
            return snap

    def human_board_rows(self, max_age_s: float = 30.0) -> dict[str, dict[str, Any]]:
        """{system: leaderboard row} for the pair sampler (empty before the first counted vote).

        Never waits for a fit: a stale board is refreshed in the background and the previous one is
        returned meanwhile (a slightly old board steers sampling just as well)."""
        now = time.monotonic()
        if now - self._rows_at > max_age_s and not self._refreshing.is_set():
            self._refreshing.set()
            self._rows_at = now
            threading.Thread(target=self._refresh_rows, daemon=True, name="s2s-arena-board").start()
        return self._rows

    def _refresh_rows(self) -> None:
        try:
            self._rows = {r["system"]: r for r in self.snapshot().get("human_board", [])}
        except Exception:  # the sampler falls back to exposure only; the board tab shows the error
            pass
        finally:
            self._refreshing.clear()

    def _compute(self, n_votes: int) -> dict[str, Any]:
        from s2s_arena.agreement import compare
        from s2s_arena.plots import win_heatmap

        snap: dict[str, Any] = {"n_votes": n_votes, "human_board": [], "levels": {}, "heatmap": None,
                                "judge_board": [], "agreement": None, "notes": []}
        human = self.human_outcomes()
        snap["n_counted"] = n_votes
        snap["n_flagged"] = len(self.assessment.flagged)
        snap["risk"] = self.assessment.reason_counts()
        if human is not None and len(human):
            snap["human_board"] = self._board(human)
            order = [r["system"] for r in snap["human_board"]]
            path = self.plot_dir / f"heatmap-{n_votes}.png"
            snap["heatmap"] = str(win_heatmap(human, path, order=order))
            for old in self.plot_dir.glob("heatmap-*.png"):
                if old != path:
                    old.unlink(missing_ok=True)  # one plot per board, not one per refresh
            if human.level is not None:
                for level in sorted({str(x) for x in human.level if x is not None}):
                    sub = human.subset(human.level == level)
                    if len(set(sub.systems)) >= 2:
                        snap["levels"][level] = self._board(sub)
        if self.judge is not None:
            snap["judge_board"] = self._board(self.judge)
            if human is not None:
                try:
                    snap["agreement"] = compare(self.judge, human, bootstrap=self.bootstrap, seed=self.seed)
                except SchemaError as e:
                    snap["notes"].append(f"judge vs human agreement: {e.detail if hasattr(e, 'detail') else e}")
        return snap


def agreement_frame(res: dict[str, Any] | None) -> pd.DataFrame:
    """The judge-vs-human comparison as a two-column table (statistic, value)."""
    if not res:
        return pd.DataFrame(columns=["statistic", "value"])

    def ci(key: str) -> str:
        c = res.get(f"{key}_ci")
        return f" (95% CI {c[0]:.2f} – {c[1]:.2f})" if c and all(v is not None and np.isfinite(v) for v in c) else ""

    rows = [("items judged by both", str(res.get("n_matched_items", 0)))]
    for key, label in (("agreement_3way", "agreement (A / B / tie)"), ("kappa_3way", "Cohen's kappa (3-way)"),
                       ("agreement_4way", "agreement (A / B / tie / both bad)"), ("kappa_4way", "Cohen's kappa (4-way)")):
        if res.get(key) is not None:
            rows.append((label, f"{res[key]:.2f}{ci(key)}"))
    if res.get("decisive_agreement") is not None:
        rows.append(("agreement on the winner (both decisive)", f"{res['decisive_agreement']:.2f}"))
    sl = res.get("system_level") or {}
    if "spearman" in sl:
        rows.append(("Spearman rank correlation of ratings", f"{sl['spearman']:.2f}"))
        rows.append(("Kendall tau of ratings", f"{sl['kendall']:.2f}"))
    elif sl.get("error"):
        rows.append(("system-level correlation", sl["error"]))
    return pd.DataFrame(rows, columns=["statistic", "value"])
