"""Leaderboard figures (matplotlib, Agg backend: no display needed): a rating chart with CI whiskers
and the A-vs-B win-fraction heatmap. Both write a PNG and return its path."""

from __future__ import annotations

from pathlib import Path
from typing import Any, Mapping, Sequence

import numpy as np


def _pyplot():
    import matplotlib

    matplotlib.use("Agg", force=True)
    import matplotlib.pyplot as plt

    return plt


def _save(fig, path: str | Path) -> Path:
    path = Path(path)
    path.parent.mkdir(parents=True, exist_ok=True)
    tmp = path.with_name(f".{path.name}.tmp.png")
    fig.savefig(tmp, dpi=130, bbox_inches="tight")
    tmp.replace(path)  # atomic: an interrupted run never leaves half a PNG
    return path


def rating_chart(board: Sequence[Mapping[str, Any]], path: str | Path, title: str = "Bradley–Terry rating") -> Path:
    """Ratings best-first with their bootstrap CI as whiskers; preliminary systems drawn hollow."""
    if not board:
        raise ValueError("rating_chart: empty leaderboard")
    plt = _pyplot()
    rows = sorted(board, key=lambda r: r["rating"])
    names = [r["system"] for r in rows]
    rating = np.array([r["rating"] for r in rows])
    low = np.array([r.get("ci_low", r["rating"]) for r in rows])
    high = np.array([r.get("ci_high", r["rating"]) for r in rows])
    fig, ax = plt.subplots(figsize=(7, 0.45 * len(rows) + 1.4))
    y = np.arange(len(rows))
    ax.errorbar(rating, y, xerr=[rating - low, high - rating], fmt="none", ecolor="#444", capsize=4, lw=1.4)
    prelim = np.array([bool(r.get("preliminary")) for r in rows])
    ax.scatter(rating[~prelim], y[~prelim], color="#1f77b4", zorder=3, s=40)
    ax.scatter(rating[prelim], y[prelim], facecolors="white", edgecolors="#1f77b4", zorder=3, s=40,
               label="preliminary (few votes)")
    for yi, r in zip(y, rows):
        ax.annotate(f"{r['rating']:.0f}", (r["rating"], yi), textcoords="offset points", xytext=(0, 7),
                    ha="center", fontsize=8)
    ax.set_yticks(y, [f"{n}  (#{r.get('rank', '?')})" for n, r in zip(names, rows)])
    ax.axvline(1000, color="#bbb", lw=0.8, ls="--")
    ax.set_xlabel("rating (1000 + 400·log10 strength), 95% bootstrap CI")
    ax.set_title(title)
    if prelim.any():
        ax.legend(loc="lower right", fontsize=8)
    ax.grid(axis="x", alpha=0.3)
    out = _save(fig, path)
    plt.close(fig)
    return out


def win_heatmap(outcomes_or_matrix: Any, path: str | Path, order: Sequence[str] | None = None,
                title: str = "Win fraction of row system vs column system") -> Path:
    """Win fraction (wins + ties/2) / comparisons of the row system against the column system, with the
    number of comparisons in each cell; ``order`` (e.g. the leaderboard's) orders rows and columns."""
    from .ratings import WinMatrix, win_matrix

    m = outcomes_or_matrix if isinstance(outcomes_or_matrix, WinMatrix) else win_matrix(outcomes_or_matrix)
    idx = [m.systems.index(s) for s in order] if order else list(range(len(m.systems)))
    frac = m.fraction[np.ix_(idx, idx)]
    n = m.n[np.ix_(idx, idx)]
    names = [m.systems[i] for i in idx]
    plt = _pyplot()
    size = 0.75 * len(names) + 2.2
    fig, ax = plt.subplots(figsize=(size + 1.2, size))
    im = ax.imshow(np.ma.masked_invalid(frac), cmap="RdBu", vmin=0, vmax=1)
    for i in range(len(names)):
        for j in range(len(names)):
            if n[i, j] > 0:
                ax.text(j, i, f"{frac[i, j]:.2f}\nn={int(n[i, j])}", ha="center", va="center", fontsize=7,
                        color="white" if abs(frac[i, j] - 0.5) > 0.3 else "black")
    ax.set_xticks(range(len(names)), names, rotation=45, ha="right")
    ax.set_yticks(range(len(names)), names)
    ax.set_xlabel("system B")
    ax.set_ylabel("system A")
    ax.set_title(title, fontsize=10)
    fig.colorbar(im, ax=ax, fraction=0.046, pad=0.04, label="win fraction of A (ties count half)")
    out = _save(fig, path)
    plt.close(fig)
    return out
